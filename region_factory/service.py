"""The payment validation service of one region: the Lambda function with its execution role, security
group, log group and on-failure queue; the REST API and custom domain in front of it are built by
``region_factory/api.py``. Every region gets the same function from the same code and the same settings;
only the resources it is pointed at (this region's buckets, table replicas, secret replica, key) differ.
docs/service.md explains the choices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from core import iam, naming
from core.config import ConfigError, StackConfig
from functions.payment_validation import payment_money
from region_factory import lambda_runtime
from region_factory.api import PaymentApi, PaymentApiArgs
from region_factory.context import RegionContext
from region_factory.storage import BucketRef

ROOT = Path(__file__).resolve().parent.parent
# The code asset, relative to the project directory (Pulumi runs the program there), so the state does
# not record where a checkout lives. Powertools comes from the managed layer, boto3 from the runtime.
FUNCTION_DIR = "functions/payment_validation"
HANDLER = "app.lambda_handler"
# The import alone takes about 0.5 s (docs/payment-validation.md, "Measured performance"); Lambda gives
# CPU in proportion to memory, so 1 GB keeps cold starts short for a small premium per request.
MEMORY_MB = 1024
# SDK calls time out after 1 s + 3 s, three attempts: 10 s keeps answers well inside API Gateway's 29 s.
TIMEOUT_SECONDS = 10
SERVICE_NAME = "payment-validator"
METRICS_NAMESPACE = "PaymentDR/Payments"
LOG_LEVEL = "INFO"
# Where the function writes (functions/payment_validation/payment_store.py): "<prefix>/YYYY/MM/DD/<id>.json".
RECEIPTS_PREFIX = "receipts"
AUDIT_PREFIX = "audit"
# Failed asynchronous invocations: kept for the longest time SQS allows, to be investigated by a person.
FAILURE_QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
FAILED_EVENT_MAX_AGE_SECONDS = 3600


def code_archive() -> pulumi.AssetArchive:
    """The function's own files, listed one by one: a directory archive would also pick up the
    __pycache__ of local test runs, changing the code hash (and redeploying) from machine to machine."""
    folder = ROOT / FUNCTION_DIR
    names = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    handler_file = HANDLER.split(".")[0] + ".py"
    if handler_file not in names:
        raise FileNotFoundError(f"{FUNCTION_DIR} has no {handler_file}: the function's code asset is missing")
    return pulumi.AssetArchive({name: pulumi.FileAsset(f"{FUNCTION_DIR}/{name}") for name in names})


def check_function_settings(cfg: StackConfig) -> None:
    """The function refuses to start (an init error in every region at once) on a currency whose minor
    unit it does not know; stop here instead, naming the setting."""
    unknown = sorted(set(cfg.allowed_currencies) - payment_money.MINOR_UNITS.keys())
    if unknown:
        raise ConfigError(
            [
                f"allowedCurrencies={list(cfg.allowed_currencies)!r}: the payment function knows no minor unit for "
                f"{', '.join(unknown)}; allowed: {', '.join(sorted(payment_money.MINOR_UNITS))} "
                "(functions/payment_validation/payment_money.py)"
            ]
        )


def environment(
    cfg: StackConfig, receipts_bucket: pulumi.Input[str], audit_bucket: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """Exactly the variables functions/payment_validation/payment_settings.py reads. Tables and secret
    carry the same name in every region (global tables, replicated secret); the buckets are this region's."""
    return {
        "TRANSACTIONS_TABLE_NAME": cfg.namer(naming.TRANSACTIONS_TABLE),
        "IDEMPOTENCY_TABLE_NAME": cfg.namer(naming.IDEMPOTENCY_TABLE),
        "RECEIPTS_BUCKET_NAME": receipts_bucket,
        "AUDIT_BUCKET_NAME": audit_bucket,
        "CARD_HASH_SECRET_NAME": cfg.namer(naming.CARD_HASH_SECRET),
        "MAX_TRANSACTION_AMOUNT": cfg.max_transaction_amount,
        "ALLOWED_CURRENCIES": ",".join(cfg.allowed_currencies),
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
    }


