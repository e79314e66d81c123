"""One Lambda runtime for every function in every region, so regional functions stay identical."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from core import iam
from region_factory.context import RegionContext

RUNTIME = "python3.13"
ARCHITECTURE = "arm64"  # Graviton: cheaper per GB-second, and the Powertools layer ships an arm64 build.
# AWS-managed Powertools for AWS Lambda (Python) v3 layer: published under the same account and
# version number in every commercial region (docs.aws.amazon.com/powertools/python, "Lambda Layer").
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27


def powertools_layer_arn(region: str) -> str:
    python = RUNTIME.replace(".", "")
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-{ARCHITECTURE}:{POWERTOOLS_LAYER_VERSION}"
    )


HTTPS = 443


def aws_apis_egress() -> aws.ec2.SecurityGroupEgressArgs:
    """What every function in a VPC needs: HTTPS to AWS APIs (through the NAT gateways or gateway endpoints)."""
    return aws.ec2.SecurityGroupEgressArgs(
        protocol="tcp", from_port=HTTPS, to_port=HTTPS, cidr_blocks=["0.0.0.0/0"], description="AWS APIs over HTTPS"
    )


def lambda_trust() -> pulumi.Output[str]:
    """Lambda is not documented to send aws:SourceAccount/SourceArn when it assumes an execution role, and
    a condition on a missing key denies: unlike core.iam.service_trust, no condition here."""
    return iam.document(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )


def execution_role(
    logical_name: str, *, name: str, policy: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """Every function's execution role: assumed by Lambda only, with one inline policy of what the function does.
    Functions in a VPC pass the role policy to `function_in_vpc`, which waits for it."""
    role = aws.iam.Role(logical_name, name=name, assume_role_policy=lambda_trust(), opts=opts)
    role_policy = aws.iam.RolePolicy(logical_name, role=role.id, policy=policy, opts=opts)
    return role, role_policy


def function_in_vpc(
    ctx: RegionContext,
    logical_name: str,
    parent: pulumi.Resource,
    *,
    name: str,
    description: str,
    role: aws.iam.Role,
    code: pulumi.Input[pulumi.Archive],
    handler: str,
    memory_mb: int,
    timeout_seconds: int,
    reserved_concurrency: int,
    variables: pulumi.Input[dict],
    subnet_ids: list[pulumi.Output[str]],
    security_group: aws.ec2.SecurityGroup,
    log_group: aws.cloudwatch.LogGroup,
    role_policy: pulumi.Resource,
    active_tracing: bool = False,
) -> aws.lambda_.Function:
    """Every function in the VPC: one runtime, architecture and layer, private subnets, its own log group. (The
    canary alone runs outside the VPC and without the layer: global_resources/canary.py.)"""
    return aws.lambda_.Function(
        logical_name,
        name=name,
        description=description,
        role=role.arn,
        code=code,
        handler=handler,
        runtime=RUNTIME,
        architectures=[ARCHITECTURE],
        layers=[powertools_layer_arn(ctx.region)],
        memory_size=memory_mb,
        timeout=timeout_seconds,
        reserved_concurrent_executions=reserved_concurrency,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
        tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active") if active_tracing else None,
        vpc_config=aws.lambda_.FunctionVpcConfigArgs(subnet_ids=subnet_ids, security_group_ids=[security_group.id]),
        # Powertools writes JSON lines itself; the log group is named explicitly rather than by convention.
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
        # Lambda checks at creation that the role may manage ENIs: the policy must exist first. The log
        # group first too, or Lambda would create an unencrypted one without retention.
        opts=ctx.opts(parent, depends_on=[role_policy, log_group]),
    )


def on_schedule(
    ctx: RegionContext,
    parent: pulumi.Resource,
    logical: str,
    name: str,
    description: str,
    schedule: str,
    function: aws.lambda_.Function,
    max_event_age_seconds: int,
) -> aws.cloudwatch.EventRule:
    """An EventBridge schedule that invokes `function`, never retried: a tick older than
    `max_event_age_seconds` is stale, the next one is on its way (the probe and the canary). Lambda would
    otherwise retry a throttled asynchronous invocation for up to 6 hours."""
    aws.lambda_.FunctionEventInvokeConfig(
        ctx.logical(logical),
        function_name=function.name,
        maximum_retry_attempts=0,
        maximum_event_age_in_seconds=max_event_age_seconds,
        opts=ctx.child_opts(parent),
    )
    rule = aws.cloudwatch.EventRule(
        ctx.logical(logical),
        name=name,
        description=description,
        schedule_expression=schedule,
        opts=ctx.child_opts(parent),
    )
    aws.lambda_.Permission(
        ctx.logical(f"{logical}-schedule"),
        function=function.name,
        action="lambda:InvokeFunction",
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=ctx.child_opts(parent),
    )
    aws.cloudwatch.EventTarget(
        ctx.logical(logical),
        rule=rule.name,
        arn=function.arn,
        retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
            maximum_retry_attempts=0, maximum_event_age_in_seconds=max_event_age_seconds
        ),
        opts=ctx.child_opts(parent),
    )
    return rule
