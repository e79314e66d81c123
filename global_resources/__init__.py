"""What is inherently cross-region, linking the regional stacks the factory built."""

from __future__ import annotations

import pulumi

from core import routing
from core.config import StackConfig
from core.providers import Providers
from global_resources.aurora import AuroraGlobalDatabase
from global_resources.dr_iam import DrIam
from global_resources.dynamodb import GlobalTables
from global_resources.failover import Failover
from global_resources.health_alarms import HealthAlarms
from global_resources.ledger import LedgerLinks
from global_resources.peering import VpcPeering, peer_all
from global_resources.s3_replication import BucketReplication
from global_resources.secrets import ReplicatedSecrets
from global_resources.switchover import PlannedSwitchover
from region_factory import SharedInputs
from region_factory.canary import RegionCanary, RegionCanaryArgs
from region_factory.monitoring import LinkMonitoring, MonitoringArgs
from region_factory.outputs import RegionalOutputs


class GlobalResources(pulumi.ComponentResource):
    def __init__(self, cfg: StackConfig, providers: Providers, regions: list[RegionalOutputs], shared: SharedInputs):
        super().__init__("payment-dr:global:GlobalResources", "global")
        self.peerings: list[VpcPeering] = peer_all(cfg, regions, self)
        # --- data tier (secrets, Aurora global database, DynamoDB global tables, S3 replication) ---
        by_region = {stack.region: stack for stack in regions}
        self.secrets = ReplicatedSecrets(cfg, by_region, self)
        self.aurora = AuroraGlobalDatabase(cfg, providers, by_region, self.secrets, self)
        self.tables = GlobalTables(cfg, by_region, self)
        self.replication = BucketReplication(cfg, by_region, self)
        # --- the ledger: each region's poster on its replica's stream, the migrations run by `pulumi up` ---
        self.ledger = LedgerLinks(cfg, by_region, self.aurora, self.tables, self.secrets, self.peerings, self)
        # --- failover (Route 53 health checks and records, DR IAM roles) ---
        self.switchover = PlannedSwitchover(cfg, self.aurora, self)
        self.failover = Failover(cfg, providers, by_region, self.aurora, shared, self, after=[self.switchover.command])
        self.dr_iam = DrIam(cfg, providers, by_region, self.failover, self.aurora, shared, self)
        # --- global alerting (Route 53 health-check alarms in us-east-1) ---
        self.health_alarms = HealthAlarms(cfg, providers, by_region, self.failover.health_checks, shared, self)
        # Each region's replication-link alarms and dashboard, in that region: they name the other regions.
        self.monitoring = {
            region: LinkMonitoring(
                stack.context.logical("link-monitoring"),
                MonitoringArgs(context=stack.context, topic_arn=stack.failover_topic_arn),
                stack.context.component_opts(self),
            )
            for region, stack in by_region.items()
        }
        # --- eyes in every region: a canary on every region's /health and the public name (region_factory/canary.py) ---
        urls = canary_targets(cfg, by_region)
        # ... and on every other region's CloudWatch: one DescribeAlarms on its probe alarm a round.
        probe_alarms = {region: stack.probe_alarm_name for region, stack in by_region.items()}
        self.canaries = {
            region: RegionCanary(
                stack.context.logical("canary"),
                RegionCanaryArgs(
                    context=stack.context,
                    urls=urls,
                    cloudwatch_alarms=probe_alarms,
                    kms_key_arn=stack.kms_key_arn,
                    topic_arn=stack.failover_topic_arn,
                ),
                stack.context.component_opts(self),
            )
            for region, stack in by_region.items()
        }
        self.register_outputs({})


def canary_targets(cfg: StackConfig, regions: dict[str, RegionalOutputs]) -> dict[str, pulumi.Input[str]]:
    """Each region's /health on its own execute-api host and stage path (as its `api` check), and the public name's."""
    urls: dict[str, pulumi.Input[str]] = {
        region: pulumi.Output.concat("https://", stack.health_check_fqdn, stack.health_check_path)
        for region, stack in regions.items()
    }
    urls[routing.PUBLIC_TARGET] = f"https://{cfg.domain_name}/health"
    return urls


def link_regions(
    cfg: StackConfig, providers: Providers, regions: list[RegionalOutputs], shared: SharedInputs
) -> GlobalResources:
    return GlobalResources(cfg, providers, regions, shared)