# Statements whose resources cannot be this stack's ARNs, and why (tests/infra/test_service.py holds
# every other statement to this region's and this stack's resources).
XRAY_SID = "XRayWritesTraces"  # X-Ray has no resource-level permissions: "*" is the only resource.
VPC_DESCRIBE_SID = "VpcDescribe"  # EC2 Describe* calls work only on "*" (Lambda docs, configuration-vpc).
# Lambda creates and deletes the function's ENIs with this role; their ids are unknown in advance, so the
# resources are named by type, in this account and region: the resource types the EC2 service authorization
# reference lists for these actions (CreateNetworkInterface: network-interface, subnet, security-group; the
# others: network-interface), https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
VPC_ENI_SID = "VpcNetworkInterfaces"
ENI_RESOURCE_TYPES = ("network-interface", "subnet", "security-group")
REGION_WIDE_SIDS = (XRAY_SID, VPC_DESCRIBE_SID, VPC_ENI_SID)


def vpc_access_statements(ctx: RegionContext) -> list[dict[str, Any]]:
    """What Lambda needs, with a VPC function's execution role, to manage the function's network
    interfaces (the actions of AWSLambdaVPCAccessExecutionRole, without its logs:* on "*")."""
    return [
        iam.statement(["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], ["*"], sid=VPC_DESCRIBE_SID),
        iam.statement(
            [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            [ctx.arn("ec2", f"{kind}/*") for kind in ENI_RESOURCE_TYPES],
            sid=VPC_ENI_SID,
        ),
    ]


def execution_policy(
    ctx: RegionContext,
    *,
    log_group_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    queue_arn: pulumi.Input[str],
    receipts_bucket_arn: pulumi.Output[str],
    audit_bucket_arn: pulumi.Output[str],
) -> pulumi.Output[str]:
    """What the function does (docs/payment-validation.md, "Deployment notes"), on this region's copies."""
    cfg = ctx.cfg
    transactions = ctx.arn("dynamodb", f"table/{cfg.namer(naming.TRANSACTIONS_TABLE)}")
    idempotency = ctx.arn("dynamodb", f"table/{cfg.namer(naming.IDEMPOTENCY_TABLE)}")
    # Secrets Manager appends "-" and six random characters to a secret's ARN; "??????" matches exactly
    # those, where "*" would also match a secret named "<name>-something".
    secret = ctx.arn("secretsmanager", f"secret:{cfg.namer(naming.CARD_HASH_SECRET)}-??????")
    via = [f"{service}.{ctx.region}.amazonaws.com" for service in ("dynamodb", "s3", "secretsmanager", "sqs")]
    return iam.document(
        iam.own_log_group(log_group_arn),
        # No index ARNs: the function writes and describes the tables; nothing in it queries merchant-time-index.
        iam.statement(
            ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable"],
            [transactions],
            sid="TransactionsReplica",
        ),
        iam.statement(
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
            ],
            [idempotency],
            sid="IdempotencyReplica",
        ),
        iam.statement(
            ["s3:PutObject"],
            [
                receipts_bucket_arn.apply(lambda arn: f"{arn}/{RECEIPTS_PREFIX}/*"),
                audit_bucket_arn.apply(lambda arn: f"{arn}/{AUDIT_PREFIX}/*"),
            ],
            sid="WriteReceiptsAndAuditRecords",
        ),
        # HeadBucket (GET /health) is authorised by s3:ListBucket on the bucket.
        iam.statement(["s3:ListBucket"], [receipts_bucket_arn, audit_bucket_arn], sid="HeadOwnBuckets"),
        iam.statement(["secretsmanager:GetSecretValue"], [secret], sid="CardHashSecretReplica"),
        # The region's key encrypts the table replicas, buckets, secret replica and failure queue; the
        # function only ever uses it through those services.
        iam.statement(
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            [key_arn],
            sid="RegionKeyThroughItsServices",
            conditions={"StringEquals": {"kms:ViaService": via}},
        ),
        iam.statement(["sqs:SendMessage"], [queue_arn], sid="OnFailureDestination"),
        iam.statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"], sid=XRAY_SID),
        *vpc_access_statements(ctx),
    )


@dataclass(frozen=True, kw_only=True)
class PaymentServiceArgs:
    context: RegionContext
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]  # the function's VPC attachment, one per AZ
    kms_key_arn: pulumi.Input[str]  # logs, the failure queue, and what the function encrypts and decrypts
    receipts_bucket: BucketRef
    audit_bucket: BucketRef


class PaymentService(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    security_group: aws.ec2.SecurityGroup
    log_group: aws.cloudwatch.LogGroup
    failure_queue: aws.sqs.Queue
    api: PaymentApi
    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    domain: aws.apigateway.DomainName
    certificate: aws.acm.Certificate
    # The region's own execute-api host and the stage's health path, for Route 53 health checks that
    # must reach this region directly rather than through the failover name.
    health_check_fqdn: pulumi.Output[str]
    health_check_path: str

    def __init__(self, name: str, args: PaymentServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:PaymentService", name, None, opts)
        ctx = args.context
        check_function_settings(ctx.cfg)
        function_name = ctx.name(naming.VALIDATOR_FUNCTION)
        self.log_group = ctx.log_group("validator", f"/aws/lambda/{function_name}", args.kms_key_arn, self)
        self.failure_queue = aws.sqs.Queue(
            ctx.logical("validator-failures"),
            name=ctx.name(naming.VALIDATOR_DLQ),
            # A failed event is an API Gateway request, card number included: encrypted with the region's key.
            kms_master_key_id=args.kms_key_arn,
            kms_data_key_reuse_period_seconds=300,
            message_retention_seconds=FAILURE_QUEUE_RETENTION_SECONDS,
            opts=ctx.child_opts(self),
        )
        self.security_group = aws.ec2.SecurityGroup(
            ctx.logical("validator"),
            name=ctx.name(naming.VALIDATOR_SG),
            description="payment-dr payment validator: no inbound, HTTPS out only",
            vpc_id=args.vpc_id,
            # DynamoDB and S3 through the gateway endpoints, Secrets Manager through the NAT: all HTTPS.
            egress=[lambda_runtime.aws_apis_egress()],
            tags={"Name": ctx.name(naming.VALIDATOR_SG)},
            opts=ctx.child_opts(self),
        )
        self.role, policy = lambda_runtime.execution_role(
            ctx.logical("validator"),
            name=ctx.name(naming.VALIDATOR_ROLE),
            policy=execution_policy(
                ctx,
                log_group_arn=self.log_group.arn,
                key_arn=args.kms_key_arn,
                queue_arn=self.failure_queue.arn,
                receipts_bucket_arn=args.receipts_bucket.arn,
                audit_bucket_arn=args.audit_bucket.arn,
            ),
            opts=ctx.child_opts(self),
        )
        self.function = lambda_runtime.function_in_vpc(
            ctx,
            ctx.logical("validator"),
            self,
            name=function_name,
            description="payment-dr payment validation (POST /payments, GET /health)",
            role=self.role,
            code=code_archive(),
            handler=HANDLER,
            memory_mb=MEMORY_MB,
            timeout_seconds=TIMEOUT_SECONDS,
            reserved_concurrency=ctx.cfg.lambda_reserved_concurrency,
            variables=environment(ctx.cfg, args.receipts_bucket.name, args.audit_bucket.name),
            subnet_ids=list(args.private_subnet_ids),
            security_group=self.security_group,
            log_group=self.log_group,
            role_policy=policy,
            active_tracing=True,
        )
        # API Gateway invokes synchronously, where neither a DLQ nor a destination applies: the client gets
        # the error. This catches asynchronous invocations only (an operator's `--invocation-type Event`,
        # a future event source), with the error and the request, and does not retry them: nobody waits for
        # the result, a person should look at it.
        aws.lambda_.FunctionEventInvokeConfig(
            ctx.logical("validator"),
            function_name=self.function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=FAILED_EVENT_MAX_AGE_SECONDS,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.failure_queue.arn
                ),
            ),
            opts=ctx.child_opts(self),
        )
        self.api = PaymentApi(
            ctx.logical("payment-api"),
            PaymentApiArgs(
                context=ctx,
                function_name=self.function.name,
                function_invoke_arn=self.function.invoke_arn,
                kms_key_arn=args.kms_key_arn,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.rest_api = self.api.rest_api
        self.stage = self.api.stage
        self.domain = self.api.domain
        self.certificate = self.api.certificate
        self.health_check_fqdn = self.api.health_check_fqdn
        self.health_check_path = self.api.health_check_path
        self.register_outputs(
            {
                "functionArn": self.function.arn,
                "restApiId": self.rest_api.id,
                "healthCheckFqdn": self.health_check_fqdn,
                "regionalDomainName": self.domain.regional_domain_name,
            }
        )
