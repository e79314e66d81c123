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
from region_factory.keys import RegionalKey
from region_factory.network import Network


class RegionalStack(pulumi.ComponentResource):
    def __init__(self, ctx: RegionContext):
        super().__init__("payment-dr:region:RegionalStack", f"region-{ctx.region}")
        self.ctx = ctx
        self.network = Network(ctx, self)
        self.keys = RegionalKey(ctx, self)
        # --- data tier (buckets, database access) ---
        self.alerts = Alerts(ctx, self.keys.key, self)
        # --- payment service (Lambda, API Gateway, custom domain) ---
        # --- database probe ---
        # --- dashboards and alarms ---
        self.register_outputs({"region": ctx.region, "vpcId": self.network.vpc.id})

    @property
    def region(self) -> str:
        return self.ctx.region


def build_region(cfg: StackConfig, spec: RegionSpec, providers: Providers, shared: SharedInputs) -> RegionalStack:
    return RegionalStack(RegionContext(cfg, spec, providers.for_region(spec.name), shared))
