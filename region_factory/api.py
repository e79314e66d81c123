"""The region's REST API in front of the payment function, and the one custom domain every region serves.

A regional REST API (not an HTTP API): request validation and models, stage and method throttling,
X-Ray tracing and REST v1 proxy events (what the function's resolver reads) exist only there, and the
API Gateway guide's DNS-failover recipe (regional custom domains with the same name in two regions
behind Route 53 failover records) is written for it. docs/service.md, "REST API or HTTP API".

The API is defined as one OpenAPI document (routes, validator, model, integrations, gateway responses):
API Gateway imports it atomically, and the deployment is redeployed whenever the document changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from core import iam, naming
from region_factory.context import RegionContext

# Throttling of GET /health, below the stage's: Route 53 probes it from about 15 locations every 10 or 30
# seconds (under 2 requests a second per health check), and each call costs five AWS calls and a slot of
# the function's reserved concurrency; a flood of /health requests must not take those from payments.
HEALTH_RATE_LIMIT = 20
HEALTH_BURST_LIMIT = 40
# The custom domain's TLS policy: TLS 1.2 minimum (PCI DSS 4.2.1 rules out TLS 1.0/1.1).
SECURITY_POLICY = "TLS_1_2"
# The ACM validation CNAME, same in every region (see _validation_record).
VALIDATION_RECORD_TTL = 300
# API Gateway's lambda proxy integration waits at most 29 s by default; the function gives up after 10.
INTEGRATION_TIMEOUT_MS = 29000
VALIDATOR = "body-and-idempotency-key"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# Placeholders for the hash that triggers redeployments: the same in every region, so deployments stay
# identical across regions while any change to the API definition still redeploys.
_INVOKE_ARN = "${function-invoke-arn}"
_REGION = "${region}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    validated: bool

    @property
    def resource(self) -> str:
        """The method's part of an execute-api ARN: "POST/payments"."""
        return f"{self.method}{self.path}"


ROUTES = (Route("POST", "/payments", validated=True), Route("GET", "/health", validated=False))

# The POST /payments body at the structural level of functions/payment_validation/payment_request.py:
# required fields, JSON types, no unknown fields at any level. Formats, ranges, currencies and limits
# stay with the function, the one authority, whose messages name the field and never echo the value
# (API Gateway's validation messages echo values: a card number in a failed pattern, for example). The
# optional fields the function also accepts as JSON null get no type: OpenAPI 3.0 has no null type.
PAYMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["merchant_id", "amount", "currency", "card"],
    "properties": {
        "merchant_id": {"type": "string"},
        # A string, never a JSON number (binary floats round): the function's rule too.
        "amount": {"type": "string"},
        "currency": {"type": "string"},
        "card": {
            "type": "object",
            "additionalProperties": False,
            "required": ["number", "expiry_month", "expiry_year"],
            "properties": {
                "number": {"type": "string"},
                "expiry_month": {"type": "integer"},
                "expiry_year": {"type": "integer"},
                "cvv": {},
            },
        },
        "description": {},
        "reference": {},
    },
}

# Errors API Gateway answers itself, in the function's error shape (code, message, request_id, region,
# X-Served-Region): clients see one contract whichever layer refused. messageString is API Gateway's own
# JSON-quoted message ("Invalid request body", "Missing required request parameters: [...]"), which
# never carries a value from the request.
GATEWAY_RESPONSES = {
    "BAD_REQUEST_BODY": (400, "invalid_request"),
    "BAD_REQUEST_PARAMETERS": (400, "invalid_request"),
    # REST APIs answer unknown routes with 403 "Missing Authentication Token"; the function's contract is 404.
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),
    "THROTTLED": (429, "throttled"),
}

# Access log: JSON, one line per request. No body, headers or query string (card data must never reach
# a log, docs/payment-validation.md), and no validation error string (it can echo request values).
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "requestTimeEpoch": "$context.requestTimeEpoch",
        "sourceIp": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "domainName": "$context.domainName",
        "stage": "$context.stage",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "protocol": "$context.protocol",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "integrationError": "$context.integrationErrorMessage",
        "errorType": "$context.error.responseType",
        "errorMessage": "$context.error.message",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


def _gateway_response(status: int, code: str, region: str) -> dict[str, Any]:
    body = f'{{"code":"{code}","message":$context.error.messageString,"region":"{region}","request_id":"$context.requestId"}}'
    return {
        "statusCode": status,
        "responseParameters": {
            "gatewayresponse.header.X-Served-Region": f"'{region}'",
            "gatewayresponse.header.Cache-Control": "'no-store'",
        },
        "responseTemplates": {"application/json": body},
    }


