"""The canary of one region (functions/canary): eyes in every region, paging from the region that is up.

Once a minute an EventBridge schedule starts one invocation that probes every region's /health and the
public name every ``CANARY_INTERVAL_SECONDS`` and publishes ``TargetHealthy{Target=...}`` in this region;
it also engages routing holds as core/routing.py says. One alarm per target, in this region, pages this
region's failover topic: a us-east-1 outage pages the team from us-east-2. Each round it also asks CloudWatch
in every other region one DescribeAlarms (on that region's probe alarm): an outage of CloudWatch there silences
that region's own alarms, so one more alarm per other region (Target ``cloudwatch-<region>``) pages from here.

Outside any VPC, on purpose: the canary must keep seeing when this region's NAT gateways or VPC fail (and
it probes public endpoints, as clients reach them). It needs nothing private.

The canary names every region (its targets and the chain are in its environment), so it is a link between
regions and the global layer declares it with this region's context (like the replication alarms,
global_resources/link_monitoring.py): every region gets the same canary from this one code path;
a new region adds targets to the existing canaries' environment and alarms next to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from core import iam, naming, routing
from region_factory import lambda_runtime, probe
from region_factory.alarms import AlarmSpec, declare_alarm
from region_factory.context import RegionContext

SOURCE = Path(__file__).resolve().parent.parent / "functions" / "canary" / "app.py"
HANDLER = "app.lambda_handler"
MEMORY_MB = 128
# One loop at a time: an invocation that overruns its minute throttles the next tick instead of doubling rounds.
RESERVED_CONCURRENCY = 1
MAX_EVENT_AGE_SECONDS = 60
# The last round starts 50 s in; its HTTP calls (in parallel) and up to two PutMetricData calls of at most
# 2 attempts x (1 s connect + 2 s read) end by 67 s.
PUBLISH_BUDGET_SECONDS = 2 * 2 * (1 + 2)
TIMEOUT_SECONDS = (
    (routing.CANARY_ROUNDS - 1) * routing.CANARY_INTERVAL_SECONDS
    + routing.CANARY_HTTP_TIMEOUT_SECONDS
    + PUBLISH_BUDGET_SECONDS
)
ALARM_PERIOD_SECONDS = 60


def targets(urls: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """The TARGETS variable: target -> /health URL, as sorted JSON (the same text in every region)."""
    names = sorted(urls)
    return pulumi.Output.all(*[urls[name] for name in names]).apply(
        lambda values: json.dumps(dict(zip(names, values, strict=True)), sort_keys=True)
    )


def environment(
    ctx: RegionContext, urls: Mapping[str, pulumi.Input[str]], cloudwatch_alarms: Mapping[str, pulumi.Input[str]]
) -> dict[str, pulumi.Input[str]]:
    """Exactly what functions/canary/app.py reads; the names are core/routing.py's (the simulation reads them)."""
    cfg = ctx.cfg
    return {
        routing.CANARY_ENV_CHAIN: ",".join(cfg.region_names),
        routing.CANARY_ENV_TARGETS: targets(urls),
        routing.CANARY_ENV_FAILURE_THRESHOLD: str(routing.canary_failure_threshold(cfg.health_check_failure_threshold)),
        routing.CANARY_ENV_INTERVAL: str(routing.CANARY_INTERVAL_SECONDS),
        routing.CANARY_ENV_ROUNDS: str(routing.CANARY_ROUNDS),
        routing.CANARY_ENV_HTTP_TIMEOUT: str(routing.CANARY_HTTP_TIMEOUT_SECONDS),
        routing.CANARY_ENV_NAMESPACE: routing.CANARY_NAMESPACE,
        routing.CANARY_ENV_ROUTING_NAMESPACE: routing.ROUTING_NAMESPACE,
        routing.CANARY_ENV_CLOUDWATCH_ALARMS: targets(cloudwatch_alarms),  # every region's: the same text everywhere
    }


def alarm_arns(ctx: RegionContext, cloudwatch_alarms: Mapping[str, pulumi.Input[str]]) -> list[pulumi.Output[str]]:
    """The alarms this canary describes: every other region's (its own region's CloudWatch is not asked)."""
    return [
        pulumi.Output.concat(f"arn:aws:cloudwatch:{region}:{ctx.account_id}:alarm:", name)
        for region, name in sorted(cloudwatch_alarms.items())
        if region != ctx.region
    ]


def execution_policy(log_group_arn: pulumi.Output[str], described: list[pulumi.Output[str]]) -> pulumi.Output[str]:
    """Logs to its own group, metrics in its two namespaces, and DescribeAlarms on the other regions' probe
    alarms: nothing else."""
    return iam.document(
        iam.own_log_group(log_group_arn),
        # PutMetricData has no resource-level permissions: "*", held to the canary's and the holds' namespaces.
        iam.put_metrics("PutCanaryMetricsAndHolds", routing.CANARY_NAMESPACE, routing.ROUTING_NAMESPACE),
        # DescribeAlarms takes alarm ARNs as resources (Service Authorization Reference, Amazon CloudWatch:
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
        *(
            [iam.statement(["cloudwatch:DescribeAlarms"], described, sid="AskOtherRegionsCloudWatch")]
            if described
            else []
        ),
    )


