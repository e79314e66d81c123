"""Alarms on the Route 53 health checks, one per (region, kind), in us-east-1 (docs/observability.md).

Route 53 publishes ``AWS/Route53 HealthCheckStatus`` only in us-east-1 (docs/aws-facts.md, Route 53), so
these alarms live there, on ``providers.route53_metrics``, whichever regions are deployed. An alarm notifies a
topic in its own region, so they get their own KMS-encrypted topic in us-east-1, built with the same classes a
region uses (``RegionalKey`` and ``Alerts``: the same policy, the same e-mail subscriptions, pending until each
address confirms) under their own names. They never borrow us-east-1's regional topic: adding or removing
us-east-1 as a DR region then changes nothing here (the property test "a third region only adds" holds for
us-east-1 too), and no update has to move names between resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import naming, routing
from core.config import DrRole, RegionSpec, StackConfig
from core.providers import ROUTE53_METRICS_REGION, Providers
from region_factory import SharedInputs
from region_factory.alarms import declare_alarm
from region_factory.alerting import Alerts, AlertsArgs
from region_factory.context import RegionContext
from region_factory.keys import RegionalKey, RegionalKeyArgs
from region_factory.monitoring import health_alarm_name, health_check_alarm


@dataclass(frozen=True, kw_only=True)
class HealthAlarmsArgs:
    cfg: StackConfig
    providers: Providers  # providers.route53_metrics: us-east-1, where the health-check metrics are
    shared: SharedInputs
    health_check_ids: Mapping[tuple[str, str], pulumi.Input[str]]  # (region, kind) -> check id


class HealthAlarms(pulumi.ComponentResource):
    # The us-east-1 topic every alarm here notifies, and the key that encrypts it.
    topic: aws.sns.Topic
    key: RegionalKey
    alerts: Alerts
    alarms: dict[tuple[str, str], aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: HealthAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:HealthAlarms", name, None, opts)
        cfg, providers = args.cfg, args.providers
        # Global, not a region of the DR set: the provider's tags say DR-Role=global, Region=us-east-1 (where they live).
        ctx = RegionContext(
            cfg,
            RegionSpec(ROUTE53_METRICS_REGION, DrRole.GLOBAL, ""),
            providers.route53_metrics,
            args.shared,
            logical_prefix="health-alarms-",
        )
        self.key = RegionalKey(
            ctx.logical("key"),
            RegionalKeyArgs(context=ctx, alias=naming.HEALTH_ALARMS_KEY_ALIAS),
            ctx.component_opts(self),
        )
        self.alerts = Alerts(
            ctx.logical("alerts"),
            AlertsArgs(context=ctx, kms_key_arn=self.key.key.arn, topic=naming.HEALTH_ALARMS_TOPIC),
            ctx.component_opts(self),
        )
        self.topic = self.alerts.topic
        opts = pulumi.ResourceOptions(parent=self, provider=providers.route53_metrics)
        self.alarms = {
            (region, kind): declare_alarm(
                health_check_alarm(cfg, region, kind, check_id),
                logical=f"alarm-health-{kind}-{region}",
                name=health_alarm_name(cfg, region, kind),
                topic_arn=self.topic.arn,
                opts=opts,
            )
            for (region, kind), check_id in sorted(args.health_check_ids.items())
            # Not the `writer` checks (core/routing.py, ALARMED_CHECK_KINDS): the writer's loss pages through the
            # `db` check, the probe's reachability alarm and the canaries; drctl announces role changes.
            if kind in routing.ALARMED_CHECK_KINDS
        }
        self.register_outputs({"topicArn": self.topic.arn})
