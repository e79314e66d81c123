"""The region factory: one function, called once per region, builds an identical regional stack.

The DR role (primary or secondary) changes tags and which side of each cross-region link a
region is on, never which resources a region gets or their inputs; ``global_resources``
links the regions.
"""

from __future__ import annotations

import pulumi

from core.config import RegionSpec, StackConfig
from core.providers import Providers
from region_factory.alerting import Alerts
from region_factory.context import RegionContext, SharedInputs
from region_factory.database import DatabaseAccess
from region_factory.keys import RegionalKey
from region_factory.ledger import LedgerPoster
from region_factory.monitoring import RegionalMonitoring
from region_factory.network import Network
from region_factory.probe import DatabaseProbe
from region_factory.service import PaymentService
from region_factory.storage import RegionalStorage


class RegionalStack(pulumi.ComponentResource):
    def __init__(self, ctx: RegionContext):
        super().__init__("payment-dr:region:RegionalStack", f"region-{ctx.region}")
        self.ctx = ctx
        self.keys = RegionalKey(ctx, self)
        self.network = Network(ctx, self.keys.key, self)
        # --- data tier (buckets, database access) ---
        # Database first: it asks AWS whether auroraEngineVersion can be created, before any data resource.
        self.database = DatabaseAccess(ctx, self.network, self)
        self.storage = RegionalStorage(ctx, self.keys.key, self)
        self.alerts = Alerts(ctx, self.keys.key, self)
        # --- payment service (Lambda, API Gateway, custom domain) ---
        self.service = PaymentService(ctx, self.network, self.keys.key, self.storage, self)
        # --- database probe ---
        self.probe = DatabaseProbe(ctx, self.network, self.database, self.keys.key, self.alerts.topic, self)
        # --- ledger poster (its stream mapping and cross-region grants: global_resources/ledger.py) ---
        self.ledger = LedgerPoster(ctx, self.network, self.database, self.keys.key, self)
        # --- dashboards and alarms ---
        # Alarms on this region's own resources. The dashboard and the replication-link alarms name other
        # regions: global_resources declares them with the links (region_factory/monitoring.py).
        self.monitoring = RegionalMonitoring(ctx, self.alerts.topic, self)
        self.register_outputs({"region": ctx.region, "vpcId": self.network.vpc.id})

    @property
    def region(self) -> str:
        return self.ctx.region


def build_region(cfg: StackConfig, spec: RegionSpec, providers: Providers, shared: SharedInputs) -> RegionalStack:
    return RegionalStack(RegionContext(cfg, spec, providers.for_region(spec.name), shared))
