"""Alarms on the Route 53 health checks, one per (region, kind), in us-east-1 (docs/observability.md).

Route 53 publishes ``AWS/Route53 HealthCheckStatus`` only in us-east-1 (../shared/notes/aws-dr-facts.md), so
these alarms live there, on ``providers.route53_metrics``, whichever regions are deployed. An alarm notifies a
topic in its own region, so they need a failover topic in us-east-1:

- us-east-1 is a deployed region: its regional stack's topic (``RegionalStack.alerts.topic``), so the operators
  subscribe to one topic per region as everywhere else;
- it is not: this component builds one there with the same classes a region uses (``RegionalKey`` and
  ``Alerts``: KMS-encrypted, the same policy, the same e-mail subscriptions, which stay pending until each
  address confirms). Its names are the ones the regional stack would use, because it stands in for it.

Adding us-east-1 to a stack that runs without it therefore moves these alarms to the regional topic: the
stand-in key alias and topic go, and the regional ones with the same names come, in one update. Pulumi
creates before it deletes, so that update stops on the name clash; docs/observability.md ("Adding or
removing us-east-1") gives the two-step procedure.
"""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_aws as aws

from core.config import DrRole, RegionSpec, StackConfig
from core.providers import ROUTE53_METRICS_REGION, Providers
from region_factory import RegionalStack, SharedInputs
from region_factory.alerting import Alerts
from region_factory.context import RegionContext
from region_factory.keys import RegionalKey
from region_factory.monitoring import declare_alarm, health_alarm_name, health_check_alarm


class HealthAlarms(pulumi.ComponentResource):
    # The us-east-1 topic every alarm here notifies, and the stand-in alerting when us-east-1 is not deployed.
    topic: aws.sns.Topic
    alerts: Alerts | None
    alarms: dict[tuple[str, str], aws.cloudwatch.MetricAlarm]

    def __init__(
        self, cfg: StackConfig, providers: Providers, regions: Mapping[str, RegionalStack],
        health_checks: Mapping[tuple[str, str], aws.route53.HealthCheck], shared: SharedInputs, parent: pulumi.Resource,
    ):
        super().__init__("payment-dr:global:HealthAlarms", "health-alarms", None, pulumi.ResourceOptions(parent=parent))
        if ROUTE53_METRICS_REGION in regions:
            self.alerts = None
            self.topic = regions[ROUTE53_METRICS_REGION].alerts.topic
        else:
            # Global, not a region of the DR set: the provider's tags say DR-Role=global.
            ctx = RegionContext(cfg, RegionSpec(ROUTE53_METRICS_REGION, DrRole.GLOBAL, ""), providers.route53_metrics, shared)
            key = RegionalKey(ctx, self)
            self.alerts = Alerts(ctx, key.key, self)
            self.topic = self.alerts.topic
        opts = pulumi.ResourceOptions(parent=self, provider=providers.route53_metrics)
        self.alarms = {
            (region, kind): declare_alarm(
                f"alarm-health-{kind}-{region}", health_alarm_name(cfg, region, kind),
                health_check_alarm(cfg, region, kind, check.id), self.topic.arn, opts,
            )
            for (region, kind), check in sorted(health_checks.items())
        }
        self.register_outputs({"topicArn": self.topic.arn})
