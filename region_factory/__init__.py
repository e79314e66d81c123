"""The region factory: one function, called once per region, builds an identical regional stack.

The DR role (primary or secondary) changes tags and which side of each cross-region link a
region is on, never which resources a region gets or their inputs; ``global_resources``
links the regions.
"""

from __future__ import annotations

import pulumi

from core.config import RegionSpec, StackConfig
from core.providers import Providers
from region_factory.context import RegionContext
from region_factory.network import Network


class RegionalStack(pulumi.ComponentResource):
    def __init__(self, ctx: RegionContext):
        super().__init__("payment-dr:region:RegionalStack", f"region-{ctx.region}")
        self.ctx = ctx
        self.network = Network(ctx, self)
        # --- data tier (keys, buckets, database access) ---
        # --- alerting (SNS topic) ---
        # --- payment service (Lambda, API Gateway, custom domain) ---
        # --- database probe ---
        # --- dashboards and alarms ---
        self.register_outputs({"region": ctx.region, "vpcId": self.network.vpc.id})

    @property
    def region(self) -> str:
        return self.ctx.region


def build_region(cfg: StackConfig, spec: RegionSpec, providers: Providers, account_id: str) -> RegionalStack:
    return RegionalStack(RegionContext(cfg, spec, providers.for_region(spec.name), account_id))
