"""The ledger poster of one region (functions/ledger/poster.py, docs/data-tier.md "The ledger").

Every region runs the same poster on its own replica's stream: each replica's stream carries every
payment, posting is idempotent, so the ledger stays complete while any one region is up. What this
module declares is the region's own part: the function in the private subnets, its security group,
its execution role, the on-failure queue. What names other regions or the global data tier is
declared by global_resources/ledger.py: the stream mapping (the replica's stream ARN exists once the
table does), the egress to the other regions' VPCs, and the `rds-db:connect` grants, one policy per
cluster, so a new region only adds resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import iam, naming
from region_factory import lambda_runtime, packaging
from region_factory.context import RegionContext
from region_factory.database import PORT
from region_factory.service import vpc_access_statements

HANDLER = "poster.lambda_handler"
SERVICE_NAME = "payment-ledger-poster"
# The drctl helper and the alarm read exactly this: no dimensions.
METRIC_NAMESPACE = "PaymentDR/Ledger"
METRIC_NAME = "OldestUnpostedSeconds"
DATABASE = "payments"  # global_resources/secrets.DATABASE_NAME (a test keeps them equal)
MEMORY_MB = 256
TIMEOUT_SECONDS = 60
# Stream shards x parallelization factor bounds the pollers; this bounds the connections to the writer.
RESERVED_CONCURRENCY = 10
CONNECT_TIMEOUT_SECONDS = 5
FAILURE_QUEUE_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: time to investigate and replay


def environment(ctx: RegionContext) -> dict[str, str]:
    """Exactly the variables functions/ledger/poster.py reads."""
    return {
        "GLOBAL_CLUSTER_IDENTIFIER": ctx.cfg.namer(naming.GLOBAL_CLUSTER),
        "DB_NAME": DATABASE,
        "METRIC_NAMESPACE": METRIC_NAMESPACE,
        "CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT_SECONDS),
        "DB_SSL_MODE": "require",
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    }


def stream_arn_pattern(ctx: RegionContext) -> str:
    return ctx.arn("dynamodb", f"table/{ctx.cfg.namer(naming.TRANSACTIONS_TABLE)}/stream/*")


def execution_policy(
    ctx: RegionContext, log_group_arn: pulumi.Output[str], key_arn: pulumi.Input[str], queue_arn: pulumi.Input[str]
) -> pulumi.Output[str]:
    """This region's own resources only; the per-cluster login grants come from global_resources/ledger.py."""
    global_cluster = ctx.arn("rds", f"global-cluster:{ctx.cfg.namer(naming.GLOBAL_CLUSTER)}", regional=False)
    return iam.document(
        iam.own_log_group(log_group_arn),
        # Lambda reads the stream with the execution role (DynamoDB Developer Guide,
        # iam-policy-example-lamda-process-dynamodb-streams.html): this region's replica only.
        iam.statement(
            ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
            [stream_arn_pattern(ctx)],
            sid="OwnReplicaStream",
        ),
        # The table and its stream are encrypted with this region's key; the on-failure queue too.
        iam.statement(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [key_arn],
            sid="RegionKeyThroughItsServices",
            conditions={
                "StringEquals": {
                    "kms:ViaService": [f"dynamodb.{ctx.region}.amazonaws.com", f"sqs.{ctx.region}.amazonaws.com"]
                }
            },
        ),
        iam.statement(["sqs:SendMessage"], [queue_arn], sid="OnFailureDestination"),
        # Which cluster is the writer now.
        iam.statement(["rds:DescribeGlobalClusters"], [global_cluster], sid="DescribeGlobalCluster"),
        iam.put_metrics("PutLedgerLag", METRIC_NAMESPACE),
        # Lambda manages the function's network interfaces with this role, by resource type (as for the others).
        *vpc_access_statements(ctx),
    )


