"""The region factory: one function, called once per region, builds an identical regional stack.

The DR role (primary or secondary) changes tags and which side of each cross-region link a
region is on, never which resources a region gets or their inputs; ``global_resources``
links the regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from core.config import RegionSpec, StackConfig
from core.providers import Providers
from region_factory.alerting import Alerts, AlertsArgs
from region_factory.context import RegionContext, SharedInputs
from region_factory.database import DatabaseAccess, DatabaseAccessArgs
from region_factory.keys import RegionalKey, RegionalKeyArgs
from region_factory.ledger import LedgerPoster, LedgerPosterArgs
from region_factory.monitoring import MonitoringArgs, RegionalMonitoring
from region_factory.network import Network, NetworkArgs
from region_factory.outputs import RegionalOutputs
from region_factory.probe import DatabaseProbe, DatabaseProbeArgs
from region_factory.service import PaymentService, PaymentServiceArgs
from region_factory.storage import AUDIT, RECEIPTS, RegionalStorage, RegionalStorageArgs


@dataclass(frozen=True, kw_only=True)
class RegionalStackArgs:
    context: RegionContext


class RegionalStack(pulumi.ComponentResource):
    """One region's stack. Its components are siblings that never see each other: each takes a frozen args
    record of ids and ARNs (its module's ``<Component>Args``), filled here from the others' attributes, and
    inherits this stack's provider (``build_region`` declares it once)."""

    def __init__(self, name: str, args: RegionalStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:RegionalStack", name, None, opts)
        ctx = self.ctx = args.context
        self.keys = RegionalKey(ctx.logical("key"), RegionalKeyArgs(context=ctx), self._child())
        key_arn = self.keys.key.arn
        self.network = Network(ctx.logical("network"), NetworkArgs(context=ctx, kms_key_arn=key_arn), self._child())
        vpc = {"vpc_id": self.network.vpc.id, "private_subnet_ids": tuple(self.network.private_subnet_ids)}
        # --- data tier (buckets, database access) ---
        # Database first: it asks AWS whether auroraEngineVersion can be created, before any data resource.
        self.database = DatabaseAccess(ctx.logical("database"), DatabaseAccessArgs(context=ctx, **vpc), self._child())
        self.storage = RegionalStorage(
            ctx.logical("storage"), RegionalStorageArgs(context=ctx, kms_key_arn=key_arn), self._child()
        )
        self.alerts = Alerts(ctx.logical("alerts"), AlertsArgs(context=ctx, kms_key_arn=key_arn), self._child())
        topic_arn = self.alerts.topic.arn
        # --- payment service (Lambda, API Gateway, custom domain) ---
        self.service = PaymentService(
            ctx.logical("payment-service"),
            PaymentServiceArgs(
                context=ctx,
                **vpc,
                kms_key_arn=key_arn,
                receipts_bucket=self.storage.ref(RECEIPTS),
                audit_bucket=self.storage.ref(AUDIT),
            ),
            self._child(),
        )
        # --- database probe ---
        self.probe = DatabaseProbe(
            ctx.logical("db-probe"),
            DatabaseProbeArgs(context=ctx, **vpc, kms_key_arn=key_arn, topic_arn=topic_arn),
            self._child(),
        )
        # --- ledger poster (its stream mapping and cross-region grants: global_resources/ledger.py) ---
        self.ledger = LedgerPoster(
            ctx.logical("ledger"), LedgerPosterArgs(context=ctx, **vpc, kms_key_arn=key_arn), self._child()
        )
        # The region's own database clients reach PostgreSQL (the peers' rules: global_resources/aurora.py).
        self.database.allow_postgres_from("db-probe", self.probe.security_group.id)
        self.database.allow_postgres_from("ledger-poster", self.ledger.security_group.id)
        # --- dashboards and alarms ---
        # Alarms on this region's own resources. The dashboard and the replication-link alarms name other
        # regions: global_resources declares them with the links (region_factory/monitoring.py).
        self.monitoring = RegionalMonitoring(
            ctx.logical("monitoring"), MonitoringArgs(context=ctx, topic_arn=topic_arn), self._child()
        )
        self.outputs = self._outputs()
        self.register_outputs(self.outputs.published())

    def _child(self) -> pulumi.ResourceOptions:
        """A component of this stack: parent only, the provider is inherited."""
        return pulumi.ResourceOptions(parent=self)

    def _outputs(self) -> RegionalOutputs:
        """What the global layer may use of this region (region_factory/outputs.py)."""
        network, database, storage, service, probe, ledger = (
            self.network,
            self.database,
            self.storage,
            self.service,
            self.probe,
            self.ledger,
        )
        return RegionalOutputs(
            context=self.ctx,
            vpc_id=network.vpc.id,
            cidr=self.ctx.spec.cidr,
            availability_zones=tuple(plan.az for plan in network.subnet_plan),
            private_subnet_ids=tuple(network.private_subnet_ids),
            private_route_table_ids=tuple(table.id for table in network.private_route_tables),
            kms_key_arn=self.keys.key.arn,
            db_subnet_group_name=database.subnet_group.name,
            db_security_group_id=database.security_group.id,
            db_parameter_group_name=database.parameter_group.name,
            db_monitoring_role_arn=database.monitoring_role.arn,
            bucket_names={kind: bucket.bucket for kind, bucket in storage.buckets.items()},
            bucket_arns={kind: bucket.arn for kind, bucket in storage.buckets.items()},
            ready_bucket_versionings=tuple(storage.versionings),
            function_name=service.function.name,
            rest_api_id=service.rest_api.id,
            api_stage_name=service.stage.stage_name,
            api_domain_name=service.domain.regional_domain_name,
            api_domain_zone_id=service.domain.regional_zone_id,
            health_check_fqdn=service.health_check_fqdn,
            health_check_path=service.health_check_path,
            probe_role_id=probe.role.id,
            probe_alarm_name=probe.alarm.name,
            probe_writable_alarm_name=probe.writable_alarm.name,
            failover_topic_arn=self.alerts.topic.arn,
            ledger_role_id=ledger.role.id,
            ledger_security_group_id=ledger.security_group.id,
            ledger_function_arn=ledger.function.arn,
            ledger_failure_queue_arn=ledger.failure_queue.arn,
            ledger_bundle=ledger.bundle.archive,
            ready_ledger_role_policy=ledger.role_policy,
        )

    @property
    def region(self) -> str:
        return self.ctx.region


def build_region(cfg: StackConfig, spec: RegionSpec, providers: Providers, shared: SharedInputs) -> RegionalStack:
    """The factory: the same code for every region; the region's provider is declared here, once."""
    ctx = RegionContext(cfg, spec, providers.for_region(spec.name), shared)
    return RegionalStack(f"region-{spec.name}", RegionalStackArgs(context=ctx), ctx.component_opts(None))