def openapi_document(title: str, invoke_arn: str, region: str) -> dict[str, Any]:
    """The whole API: routes, request validation, the payment model, Lambda proxy integrations."""
    integration = {
        "type": "aws_proxy",
        "httpMethod": "POST",  # Lambda is always invoked with POST, whatever the route's method.
        "uri": invoke_arn,
        "passthroughBehavior": "when_no_match",
        "timeoutInMillis": INTEGRATION_TIMEOUT_MS,
    }
    paths: dict[str, Any] = {}
    for route in ROUTES:
        operation: dict[str, Any] = {
            "responses": {"default": {"description": "The function's response (docs/payment-validation.md)"}},
            "x-amazon-apigateway-integration": integration,
        }
        if route.validated:
            operation |= {
                "x-amazon-apigateway-request-validator": VALIDATOR,
                "parameters": [
                    {"name": IDEMPOTENCY_KEY_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaymentRequest"}}},
                },
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.0.1",
        "info": {"title": title, "version": "1.0"},
        "paths": paths,
        "components": {"schemas": {"PaymentRequest": PAYMENT_SCHEMA}},
        "x-amazon-apigateway-request-validators": {
            VALIDATOR: {"validateRequestBody": True, "validateRequestParameters": True},
        },
        "x-amazon-apigateway-gateway-responses": {
            kind: _gateway_response(status, code, region) for kind, (status, code) in GATEWAY_RESPONSES.items()
        },
    }


def definition_hash(title: str) -> str:
    """Changes with the API definition, never with the region (placeholders for what differs)."""
    text = json.dumps(openapi_document(title, _INVOKE_ARN, _REGION), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def apigateway_logs_trust() -> pulumi.Output[str]:
    """API Gateway is not documented to send aws:SourceAccount when it assumes the account's CloudWatch
    role (a condition on a missing key denies), hence no condition."""
    return iam.document(
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )


def apigateway_logs_policy(ctx: RegionContext) -> pulumi.Output[str]:
    """The account-level role serves every REST API of this account in this region (access and execution
    logs), so it is scoped to this account's log groups in this region, not to this stack's."""
    return iam.document(
        iam.statement(
            # AmazonAPIGatewayPushToCloudWatchLogs without its two read actions: API Gateway only writes.
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            [ctx.arn("logs", "log-group:*")],
            sid="ApiGatewayLogsInThisRegion",
        )
    )


@dataclass(frozen=True, kw_only=True)
class PaymentApiArgs:
    context: RegionContext
    function_name: pulumi.Input[str]  # API Gateway's invoke permissions
    function_invoke_arn: pulumi.Input[str]  # the OpenAPI document's integration
    kms_key_arn: pulumi.Input[str]  # the access-log group


class PaymentApi(pulumi.ComponentResource):
    rest_api: aws.apigateway.RestApi
    deployment: aws.apigateway.Deployment
    stage: aws.apigateway.Stage
    access_log_group: aws.cloudwatch.LogGroup
    account: aws.apigateway.Account | None
    certificate: aws.acm.Certificate
    validation_record: aws.route53.Record
    certificate_validation: aws.acm.CertificateValidation
    domain: aws.apigateway.DomainName
    mapping: aws.apigateway.BasePathMapping
    health_check_fqdn: pulumi.Output[str]
    health_check_path: str

    def __init__(self, name: str, args: PaymentApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:PaymentApi", name, None, opts)
        ctx = self.ctx = args.context
        cfg = ctx.cfg
        title = ctx.name(naming.API)
        stage_name = ctx.name(naming.API_STAGE)
        self.rest_api = aws.apigateway.RestApi(
            ctx.logical("api"),
            name=title,
            description="payment-dr payment API (docs/service.md)",
            body=pulumi.Output.from_input(args.function_invoke_arn).apply(
                lambda arn: json.dumps(openapi_document(title, arn, ctx.region), sort_keys=True)
            ),
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            # A warning while importing the document (an ignored extension, a bad schema) fails the update.
            fail_on_warnings=True,
            opts=ctx.child_opts(self),
        )
        self.deployment = aws.apigateway.Deployment(
            ctx.logical("api"),
            rest_api=self.rest_api.id,
            description="payment-dr payment API",
            # A deployment is a snapshot: without this, changes to the document would never go live.
            triggers={"definition": definition_hash(title)},
            opts=ctx.child_opts(self),
        )
        self.access_log_group = ctx.log_group(
            "api-access", f"/aws/apigateway/{ctx.name(naming.API_ACCESS_LOGS)}", args.kms_key_arn, self
        )
        self.account = self._account() if cfg.manage_api_gateway_account else None
        self.stage = aws.apigateway.Stage(
            ctx.logical("api"),
            rest_api=self.rest_api.id,
            deployment=self.deployment.id,
            stage_name=stage_name,
            xray_tracing_enabled=True,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=self.access_log_group.arn,
                format=ACCESS_LOG_FORMAT,
            ),
            # Access logging fails to enable until the account's CloudWatch role is set.
            opts=ctx.child_opts(self, depends_on=[self.account] if self.account else None),
        )
        self._method_settings("*/*", cfg.api_throttle_rate_limit, cfg.api_throttle_burst_limit, "all")
        self._method_settings(
            "health/GET",
            min(HEALTH_RATE_LIMIT, cfg.api_throttle_rate_limit),
            min(HEALTH_BURST_LIMIT, cfg.api_throttle_burst_limit),
            "health",
        )
        self._allow_invocations(args.function_name, stage_name)
        self.certificate, self.validation_record, self.certificate_validation = self._certificate()
        self.domain = aws.apigateway.DomainName(
            ctx.logical("api-domain"),
            domain_name=cfg.domain_name,
            regional_certificate_arn=self.certificate_validation.certificate_arn,
            endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(types="REGIONAL"),
            security_policy=SECURITY_POLICY,
            tags={"Name": ctx.name(naming.API)},
            opts=ctx.child_opts(self),
        )
        # The domain's root serves the stage: https://<domainName>/payments in every region.
        self.mapping = aws.apigateway.BasePathMapping(
            ctx.logical("api-domain"),
            domain_name=self.domain.domain_name,
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            opts=ctx.child_opts(self),
        )
        # The execute-api endpoint stays enabled for this: Route 53 checks each region on its own host.
        self.health_check_fqdn = pulumi.Output.concat(self.rest_api.id, f".execute-api.{ctx.region}.amazonaws.com")
        self.health_check_path = f"/{stage_name}/health"
        self.register_outputs(
            {
                "restApiId": self.rest_api.id,
                "stageName": self.stage.stage_name,
                "regionalDomainName": self.domain.regional_domain_name,
                "regionalZoneId": self.domain.regional_zone_id,
            }
        )

    def _account(self) -> aws.apigateway.Account:
        """API Gateway's CloudWatch role: one setting per account and region, and since the v6 Terraform
        provider (pulumi-aws v7) destroying the resource resets it
        (https://github.com/hashicorp/terraform-provider-aws/issues/42226). Only one stack per account may manage it:
        manageApiGatewayAccount=false on every other (docs/service.md)."""
        ctx = self.ctx
        role = aws.iam.Role(
            ctx.logical("apigateway-logs"),
            name=ctx.name(naming.API_GATEWAY_LOGS_ROLE),
            assume_role_policy=apigateway_logs_trust(),
            opts=ctx.child_opts(self),
        )
        policy = aws.iam.RolePolicy(
            ctx.logical("apigateway-logs"), role=role.id, policy=apigateway_logs_policy(ctx), opts=ctx.child_opts(self)
        )
        return aws.apigateway.Account(
            ctx.logical("apigateway-account"),
            cloudwatch_role_arn=role.arn,
            opts=ctx.child_opts(self, depends_on=[policy]),
        )

    def _method_settings(self, method_path: str, rate: int, burst: int, label: str) -> None:
        ctx = self.ctx
        aws.apigateway.MethodSettings(
            ctx.logical(f"api-{label}"),
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path=method_path,
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_rate_limit=rate,
                throttling_burst_limit=burst,
                metrics_enabled=True,
                # No execution logs: at INFO with data tracing they would hold request bodies (card
                # numbers); access logs and metrics cover operations.
                logging_level="OFF",
                data_trace_enabled=False,
            ),
            opts=ctx.child_opts(self),
        )

    def _allow_invocations(self, function_name: pulumi.Input[str], stage_name: str) -> None:
        """API Gateway may invoke the function only for this API's routes on this stage."""
        ctx = self.ctx
        for route in ROUTES:
            label = f"{route.method.lower()}-{route.path.strip('/').replace('/', '-')}"
            aws.lambda_.Permission(
                ctx.logical(f"api-invoke-{label}"),
                function=function_name,
                action="lambda:InvokeFunction",
                principal="apigateway.amazonaws.com",
                statement_id=f"api-gateway-{label}",
                source_arn=pulumi.Output.concat(self.rest_api.execution_arn, f"/{stage_name}/{route.resource}"),
                opts=ctx.child_opts(self),
            )

    def _certificate(self) -> tuple[aws.acm.Certificate, aws.route53.Record, aws.acm.CertificateValidation]:
        """ACM certificates are regional: each region requests its own for the one domain name.

        ACM gives the same validation CNAME for a domain name in every region of an account ("the CNAME
        validation token works for any AWS Region", ACM guide, DNS validation), so every region declares
        that same record: allow_overwrite lets the second region's upsert meet the first's, and
        retain_on_delete keeps a region's removal from deleting the record the other regions' certificates
        need to renew. The cost: after `pulumi destroy` the CNAME stays in the zone (docs/service.md)."""
        ctx = self.ctx
        certificate = aws.acm.Certificate(
            ctx.logical("api-certificate"),
            domain_name=ctx.cfg.domain_name,
            validation_method="DNS",
            tags={"Name": ctx.name(naming.API)},
            opts=ctx.child_opts(self),
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            ctx.logical("api-certificate-validation"),
            zone_id=ctx.shared.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=VALIDATION_RECORD_TTL,
            allow_overwrite=True,
            opts=ctx.child_opts(self, retain_on_delete=True),
        )
        validation = aws.acm.CertificateValidation(
            ctx.logical("api-certificate"),
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=ctx.child_opts(self),
        )
        return certificate, record, validation
