"""The database probe of one region, and the alarm Route 53 watches through it.

Route 53's health checkers are on the internet and cannot reach Aurora's private endpoints, so each
region runs a probe inside its VPC (functions/db_probe, docs/db-probe.md): once a minute an
EventBridge schedule starts one invocation that connects to this region's cluster six times, ten
seconds apart, and publishes ``DatabaseReachable`` (1/0) per probe. An alarm on that metric backs the
region's `db` CLOUDWATCH_METRIC health check (global_resources/failover.py); a silent probe counts as a
failure (missing data is breaching), and the alarm reports both ways to the region's failover topic.

The probe also publishes ``DatabaseWritable`` (core/routing.py): 1 when this region's cluster is the global
database's writer and its server accepts writes (``pg_is_in_recovery()`` is false), 0 when it answered as a
reader, nothing when it could not be reached. The writability alarm on it backs the region's `writer`
check, which guards the private writer name: the name never points at a cluster not known to be writable.

Metric resolution: Route 53 health checks on alarms support standard-resolution metrics only
("High-resolution metrics aren't supported", Route 53 API reference, AlarmIdentifier). So the probe
publishes at 60-second storage resolution and the alarm is a standard 60-second alarm; the probe still
probes every 10 seconds, and the alarm counts the share of the minute's probes that failed
(docs/failover.md, "Detection time").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import alarms, iam, naming, routing
from region_factory import lambda_runtime, packaging
from region_factory.alarms import Actions, AlarmSpec, declare_alarm
from region_factory.context import RegionContext
from region_factory.database import DATABASE_NAME, PORT
from region_factory.service import vpc_access_statements

HANDLER = "app.lambda_handler"
# The probe's own database login (functions/ledger/migrations/0002_probe_role.sql): IAM authentication only.
DB_USER = "payment_probe"
SERVICE_NAME = "payment-db-probe"
METRIC_NAMESPACE = "PaymentDR/DatabaseProbe"
METRIC_NAME = "DatabaseReachable"
WRITABLE_METRIC = routing.WRITABLE_METRIC
DIMENSION = "ClusterIdentifier"
SCHEDULE = "rate(1 minute)"
PROBE_INTERVAL_SECONDS = 10
PROBES_PER_INVOCATION = 6  # one minute of probes per scheduled invocation
CONNECT_TIMEOUT_SECONDS = 3
SSL_MODE = "require"  # encrypted; the cluster forces TLS (rds.force_ssl). Why not verify-full: docs/db-probe.md
# Standard resolution: the only kind a Route 53 health check can watch (module docstring).
METRIC_STORAGE_RESOLUTION = 60
ALARM_PERIOD_SECONDS = 60
PROBES_PER_ALARM_PERIOD = ALARM_PERIOD_SECONDS // PROBE_INTERVAL_SECONDS
# The longest one probe can take: up to three AWS calls (describe cluster, describe global cluster, put
# metric data; the IAM token is signed locally) of at most 2 attempts x (1 s connect + 2 s read), and one
# more as margin, plus PostgreSQL's connect and query, each bounded by CONNECT_TIMEOUT_SECONDS.
PROBE_BUDGET_SECONDS = 4 * 2 * (1 + 2) + 2 * CONNECT_TIMEOUT_SECONDS
# The last probe starts 50 s into the invocation; with its budget it ends by 80 s: 90 s leaves 10 to spare.
TIMEOUT_SECONDS = PROBE_INTERVAL_SECONDS * PROBES_PER_INVOCATION + PROBE_BUDGET_SECONDS
MEMORY_MB = 256
# One probe loop at a time: an invocation that overruns its minute throttles the next tick instead of
# doubling the probes (and the datapoints the alarm averages).
RESERVED_CONCURRENCY = 1
# A tick older than this is stale, the next one is on its way: never queue or retry probe events
# (Lambda would otherwise retry a throttled asynchronous invocation for up to 6 hours).
MAX_EVENT_AGE_SECONDS = 60


def failures_to_alarm(failure_threshold: int) -> int:
    """healthCheckFailureThreshold read as "this many failed probes in one minute" (at most all of them)."""
    return min(failure_threshold, PROBES_PER_ALARM_PERIOD)


def alarm_threshold(failure_threshold: int) -> float:
    """The alarm fires when the minute's average of DatabaseReachable falls below this: when at least
    ``failures_to_alarm`` of the ~6 probes failed. An average, not a sum, because EventBridge's jitter
    puts 5 or 7 probes into some minutes; the threshold sits half a probe below the boundary so that
    neither jitter nor float rounding flips the decision."""
    probes = PROBES_PER_ALARM_PERIOD
    return round((probes - failures_to_alarm(failure_threshold) + 0.5) / probes, 4)


def environment(ctx: RegionContext) -> dict[str, str]:
    """Exactly the variables functions/db_probe/app.py reads."""
    cfg = ctx.cfg
    return {
        "DB_CLUSTER_IDENTIFIER": cfg.namer(naming.DB_CLUSTER, ctx.region),
        "DB_USER": DB_USER,
        "DB_NAME": DATABASE_NAME,
        "METRIC_NAMESPACE": METRIC_NAMESPACE,
        "PROBE_INTERVAL_SECONDS": str(PROBE_INTERVAL_SECONDS),
        "PROBES_PER_INVOCATION": str(PROBES_PER_INVOCATION),
        "CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_SECONDS),
        "DB_SSL_MODE": SSL_MODE,
        "METRIC_STORAGE_RESOLUTION": str(METRIC_STORAGE_RESOLUTION),
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    }


def execution_policy(ctx: RegionContext, log_group_arn: pulumi.Output[str]) -> pulumi.Output[str]:
    """What app.py calls, on this region's resources only. ARNs are built from the catalog names: the
    clusters are declared later, by the global data tier (which also grants the database login,
    ``connect_policy``). No secret and no key: the probe has no password to read."""
    cfg = ctx.cfg
    cluster = ctx.arn("rds", f"cluster:{cfg.namer(naming.DB_CLUSTER, ctx.region)}")
    global_cluster = ctx.arn("rds", f"global-cluster:{cfg.namer(naming.GLOBAL_CLUSTER)}", regional=False)
    return iam.document(
        iam.own_log_group(log_group_arn),
        # Which endpoint to probe (writer or reader) is read from the cluster and its global cluster.
        iam.statement(["rds:DescribeDBClusters"], [cluster], sid="DescribeOwnCluster"),
        iam.statement(["rds:DescribeGlobalClusters"], [global_cluster], sid="DescribeGlobalCluster"),
        # PutMetricData has no resource-level permissions: "*", held to the probe's namespace.
        iam.put_metrics("PutProbeMetrics", METRIC_NAMESPACE),
        # Lambda manages the function's network interfaces with this role (as for the payment function).
        *vpc_access_statements(ctx),
    )


def connect_policy(ctx: RegionContext, cluster_resource_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """IAM database authentication as DB_USER on this region's cluster only: the db-user ARN names the
    cluster's resource id (cluster-ABC...), known once the cluster exists.
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html"""
    user = pulumi.Output.concat(ctx.arn("rds-db", "dbuser:"), cluster_resource_id, f"/{DB_USER}")
    return iam.document(iam.statement(["rds-db:connect"], [user], sid=CONNECT_SID))


CONNECT_SID = "ConnectAsProbeUser"


@dataclass(frozen=True, kw_only=True)
class DatabaseProbeArgs:
    context: RegionContext
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]  # the function's VPC attachment, one per AZ
    kms_key_arn: pulumi.Input[str]  # its log group
    topic_arn: pulumi.Input[str]  # where the reachability alarm pages


class DatabaseProbe(pulumi.ComponentResource):
    function: aws.lambda_.Function
    security_group: aws.ec2.SecurityGroup
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    schedule: aws.cloudwatch.EventRule
    # DatabaseReachable below the threshold: what the region's `db` Route 53 health check watches.
    alarm: aws.cloudwatch.MetricAlarm
    # DatabaseWritable not 1 throughout the minute: what the region's `writer` check watches.
    writable_alarm: aws.cloudwatch.MetricAlarm

    def __init__(self, name: str, args: DatabaseProbeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:DatabaseProbe", name, None, opts)
        ctx = self.ctx = args.context
        cfg = ctx.cfg
        function_name = ctx.name(naming.DB_PROBE_FUNCTION)
        cluster_identifier = cfg.namer(naming.DB_CLUSTER, ctx.region)
        self.security_group = aws.ec2.SecurityGroup(
            ctx.logical("db-probe"),
            name=ctx.name(naming.DB_PROBE_SG),
            description="payment-dr database probe: no inbound; PostgreSQL inside the VPC, HTTPS out",
            vpc_id=args.vpc_id,
            egress=[
                # Only this region's cluster: the probe never connects across regions (Route 53 compares regions).
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=PORT,
                    to_port=PORT,
                    cidr_blocks=[ctx.spec.cidr],
                    description="PostgreSQL in this VPC",
                ),
                # RDS and CloudWatch APIs through the NAT gateways.
                lambda_runtime.aws_apis_egress(),
            ],
            tags={"Name": ctx.name(naming.DB_PROBE_SG)},
            opts=ctx.child_opts(self),
        )
        self.log_group = ctx.log_group("db-probe", f"/aws/lambda/{function_name}", args.kms_key_arn, self)
        self.role, policy = lambda_runtime.execution_role(
            ctx.logical("db-probe"),
            name=ctx.name(naming.DB_PROBE_ROLE),
            policy=execution_policy(ctx, self.log_group.arn),
            opts=ctx.child_opts(self),
        )
        bundle = packaging.bundle(packaging.PROBE, ctx.logical("db-probe-bundle"), ctx.region, self)
        self.function = lambda_runtime.function_in_vpc(
            ctx,
            ctx.logical("db-probe"),
            self,
            name=function_name,
            description="payment-dr database probe: reachability of this region's Aurora cluster, every 10 s",
            role=self.role,
            code=bundle.archive,
            handler=HANDLER,
            memory_mb=MEMORY_MB,
            timeout_seconds=TIMEOUT_SECONDS,
            reserved_concurrency=RESERVED_CONCURRENCY,
            variables=environment(ctx),
            subnet_ids=list(args.private_subnet_ids),
            security_group=self.security_group,
            log_group=self.log_group,
            role_policy=policy,
        )
        self.schedule = lambda_runtime.on_schedule(
            ctx,
            self,
            "db-probe",
            ctx.name(naming.DB_PROBE_SCHEDULE),
            "payment-dr: one minute of database probes",
            SCHEDULE,
            self.function,
            MAX_EVENT_AGE_SECONDS,
        )
        self.alarm = declare_alarm(
            AlarmSpec(
                key=alarms.DB_REACHABLE,
                description=(
                    f"Aurora cluster {cluster_identifier} unreachable from its VPC: at least "
                    f"{failures_to_alarm(cfg.health_check_failure_threshold)} of the minute's {PROBES_PER_ALARM_PERIOD} "
                    "probes failed, or the probe published nothing. Backs this region's `db` Route 53 health check "
                    "(docs/failover.md)."
                ),
                namespace=METRIC_NAMESPACE,
                metric=METRIC_NAME,
                dimensions={DIMENSION: cluster_identifier},
                statistic="Average",
                period=ALARM_PERIOD_SECONDS,
                comparison="LessThanThreshold",
                threshold=alarm_threshold(cfg.health_check_failure_threshold),
                # A silent probe (not running, not allowed to publish, timing out) is a failure.
                missing_data="breaching",
            ),
            logical=ctx.logical(alarms.DB_REACHABLE),
            name=ctx.name(naming.ALARM, alarms.DB_REACHABLE),
            topic_arn=args.topic_arn,
            opts=ctx.child_opts(self),
        )
        self.writable_alarm = declare_alarm(
            AlarmSpec(
                key=alarms.DB_WRITABLE,
                description=(
                    f"Aurora cluster {cluster_identifier} not known to accept writes: a probe of the minute found it a "
                    "reader (pg_is_in_recovery, or not the global database's writer), or no probe reached it. Normal in a "
                    "secondary region; backs this region's `writer` Route 53 health check, which guards the private "
                    "writer name (docs/failover.md)."
                ),
                namespace=METRIC_NAMESPACE,
                metric=WRITABLE_METRIC,
                dimensions={DIMENSION: cluster_identifier},
                # Minimum: one read-only answer in the minute is enough to move the writer name away.
                statistic="Minimum",
                period=ALARM_PERIOD_SECONDS,
                comparison="LessThanThreshold",
                threshold=1,
                # An unreachable cluster publishes no datapoint: not known to be writable.
                missing_data="breaching",
                # No actions: in a secondary region this alarm is in ALARM by design (a reader), so it would page at
                # every deploy. It only backs the `writer` check; losing the writer pages through DatabaseReachable's
                # alarm above and the canaries, and drctl announces every role change on the failover topics.
                actions=Actions.NONE,
            ),
            logical=ctx.logical(alarms.DB_WRITABLE),
            name=ctx.name(naming.ALARM, alarms.DB_WRITABLE),
            topic_arn=None,
            opts=ctx.child_opts(self),
        )
        self.register_outputs(
            {
                "functionArn": self.function.arn,
                "alarmName": self.alarm.name,
                "writableAlarmName": self.writable_alarm.name,
            }
        )


def allow_connect(
    ctx: RegionContext, probe_role_id: pulumi.Input[str], cluster: aws.rds.Cluster, parent: pulumi.Resource
) -> aws.iam.RolePolicy:
    """Lets the region's probe (its role, RegionalOutputs.probe_role_id) log in to the region's cluster as DB_USER.
    Declared by the global data tier, which creates the cluster; the cluster's resource id is known only then."""
    return aws.iam.RolePolicy(
        ctx.logical("db-probe-connect"),
        role=probe_role_id,
        policy=connect_policy(ctx, cluster.cluster_resource_id),
        opts=ctx.opts(parent),
    )