def egress(
    ctx: RegionContext,
    logical: str,
    security_group_id: pulumi.Input[str],
    parent: pulumi.Resource,
    *,
    port: int,
    cidr: str,
    description: str,
) -> aws.vpc.SecurityGroupEgressRule:
    """Egress as separate rules (the group declares none inline), so other regions' rules can be added later."""
    return aws.vpc.SecurityGroupEgressRule(
        logical,
        security_group_id=security_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        cidr_ipv4=cidr,
        description=description,
        opts=ctx.opts(parent),
    )


@dataclass(frozen=True, kw_only=True)
class LedgerPosterArgs:
    context: RegionContext
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]  # the function's VPC attachment, one per AZ
    kms_key_arn: pulumi.Input[str]  # its log group and failure queue


class LedgerPoster(pulumi.ComponentResource):
    function: aws.lambda_.Function
    security_group: aws.ec2.SecurityGroup
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    failure_queue: aws.sqs.Queue
    bundle: object  # the pulumi-command build; the migrator in the data home region runs the same archive

    def __init__(self, name: str, args: LedgerPosterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:LedgerPoster", name, None, opts)
        ctx = args.context
        function_name = ctx.name(naming.LEDGER_POSTER_FUNCTION)
        self.security_group = aws.ec2.SecurityGroup(
            ctx.logical("ledger-poster"),
            name=ctx.name(naming.LEDGER_POSTER_SG),
            description="payment-dr ledger poster: no inbound; PostgreSQL to the writer (any region's VPC), HTTPS out",
            vpc_id=args.vpc_id,
            tags={"Name": ctx.name(naming.LEDGER_POSTER_SG)},
            opts=ctx.child_opts(self),
        )
        egress(
            ctx,
            ctx.logical("ledger-poster-https"),
            self.security_group.id,
            self,
            port=lambda_runtime.HTTPS,
            cidr="0.0.0.0/0",
            description="AWS APIs over HTTPS (RDS, CloudWatch, SQS)",
        )
        egress(
            ctx,
            ctx.logical("ledger-poster-db"),
            self.security_group.id,
            self,
            port=PORT,
            cidr=ctx.spec.cidr,
            description="PostgreSQL in this VPC (the writer when it is this region's cluster)",
        )
        self.failure_queue = aws.sqs.Queue(
            ctx.logical("ledger-failures"),
            name=ctx.name(naming.LEDGER_FAILURES_QUEUE),
            # Lambda sends the failed batch's stream coordinates, not the payment: still encrypted with the region's key.
            kms_master_key_id=args.kms_key_arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=FAILURE_QUEUE_RETENTION_SECONDS,
            opts=ctx.child_opts(self),
        )
        log_group = ctx.log_group("ledger-poster", f"/aws/lambda/{function_name}", args.kms_key_arn, self)
        self.role, self.role_policy = lambda_runtime.execution_role(
            ctx.logical("ledger-poster"),
            name=ctx.name(naming.LEDGER_POSTER_ROLE),
            policy=execution_policy(ctx, log_group.arn, args.kms_key_arn, self.failure_queue.arn),
            opts=ctx.child_opts(self),
        )
        self.bundle = packaging.bundle(packaging.LEDGER, ctx.logical("ledger-bundle"), ctx.region, self)
        self.function = lambda_runtime.function_in_vpc(
            ctx,
            ctx.logical("ledger-poster"),
            self,
            name=function_name,
            description="payment-dr ledger poster: accepted payments from this region's stream into the ledger (idempotent)",
            role=self.role,
            code=self.bundle.archive,
            handler=HANDLER,
            memory_mb=MEMORY_MB,
            timeout_seconds=TIMEOUT_SECONDS,
            reserved_concurrency=RESERVED_CONCURRENCY,
            variables=environment(ctx),
            subnet_ids=list(args.private_subnet_ids),
            security_group=self.security_group,
            log_group=log_group,
            role_policy=self.role_policy,
        )
        self.register_outputs({"functionArn": self.function.arn, "failureQueue": self.failure_queue.name})