def alarm_name(ctx: RegionContext, target: str) -> str:
    return ctx.cfg.namer.qualified(naming.CANARY_ALARM, target)


def code() -> pulumi.AssetArchive:
    return pulumi.AssetArchive({"app.py": pulumi.FileAsset(str(SOURCE))})


@dataclass(frozen=True, kw_only=True)
class RegionCanaryArgs:
    context: RegionContext
    urls: Mapping[str, pulumi.Input[str]]  # target -> the /health URL it probes (every region's, and the public name's)
    cloudwatch_alarms: Mapping[str, pulumi.Input[str]]  # region -> an alarm name there (its CloudWatch is asked)
    kms_key_arn: pulumi.Input[str]  # its log group
    topic_arn: pulumi.Input[str]  # where its alarms page (this region's failover topic)


class RegionCanary(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    schedule: aws.cloudwatch.EventRule
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: RegionCanaryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:RegionCanary", name, None, opts)
        ctx, urls, cloudwatch_alarms = args.context, args.urls, args.cloudwatch_alarms
        cfg = ctx.cfg
        function_name = ctx.name(naming.CANARY_FUNCTION)
        self.log_group = ctx.log_group("canary", f"/aws/lambda/{function_name}", args.kms_key_arn, self)
        self.role, policy = lambda_runtime.execution_role(
            ctx.logical("canary"),
            name=ctx.name(naming.CANARY_ROLE),
            policy=execution_policy(self.log_group.arn, alarm_arns(ctx, cloudwatch_alarms)),
            opts=ctx.child_opts(self),
        )
        self.function = aws.lambda_.Function(
            ctx.logical("canary"),
            name=function_name,
            description="payment-dr canary: every region's /health and the public name, every 10 s; engages routing holds",
            role=self.role.arn,
            code=code(),
            handler=HANDLER,
            runtime=lambda_runtime.RUNTIME,
            architectures=[lambda_runtime.ARCHITECTURE],
            memory_size=MEMORY_MB,
            timeout=TIMEOUT_SECONDS,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment(ctx, urls, cloudwatch_alarms)),
            # No vpc_config (module docstring). The log group first, or Lambda would create an unencrypted one.
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=self.log_group.name),
            opts=ctx.child_opts(self, depends_on=[policy, self.log_group]),
        )
        self.schedule = lambda_runtime.on_schedule(
            ctx,
            self,
            "canary",
            ctx.name(naming.CANARY_SCHEDULE),
            "payment-dr: one minute of canary rounds",
            routing.CANARY_SCHEDULE,
            self.function,
            MAX_EVENT_AGE_SECONDS,
        )
        failures = probe.failures_to_alarm(cfg.health_check_failure_threshold)
        watched = {
            routing.cloudwatch_target(region): region for region in sorted(cloudwatch_alarms) if region != ctx.region
        }
        self.alarms = {
            target: declare_alarm(
                AlarmSpec(
                    key=f"canary-{target}",
                    description=(
                        (
                            f"The {ctx.region} canary got no answer from CloudWatch in {watched[target]} (its alarms cannot "
                            "page) "
                            if target in watched
                            else f"The {ctx.region} canary could not reach the payment API's /health "
                            f"({'the public name ' + cfg.domain_name if target == routing.PUBLIC_TARGET else 'in ' + target}) "
                        )
                        + f"in at least {failures} of the minute's {routing.CANARY_ROUNDS} rounds, or the canary "
                        "published nothing. docs/failover.md"
                    ),
                    namespace=routing.CANARY_NAMESPACE,
                    metric=routing.CANARY_METRIC,
                    dimensions={routing.CANARY_DIMENSION: target},
                    # An average of the minute's rounds, as the probe's alarm (same 10-second grid, same threshold rule).
                    statistic="Average",
                    period=ALARM_PERIOD_SECONDS,
                    comparison="LessThanThreshold",
                    threshold=probe.alarm_threshold(cfg.health_check_failure_threshold),
                    # Breaching: this alarm is what pages during another region's outage. A canary that stops
                    # reporting (not invoked, throttled, failing, unable to publish) must page too, not stay quiet.
                    missing_data="breaching",
                ),
                logical=ctx.logical(f"canary-{target}"),
                name=alarm_name(ctx, target),
                topic_arn=args.topic_arn,
                opts=ctx.child_opts(self),
            )
            for target in [*sorted(urls), *watched]
        }
        self.register_outputs(
            {"functionName": self.function.name, "alarmNames": {t: a.name for t, a in self.alarms.items()}}
        )
