"""Alarms and the dashboard of one region, built from the data below (docs/observability.md).

Two components, each built by one function from a list of ``AlarmSpec`` (region_factory/alarms.py):

- ``RegionalMonitoring`` (RegionalStack, "dashboards and alarms"): alarms on this region's own resources:
  Aurora replication lag of this region's cluster, API 5xx, payment-function errors. Their inputs name
  nothing but this region, so the symmetry property test holds them identical in every region.
- ``LinkMonitoring`` (global_resources/link_monitoring.py, created by GlobalResources): alarms on each
  replication link between this region and another (DynamoDB per receiving region, S3 per replication rule,
  ``link_alarms`` below) and this region's dashboard (``dashboard_data`` below), whose health-check widget
  names alarms in us-east-1. Whatever names another region is a link and is declared with the links, as the
  replication itself is (global_resources/s3_replication.py); each link is its own alarm, so a new region only
  adds alarms. Both alarm tables stay here, so every alarm of a region is found in this one module.

Every alarm reports both ways (ALARM and OK) to this region's failover topic (region_factory/alerting.py).
Names are deterministic, ``payment-<what>-<suffix>`` (naming.ALARM), so dashboards and the DR tooling
find them without Pulumi state.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import alarms as names
from core import naming, routing
from core.config import StackConfig
from core.providers import ROUTE53_METRICS_REGION
from region_factory import dashboard, ledger, probe
from region_factory.alarms import AlarmSpec, declare_alarm
from region_factory.context import RegionContext
from region_factory.storage import KINDS as BUCKET_KINDS
from region_factory.storage import NAMES as BUCKET_NAMES

TABLES = {"transactions": naming.TRANSACTIONS_TABLE, "idempotency": naming.IDEMPOTENCY_TABLE}

MINUTE = 60
# AWS/RDS metrics are standard resolution: "Amazon Aurora automatically sends metric data to CloudWatch in
# 1-minute periods" (Aurora User Guide, monitoring-cloudwatch.html). A 10- or 30-second alarm period on
# them would see missing data, not faster lag: one 60-second period, one datapoint is the fastest honest
# evaluation. The lag alarm fires on the first minute whose highest lag exceeds replicationLagThresholdMs:
# detection 60 s after the lag starts at worst, plus the time CloudWatch takes to receive the datapoint.
AURORA_PERIOD, AURORA_DATAPOINTS = MINUTE, 1
# DynamoDB aggregates ReplicationLatency per five minutes ("For all other DynamoDB metrics, the aggregation
# granularity is five minutes", DynamoDB Developer Guide, metrics-dimensions.html). Replication is typically
# within a second with no SLA (docs/aws-facts.md, "DynamoDB global tables"): a five-minute *average* above 5 s is a
# replication problem, not a burst, and stays clear of the extra distance to far regions. Detection: 5 min.
DYNAMODB_PERIOD, DYNAMODB_DATAPOINTS = 300, 1
DYNAMODB_LATENCY_THRESHOLD_MS = 5000
# S3 Replication Time Control replicates 99.99 % of objects within 15 minutes (the only value); its metrics
# are per minute. Latency above 900 s means objects have missed RTC: alarm on the first such minute.
S3_RTC_THRESHOLD_SECONDS = 15 * 60
# API 5xx rate (5XXError is 0/1 per request, so its average is the share of 5xx answers) and function
# errors: three bad minutes out of five, so one failed deployment step or one cold-start blip does not page.
SERVICE_PERIOD, SERVICE_EVALUATIONS, SERVICE_DATAPOINTS = MINUTE, 5, 3
API_5XX_RATE_THRESHOLD = 0.05
# Route 53 publishes HealthCheckStatus (1 healthy, 0 not) per minute in us-east-1; the minute's minimum
# below 1 means the check was unhealthy at some point of it (global_resources/health_alarms.py).
HEALTH_PERIOD, HEALTH_DATAPOINTS = MINUTE, 1

# A payment waiting this long for its posting means the poster is stuck (writer unreachable, retries
# exhausting): 5 minutes, well within the stream's 24-hour retention (region_factory/ledger.py).
LEDGER_LAG_THRESHOLD_SECONDS = 300
LEDGER_LAG_DATAPOINTS = 3


def alarm_name(cfg: StackConfig, what: str) -> str:
    return cfg.namer.qualified(naming.ALARM, what)


def health_alarm_name(cfg: StackConfig, region: str, kind: str) -> str:
    """All health-check alarms live in us-east-1, so their names carry the region they watch."""
    return alarm_name(cfg, f"health-{kind}-{region}")


def alarm_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"


def other_regions(ctx: RegionContext) -> list[str]:
    """Every deployed region but this one, in config order: computed the same way in every region."""
    return [name for name in ctx.cfg.region_names if name != ctx.region]


def regional_alarms(ctx: RegionContext) -> list[AlarmSpec]:
    cfg = ctx.cfg
    cluster = cfg.namer(naming.DB_CLUSTER, ctx.region)
    return [
        AlarmSpec(
            key=names.AURORA_LAG,
            description=(
                f"Aurora global database replication lag of {cluster} above {cfg.replication_lag_threshold_ms} ms "
                f"(replicationLagThresholdMs) in a {AURORA_PERIOD}-second period. Published by secondary clusters only: "
                "while this region holds the primary there is no data and the alarm stays OK; after a switchover or "
                "failover the same alarm watches this cluster as a secondary. docs/observability.md"
            ),
            namespace="AWS/RDS",
            metric="AuroraGlobalDBReplicationLag",
            dimensions={"DBClusterIdentifier": cluster},
            statistic="Maximum",
            period=AURORA_PERIOD,
            comparison="GreaterThanThreshold",
            threshold=cfg.replication_lag_threshold_ms,
            # No data is the normal state of the primary's cluster: not a breach. A secondary that stops
            # reporting altogether is caught by the db health check (the probe), not by this alarm.
            missing_data="notBreaching",
            datapoints=AURORA_DATAPOINTS,
        ),
        AlarmSpec(
            key=names.API_5XX,
            description=(
                f"More than {API_5XX_RATE_THRESHOLD:.0%} of payment API answers were 5xx in {SERVICE_DATAPOINTS} of "
                f"{SERVICE_EVALUATIONS} minutes. docs/observability.md"
            ),
            namespace="AWS/ApiGateway",
            metric="5XXError",
            dimensions={"ApiName": ctx.name(naming.API), "Stage": ctx.name(naming.API_STAGE)},
            statistic="Average",
            period=SERVICE_PERIOD,
            comparison="GreaterThanThreshold",
            threshold=API_5XX_RATE_THRESHOLD,
            # No requests, no datapoint: the normal state of a standby region. A region that stops answering
            # altogether is the canaries' to page (global_resources/canary.py: their silence is breaching).
            missing_data="notBreaching",
            evaluation_periods=SERVICE_EVALUATIONS,
            datapoints=SERVICE_DATAPOINTS,
        ),
        AlarmSpec(
            key=names.FUNCTION_ERRORS,
            description=(
                f"The payment function failed invocations in {SERVICE_DATAPOINTS} of {SERVICE_EVALUATIONS} minutes "
                "(unhandled errors, timeouts). docs/observability.md"
            ),
            namespace="AWS/Lambda",
            metric="Errors",
            dimensions={"FunctionName": ctx.name(naming.VALIDATOR_FUNCTION)},
            statistic="Sum",
            period=SERVICE_PERIOD,
            comparison="GreaterThanThreshold",
            threshold=0,
            # Lambda publishes Errors only for invocations: an idle function is not failing (see the 5xx alarm).
            missing_data="notBreaching",
            evaluation_periods=SERVICE_EVALUATIONS,
            datapoints=SERVICE_DATAPOINTS,
        ),
        AlarmSpec(
            key=names.LEDGER_LAG,
            description=(
                f"Accepted payments waited more than {LEDGER_LAG_THRESHOLD_SECONDS} s for their ledger posting in "
                f"{LEDGER_LAG_DATAPOINTS} consecutive minutes (PaymentDR/Ledger OldestUnpostedSeconds, published per batch "
                'by this region\'s poster). No data: no payments to post. docs/data-tier.md, "The ledger"'
            ),
            namespace=ledger.METRIC_NAMESPACE,
            metric=ledger.METRIC_NAME,
            dimensions={},
            statistic="Maximum",
            period=MINUTE,
            comparison="GreaterThanThreshold",
            threshold=LEDGER_LAG_THRESHOLD_SECONDS,
            missing_data="notBreaching",
            datapoints=LEDGER_LAG_DATAPOINTS,
        ),
        AlarmSpec(
            key=names.LEDGER_FAILURES,
            description=(
                "A stream batch could not be posted to the ledger after every retry: its coordinates are in the "
                "on-failure queue. Post them with `drctl reconcile` once the cause is fixed. docs/runbook.md"
            ),
            namespace="AWS/SQS",
            metric="ApproximateNumberOfMessagesVisible",
            dimensions={"QueueName": ctx.name(naming.LEDGER_FAILURES_QUEUE)},
            statistic="Maximum",
            period=MINUTE,
            comparison="GreaterThanThreshold",
            threshold=0,
            missing_data="notBreaching",
        ),
    ]


def link_alarms(ctx: RegionContext) -> list[AlarmSpec]:
    """One alarm per link and direction, each in the region where AWS publishes its metric."""
    cfg, here = ctx.cfg, ctx.region
    specs = []
    for other in other_regions(ctx):
        for kind, table in TABLES.items():
            name = cfg.namer(table)
            # Published in the sending region, one series per receiving region.
            specs.append(
                AlarmSpec(
                    key=f"ddb-replication-{kind}-to-{other}",
                    description=(
                        f"DynamoDB {name}: items written in {here} reach {other} more than {DYNAMODB_LATENCY_THRESHOLD_MS} ms "
                        f"later on average over {DYNAMODB_PERIOD // MINUTE} minutes. docs/observability.md"
                    ),
                    namespace="AWS/DynamoDB",
                    metric="ReplicationLatency",
                    dimensions={"TableName": name, "ReceivingRegion": other},
                    statistic="Average",
                    period=DYNAMODB_PERIOD,
                    comparison="GreaterThanThreshold",
                    threshold=DYNAMODB_LATENCY_THRESHOLD_MS,
                    # No writes, no replication, no datapoint: an idle table is not lagging.
                    missing_data="notBreaching",
                    datapoints=DYNAMODB_DATAPOINTS,
                )
            )
        for kind in BUCKET_KINDS:
            local, remote = cfg.namer(BUCKET_NAMES[kind], here), cfg.namer(BUCKET_NAMES[kind], other)
            # Latency is published in the destination's region, failures in the source's (S3 User Guide,
            # "Using S3 Replication metrics"): this region watches the rule into it and its rule out.
            specs.append(
                AlarmSpec(
                    key=f"s3-replication-latency-{kind}-from-{other}",
                    description=(
                        f"S3 replication {remote} -> {local} more than {S3_RTC_THRESHOLD_SECONDS} s behind: objects are "
                        "missing the Replication Time Control threshold. docs/observability.md"
                    ),
                    namespace="AWS/S3",
                    metric="ReplicationLatency",
                    dimensions={
                        "SourceBucket": remote,
                        "DestinationBucket": local,
                        "RuleId": names.replication_rule_id(here),
                    },
                    statistic="Maximum",
                    period=MINUTE,
                    comparison="GreaterThanThreshold",
                    threshold=S3_RTC_THRESHOLD_SECONDS,
                    # AWS's advice for replication-metric alarms: missing data keeps the alarm's state
                    # (S3 User Guide, metrics-dimensions.html, "S3 Replication metrics in CloudWatch").
                    missing_data="ignore",
                )
            )
            specs.append(
                AlarmSpec(
                    key=f"s3-replication-failed-{kind}-to-{other}",
                    description=f"S3 replication {local} -> {remote}: operations failed to replicate. docs/observability.md",
                    namespace="AWS/S3",
                    metric="OperationsFailedReplication",
                    dimensions={
                        "SourceBucket": local,
                        "DestinationBucket": remote,
                        "RuleId": names.replication_rule_id(other),
                    },
                    statistic="Sum",
                    period=MINUTE,
                    comparison="GreaterThanThreshold",
                    threshold=0,
                    # Published only when operations fail.
                    missing_data="notBreaching",
                )
            )
    return specs


def health_check_alarm(cfg: StackConfig, region: str, kind: str, health_check_id: pulumi.Input[str]) -> AlarmSpec:
    return AlarmSpec(
        key=f"health-{kind}-{region}",
        description=(
            f"Route 53 health check {cfg.namer.qualified(naming.HEALTH_CHECK, kind, region)} unhealthy: DNS sends "
            f"traffic away from {region} (the `{kind}` check, docs/failover.md). docs/observability.md"
        ),
        namespace="AWS/Route53",
        metric="HealthCheckStatus",
        dimensions={"HealthCheckId": health_check_id},
        statistic="Minimum",
        period=HEALTH_PERIOD,
        comparison="LessThanThreshold",
        threshold=1,
        # A check that publishes nothing is not known to be healthy (as the db check treats its alarm).
        missing_data="breaching",
        datapoints=HEALTH_DATAPOINTS,
    )


def declare_alarms(
    ctx: RegionContext, specs: list[AlarmSpec], topic_arn: pulumi.Input[str], parent: pulumi.Resource
) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """A region's alarms named by their keys: logical ``<region>-alarm-<key>``, physical ``payment-<key>-<suffix>``."""
    return {
        spec.key: declare_alarm(
            spec,
            logical=ctx.logical(f"alarm-{spec.key}"),
            name=alarm_name(ctx.cfg, spec.key),
            topic_arn=topic_arn,
            opts=ctx.child_opts(parent),
        )
        for spec in specs
    }


