"""What is inherently cross-region, linking the regional stacks the factory built."""

from __future__ import annotations

import pulumi

from core.config import StackConfig
from core.providers import Providers
from global_resources.peering import VpcPeering, peer_all
from region_factory import RegionalStack, SharedInputs


class GlobalResources(pulumi.ComponentResource):
    def __init__(self, cfg: StackConfig, providers: Providers, regions: list[RegionalStack], shared: SharedInputs):
        super().__init__("payment-dr:global:GlobalResources", "global")
        self.peerings: list[VpcPeering] = peer_all(cfg, regions, self)
        # --- data tier (secrets, Aurora global database, DynamoDB global tables, S3 replication) ---
        # --- failover (Route 53 health checks and records, DR IAM roles) ---
        # --- global alerting (Route 53 health-check alarms in us-east-1) ---
        self.register_outputs({})


def link_regions(cfg: StackConfig, providers: Providers, regions: list[RegionalStack], shared: SharedInputs) -> GlobalResources:
    return GlobalResources(cfg, providers, regions, shared)
