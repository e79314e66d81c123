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
from region_factory.outputs import RegionalOutputs
from region_factory.probe import DatabaseProbe
from region_factory.service import PaymentService
from region_factory.storage import RegionalStorage


class RegionalStack(pulumi.ComponentResource):
    def __init__(self, ctx: RegionContext):
        # The region's provider, declared once: every component and resource below inherits it (context.py).
        super().__init__("payment-dr:region:RegionalStack", f"region-{ctx.region}", None, ctx.component_opts(None))
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
        self.monitoring = RegionalMonitoring(ctx, self.alerts.topic.arn, self)
        self.outputs = self._outputs()
        self.register_outputs(self.outputs.published())

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
    return RegionalStack(RegionContext(cfg, spec, providers.for_region(spec.name), shared))
