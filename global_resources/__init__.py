"""What is inherently cross-region, linking the regional stacks the factory built."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from core import routing
from core.config import StackConfig
from core.providers import Providers
from global_resources.aurora import AuroraGlobalDatabase, AuroraGlobalDatabaseArgs
from global_resources.canary import RegionCanary, RegionCanaryArgs
from global_resources.dr_iam import DrIam, DrIamArgs
from global_resources.dynamodb import GlobalTables, GlobalTablesArgs
from global_resources.failover import Failover, FailoverArgs
from global_resources.health_alarms import HealthAlarms, HealthAlarmsArgs
from global_resources.ledger import LedgerLinks, LedgerLinksArgs, replica_stream_arn
from global_resources.link_monitoring import LinkMonitoring
from global_resources.peering import VpcPeering, peer_all
from global_resources.s3_replication import BucketReplication, BucketReplicationArgs
from global_resources.secrets import ReplicatedSecrets, ReplicatedSecretsArgs
from global_resources.switchover import PlannedSwitchover, PlannedSwitchoverArgs
from region_factory import SharedInputs
from region_factory.monitoring import MonitoringArgs
from region_factory.outputs import RegionalOutputs


@dataclass(frozen=True, kw_only=True)
class GlobalResourcesArgs:
    cfg: StackConfig
    providers: Providers
    regions: Sequence[RegionalOutputs]  # what each region published (region_factory/outputs.py)
    shared: SharedInputs


class GlobalResources(pulumi.ComponentResource):
    """The links between the regions. Like the regional stack, it is the one place that wires its components:
    each takes a frozen args record (``<Component>Args``) of the regions' published records and of its siblings'
    ids, endpoints and ARNs, never a sibling itself."""

    def __init__(self, name: str, args: GlobalResourcesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:GlobalResources", name, None, opts)
        cfg, providers, shared = args.cfg, args.providers, args.shared
        self.peerings: list[VpcPeering] = peer_all(cfg, list(args.regions), self)
        # --- data tier (secrets, Aurora global database, DynamoDB global tables, S3 replication) ---
        by_region = {stack.region: stack for stack in args.regions}
        self.secrets = ReplicatedSecrets("secrets", ReplicatedSecretsArgs(cfg=cfg, regions=by_region), self._child())
        self.aurora = AuroraGlobalDatabase(
            "aurora",
            AuroraGlobalDatabaseArgs(
                cfg=cfg, providers=providers, regions=by_region, master_password=self.secrets.db_password.result
            ),
            self._child(),
        )
        database = self.aurora.outputs
        self.tables = GlobalTables("dynamodb", GlobalTablesArgs(cfg=cfg, regions=by_region), self._child())
        self.replication = BucketReplication("s3-replication", BucketReplicationArgs(regions=by_region), self._child())
        # --- the ledger: each region's poster on its replica's stream, the migrations run by `pulumi up` ---
        self.ledger = LedgerLinks(
            "ledger",
            LedgerLinksArgs(
                cfg=cfg,
                regions=by_region,
                aurora=database,
                transactions_stream_arns={
                    region: replica_stream_arn(cfg, self.tables.transactions, region) for region in cfg.region_names
                },
                db_master_secret_arn=self.secrets.db_master.arn,
                ready_peerings=tuple(self.peerings),
            ),
            self._child(),
        )
        # --- failover (Route 53 health checks and records, DR IAM roles) ---
        self.switchover = PlannedSwitchover(
            "planned-switchover",
            PlannedSwitchoverArgs(cfg=cfg, ready_database=(database.ready_global_cluster, *database.ready_members)),
            self._child(),
        )
        self.failover = Failover(
            "failover",
            FailoverArgs(
                cfg=cfg,
                providers=providers,
                regions=by_region,
                shared=shared,
                cluster_endpoints={region: cluster.endpoint for region, cluster in database.clusters.items()},
                ready_switchover=(self.switchover.command,),
            ),
            self._child(),
        )
        health_check_ids = {key: check.id for key, check in self.failover.health_checks.items()}
        self.dr_iam = DrIam(
            "dr-iam",
            DrIamArgs(
                cfg=cfg,
                providers=providers,
                regions=by_region,
                shared=shared,
                health_check_ids=health_check_ids,
                cluster_resource_ids={region: cluster.resource_id for region, cluster in database.clusters.items()},
            ),
            self._child(),
        )
        # --- global alerting (Route 53 health-check alarms in us-east-1) ---
        self.health_alarms = HealthAlarms(
            "health-alarms",
            HealthAlarmsArgs(cfg=cfg, providers=providers, shared=shared, health_check_ids=health_check_ids),
            self._child(),
        )
        # Each region's replication-link alarms and dashboard, in that region: they name the other regions.
        self.monitoring = {
            region: LinkMonitoring(
                stack.context.logical("link-monitoring"),
                MonitoringArgs(context=stack.context, topic_arn=stack.failover_topic_arn),
                stack.context.component_opts(self),
            )
            for region, stack in by_region.items()
        }
        # --- eyes in every region: a canary on every region's /health and the public name (global_resources/canary.py) ---
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

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)


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
    return GlobalResources(
        "global", GlobalResourcesArgs(cfg=cfg, providers=providers, regions=tuple(regions), shared=shared)
    )