def dashboard_data(ctx: RegionContext) -> dashboard.DashboardData:
    cfg = ctx.cfg
    own_alarms = [spec.key for spec in regional_alarms(ctx)] + list(names.PROBE_ALARMS)
    return dashboard.DashboardData(
        region=ctx.region,
        cluster=cfg.namer(naming.DB_CLUSTER, ctx.region),
        tables={kind: cfg.namer(spec) for kind, spec in TABLES.items()},
        buckets={kind: ctx.name(BUCKET_NAMES[kind]) for kind in BUCKET_KINDS},
        api_name=ctx.name(naming.API),
        api_stage=ctx.name(naming.API_STAGE),
        function=ctx.name(naming.VALIDATOR_FUNCTION),
        probe_namespace=probe.METRIC_NAMESPACE,
        probe_dimension=probe.DIMENSION,
        region_alarm_arns=[alarm_arn(ctx.region, ctx.account_id, alarm_name(cfg, what)) for what in own_alarms],
        health_alarm_arns=[
            alarm_arn(ROUTE53_METRICS_REGION, ctx.account_id, health_alarm_name(cfg, ctx.region, kind))
            for kind in routing.ALARMED_CHECK_KINDS
        ],
        lag_threshold_ms=cfg.replication_lag_threshold_ms,
        dynamodb_threshold_ms=DYNAMODB_LATENCY_THRESHOLD_MS,
        s3_threshold_seconds=S3_RTC_THRESHOLD_SECONDS,
        minute=MINUTE,
        dynamodb_period=DYNAMODB_PERIOD,
        ledger_namespace=ledger.METRIC_NAMESPACE,
        ledger_failures_queue=ctx.name(naming.LEDGER_FAILURES_QUEUE),
        ledger_lag_threshold_seconds=LEDGER_LAG_THRESHOLD_SECONDS,
    )


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """What RegionalMonitoring and LinkMonitoring (global_resources/link_monitoring.py) take: the region, and the
    topic their alarms page."""

    context: RegionContext
    topic_arn: pulumi.Input[str]


class RegionalMonitoring(pulumi.ComponentResource):
    """Alarms on this region's own resources (module docstring)."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:Monitoring", name, None, opts)
        self.alarms = declare_alarms(args.context, regional_alarms(args.context), args.topic_arn, self)
        self.register_outputs({"alarmNames": {key: alarm.name for key, alarm in self.alarms.items()}})
