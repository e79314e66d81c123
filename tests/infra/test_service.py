"""The payment service's deployment: one function, API and custom domain per region (docs/service.md)."""

from __future__ import annotations

import json
import sys

import pytest

from core import config as stack_config
from core import naming
from plan import engine
from plan.engine import Evaluation, ResourceRecord
from region_factory import api, lambda_runtime, service
from tests.conftest import ROOT, example_config
from tests.infra.helpers import as_list, normalise, policy_statements, regional_key

SERVICE = "payment-dr:region:PaymentService"
THREE = ("us-east-1", "us-east-2", "us-west-2")
FUNCTION = "aws:lambda/function:Function"
ENV_KEYS = {
    "TRANSACTIONS_TABLE_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "RECEIPTS_BUCKET_NAME",
    "AUDIT_BUCKET_NAME",
    "CARD_HASH_SECRET_NAME",
    "MAX_TRANSACTION_AMOUNT",
    "ALLOWED_CURRENCIES",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
# Settings changed from the example stack's, to see each one reach its resource.
TUNED = {
    "manageApiGatewayAccount": False,
    "lambdaReservedConcurrency": 7,
    "apiThrottleRateLimit": 123,
    "apiThrottleBurstLimit": 30,
    "logRetentionDays": 30,
    "allowedCurrencies": ["USD", "KWD"],
    "maxTransactionAmount": "250.5",
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
}


@pytest.fixture(scope="module")
def tuned() -> Evaluation:
    raw = {**example_config(), **TUNED}
    del raw["hostedZoneName"]
    return engine.evaluate(raw)


def mine(evaluation: Evaluation, type_: str, region: str) -> list[ResourceRecord]:
    return [r for r in evaluation.in_component(SERVICE) if r.type == type_ and r.region == region]


def one(evaluation: Evaluation, type_: str, region: str) -> ResourceRecord:
    [record] = mine(evaluation, type_, region)
    return record


def body(evaluation: Evaluation, region: str) -> dict:
    return json.loads(one(evaluation, "aws:apigateway/restApi:RestApi", region).inputs["body"])


# --- the function ------------------------------------------------------------------------------------


def test_every_region_runs_the_same_function_from_the_same_code(three_regions, config):
    functions = {region: one(three_regions, FUNCTION, region) for region in THREE}
    reference = normalise(functions["us-east-1"].inputs, "us-east-1")
    for region, function in functions.items():
        inputs = function.inputs
        assert normalise(inputs, region) == reference, region
        assert inputs["name"] == "payment-validator-dev" and inputs["handler"] == "app.lambda_handler"
        assert inputs["runtime"] == "python3.13" and inputs["architectures"] == ["arm64"]
        assert inputs["layers"] == [lambda_runtime.powertools_layer_arn(region)]
        assert inputs["tracingConfig"] == {"mode": "Active"}
        assert inputs["reservedConcurrentExecutions"] == stack_config.parse(config).lambda_reserved_concurrency
        assert inputs["memorySize"] == service.MEMORY_MB and inputs["timeout"] == service.TIMEOUT_SECONDS
        assert set(inputs["environment"]["variables"]) == ENV_KEYS
    # The asset is the function's folder, file by file, relative to the project.
    archive = functions["us-east-1"].inputs["code"]["archive"]
    folder = ROOT / "functions" / "payment_validation"
    files = {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert set(archive) == {f for f in files if not f.endswith(".pyc")} and "app.py" in archive
    assert all(entry == {"FileAsset": f"functions/payment_validation/{name}"} for name, entry in archive.items())


def test_environment_points_at_this_regions_resources(three_regions, config):
    parsed = stack_config.parse(config)
    for region in THREE:
        variables = one(three_regions, FUNCTION, region).inputs["environment"]["variables"]
        for variable, kind in (("RECEIPTS_BUCKET_NAME", "receipts"), ("AUDIT_BUCKET_NAME", "audit")):
            bucket = three_regions.by_output("bucket", variables[variable], "aws:s3/bucket:Bucket")
            assert bucket.region == region and kind in bucket.name
        tables = {t.inputs["name"] for t in three_regions.of_type("aws:dynamodb/table:Table")}
        assert {variables["TRANSACTIONS_TABLE_NAME"], variables["IDEMPOTENCY_TABLE_NAME"]} == tables
        assert variables["TRANSACTIONS_TABLE_NAME"] == parsed.namer(naming.TRANSACTIONS_TABLE)
        [secret] = [
            s
            for s in three_regions.of_type("aws:secretsmanager/secret:Secret")
            if s.inputs["name"] == variables["CARD_HASH_SECRET_NAME"]
        ]
        assert region in {r["region"] for r in secret.inputs.get("replicas", [])} | {secret.region}
        assert (
            variables["MAX_TRANSACTION_AMOUNT"] == "10000.00" and variables["ALLOWED_CURRENCIES"] == "USD,EUR,GBP,JPY"
        )
        assert (
            variables["POWERTOOLS_SERVICE_NAME"],
            variables["POWERTOOLS_METRICS_NAMESPACE"],
            variables["POWERTOOLS_LOG_LEVEL"],
        ) == ("payment-validator", "PaymentDR/Payments", "INFO")


def test_function_settings_follow_the_config(tuned):
    function = one(tuned, FUNCTION, "us-east-2").inputs
    assert function["reservedConcurrentExecutions"] == 7
    assert function["environment"]["variables"]["ALLOWED_CURRENCIES"] == "USD,KWD"
    assert function["environment"]["variables"]["MAX_TRANSACTION_AMOUNT"] == "250.5"
    groups = mine(tuned, "aws:cloudwatch/logGroup:LogGroup", "us-east-2")
    assert len(groups) == 2 and {g.inputs["retentionInDays"] for g in groups} == {30}


def test_a_currency_the_function_cannot_format_stops_the_program(config):
    config["allowedCurrencies"] = ["USD", "XTS"]
    with pytest.raises(stack_config.ConfigError, match=r"allowedCurrencies=.*no minor unit for XTS"):
        service.check_function_settings(stack_config.parse(config))
    config["allowedCurrencies"] = ["USD", "KWD"]
    service.check_function_settings(stack_config.parse(config))


def test_code_archive_leaves_bytecode_out_and_needs_the_handler(tmp_path, monkeypatch):
    folder = tmp_path / service.FUNCTION_DIR
    (folder / "__pycache__").mkdir(parents=True)
    (folder / "app.py").write_text("")
    (folder / "payment_money.py").write_text("")
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"")
    (folder / "legacy.pyc").write_bytes(b"")
    monkeypatch.setattr(service, "ROOT", tmp_path)
    assert sorted(service.code_archive().assets) == ["app.py", "payment_money.py"]
    (folder / "app.py").unlink()
    with pytest.raises(FileNotFoundError, match=r"app\.py"):
        service.code_archive()


def test_function_sits_in_private_subnets_behind_an_https_only_security_group(dev):
    for region in ("us-east-1", "us-east-2"):
        vpc_config = one(dev, FUNCTION, region).inputs["vpcConfig"]
        subnets = [dev.by_output("id", subnet_id, "aws:ec2/subnet:Subnet") for subnet_id in vpc_config["subnetIds"]]
        assert (
            len(subnets) == 3
            and {s.inputs["tags"]["Tier"] for s in subnets} == {"private"}
            and {s.region for s in subnets} == {region}
        )
        [group_id] = vpc_config["securityGroupIds"]
        group = dev.by_output("id", group_id, "aws:ec2/securityGroup:SecurityGroup")
        assert group in mine(dev, "aws:ec2/securityGroup:SecurityGroup", region)
        assert not group.inputs.get("ingress")
        assert group.inputs["egress"] == [
            {
                "protocol": "tcp",
                "fromPort": 443,
                "toPort": 443,
                "cidrBlocks": ["0.0.0.0/0"],
                "description": "AWS APIs over HTTPS",
            }
        ]


def test_log_group_and_failure_queue_are_encrypted_with_the_regions_key(dev, config):
    retention = stack_config.parse(config).log_retention_days
    for region in ("us-east-1", "us-east-2"):
        function = one(dev, FUNCTION, region)
        [log_group] = [
            g
            for g in mine(dev, "aws:cloudwatch/logGroup:LogGroup", region)
            if g.inputs["name"].startswith("/aws/lambda/")
        ]
        assert log_group.inputs["name"] == "/aws/lambda/payment-validator-dev"
        assert function.inputs["loggingConfig"]["logGroup"] == log_group.inputs["name"]
        assert log_group.urn in function.dependencies
        queue = one(dev, "aws:sqs/queue:Queue", region)
        assert queue.inputs["name"] == "payment-validator-dlq-dev"
        for record, key_input in ((log_group, "kmsKeyId"), (queue, "kmsMasterKeyId")):
            key = dev.by_output("arn", record.inputs[key_input])
            assert key.type == "aws:kms/key:Key" and key.region == region
        assert log_group.inputs["retentionInDays"] == retention
        invoke_config = one(dev, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", region).inputs
        assert invoke_config["functionName"] == function.inputs["name"]
        assert invoke_config["destinationConfig"]["onFailure"]["destination"] == queue.outputs["arn"]
        assert invoke_config["maximumRetryAttempts"] == 0


# --- least privilege ---------------------------------------------------------------------------------


def allowed_resources(evaluation: Evaluation, region: str) -> set[str]:
    """Every ARN the function's own statements may name: this region's copies of this stack's resources."""
    suffix = "dev"
    [log_group] = [
        g
        for g in mine(evaluation, "aws:cloudwatch/logGroup:LogGroup", region)
        if g.inputs["name"].startswith("/aws/lambda/")
    ]
    buckets = {
        b.name.split("-")[-2]: b.outputs["arn"]
        for b in evaluation.of_type("aws:s3/bucket:Bucket")
        if b.region == region
    }
    key = regional_key(evaluation, region)
    account = engine.MOCK_ACCOUNT_ID
    return {
        log_group.outputs["arn"],
        f"{log_group.outputs['arn']}:*",
        f"arn:aws:dynamodb:{region}:{account}:table/payment-transactions-{suffix}",
        f"arn:aws:dynamodb:{region}:{account}:table/payment-idempotency-{suffix}",
        f"{buckets['receipts']}/receipts/*",
        f"{buckets['audit']}/audit/*",
        buckets["receipts"],
        buckets["audit"],
        f"arn:aws:secretsmanager:{region}:{account}:secret:payment-card-hash-key-{suffix}-??????",
        key.outputs["arn"],
        one(evaluation, "aws:sqs/queue:Queue", region).outputs["arn"],
    }


def test_execution_role_is_least_privilege_on_this_regions_resources(three_regions):
    for region in THREE:
        function = one(three_regions, FUNCTION, region)
        role = three_regions.by_output("arn", function.inputs["role"])
        assert role.inputs["name"] == f"payment-validator-{region}-dev"
        trust = policy_statements(role.inputs["assumeRolePolicy"])
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
        [policy] = [
            p
            for p in mine(three_regions, "aws:iam/rolePolicy:RolePolicy", region)
            if p.inputs["role"] == role.outputs["id"]
        ]
        allowed = allowed_resources(three_regions, region)
        # Resource "*" only where AWS allows nothing else; ENIs at least held to this account and region.
        region_wide = {
            service.XRAY_SID: ["*"],
            service.VPC_DESCRIBE_SID: ["*"],
            service.VPC_ENI_SID: [
                f"arn:aws:ec2:{region}:{engine.MOCK_ACCOUNT_ID}:{kind}/*"
                for kind in ("network-interface", "subnet", "security-group")
            ],
        }
        named: set[str] = set()
        for statement in policy_statements(policy.inputs["policy"]):
            actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
            assert statement["Effect"] == "Allow"
            assert all(":" in a and "*" not in a.split(":")[1] for a in actions), statement  # no "*" or "s3:*"
            if statement["Sid"] in service.REGION_WIDE_SIDS:
                assert resources == region_wide[statement["Sid"]], statement
                assert {a.split(":")[0] for a in actions} <= {"xray", "ec2"}, statement
                continue
            assert "*" not in resources, statement
            assert set(resources) <= allowed, (region, set(resources) - allowed)
            named |= set(resources)
            for condition in statement.get("Condition", {}).values():
                for value in condition.values():
                    assert all(region in v for v in as_list(value)), statement
        assert named == allowed, allowed - named


def test_region_wide_statements_are_exactly_the_documented_ones(dev):
    policy = next(p for p in mine(dev, "aws:iam/rolePolicy:RolePolicy", "us-east-1") if "validator" in p.name)
    statements = {s["Sid"]: s for s in policy_statements(policy.inputs["policy"])}
    assert statements[service.XRAY_SID]["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    assert statements[service.VPC_DESCRIBE_SID]["Action"] == ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    assert sorted(statements[service.VPC_ENI_SID]["Action"]) == [
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:UnassignPrivateIpAddresses",
    ]
    # The function writes only under the prefixes payment_store.py uses.
    assert [r.rsplit("/", 2)[1] for r in statements["WriteReceiptsAndAuditRecords"]["Resource"]] == [
        "receipts",
        "audit",
    ]
    assert statements["RegionKeyThroughItsServices"]["Condition"]["StringEquals"]["kms:ViaService"] == [
        f"{s}.us-east-1.amazonaws.com" for s in ("dynamodb", "s3", "secretsmanager", "sqs")
    ]


def test_the_function_waits_for_its_permissions(dev):
    function = one(dev, FUNCTION, "us-east-1")
    policy = dev.one("aws:iam/rolePolicy:RolePolicy", lambda p: p.urn in function.dependencies)
    assert policy in mine(dev, "aws:iam/rolePolicy:RolePolicy", "us-east-1")


# --- the REST API ------------------------------------------------------------------------------------


def test_api_is_regional_with_both_routes_as_lambda_proxy_integrations(three_regions):
    for region in THREE:
        rest_api = one(three_regions, "aws:apigateway/restApi:RestApi", region)
        assert rest_api.inputs["name"] == "payment-api-dev" and rest_api.inputs["endpointConfiguration"] == {
            "types": "REGIONAL"
        }
        assert rest_api.inputs["failOnWarnings"] is True
        document = body(three_regions, region)
        assert {(method.upper(), path) for path, methods in document["paths"].items() for method in methods} == {
            ("POST", "/payments"),
            ("GET", "/health"),
        }
        invoke_arn = one(three_regions, FUNCTION, region).outputs["invokeArn"]
        for methods in document["paths"].values():
            for operation in methods.values():
                integration = operation["x-amazon-apigateway-integration"]
                assert (integration["type"], integration["httpMethod"], integration["uri"]) == (
                    "aws_proxy",
                    "POST",
                    invoke_arn,
                )
        assert normalise(document, region) == normalise(body(three_regions, "us-east-1"), "us-east-1")


def test_post_payments_validates_body_and_idempotency_key(dev):
    document = body(dev, "us-east-1")
    post = document["paths"]["/payments"]["post"]
    validator = document["x-amazon-apigateway-request-validators"][post["x-amazon-apigateway-request-validator"]]
    assert validator == {"validateRequestBody": True, "validateRequestParameters": True}
    assert post["parameters"] == [
        {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}}
    ]
    assert post["requestBody"]["required"] is True
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"]["amount"] == {"type": "string"}
    assert schema["properties"]["card"]["properties"]["expiry_month"] == {"type": "integer"}
    assert "x-amazon-apigateway-request-validator" not in document["paths"]["/health"]["get"]
    # Gateway-made errors keep the function's shape, and never echo the validation detail.
    for response in document["x-amazon-apigateway-gateway-responses"].values():
        template = json.loads(
            response["responseTemplates"]["application/json"].replace("$context.error.messageString", '"m"')
        )
        assert set(template) == {"code", "message", "region", "request_id"} and template["region"] == "us-east-1"
        assert response["responseParameters"]["gatewayresponse.header.X-Served-Region"] == "'us-east-1'"
    assert "validationErrorString" not in json.dumps(document)


def test_payment_model_matches_the_functions_request_model():
    folder = str(ROOT / "functions" / "payment_validation")
    if folder not in sys.path:
        sys.path.append(folder)  # as tests/functions/conftest.py does: the function's modules import each other flat
    from payment_request import Card, PaymentRequest

    for model, schema in ((PaymentRequest, api.PAYMENT_SCHEMA), (Card, api.PAYMENT_SCHEMA["properties"]["card"])):
        assert set(schema["properties"]) == set(model.model_fields), model.__name__
        assert set(schema["required"]) == {name for name, field in model.model_fields.items() if field.is_required()}, (
            model.__name__
        )
        assert schema["additionalProperties"] is False and model.model_config["extra"] == "forbid"


def test_definition_changes_redeploy_and_the_stage_serves_the_latest_deployment(dev, monkeypatch):
    for region in ("us-east-1", "us-east-2"):
        deployment = one(dev, "aws:apigateway/deployment:Deployment", region)
        assert deployment.inputs["triggers"] == {"definition": api.definition_hash("payment-api-dev")}
        stage = one(dev, "aws:apigateway/stage:Stage", region)
        assert stage.inputs["deployment"] == deployment.outputs["id"]
    before = api.definition_hash("payment-api-dev")
    monkeypatch.setattr(api, "ROUTES", (*api.ROUTES, api.Route("GET", "/payments", validated=False)))
    assert api.definition_hash("payment-api-dev") != before


def test_stage_traces_logs_as_json_and_throttles_from_config(dev, tuned, config):
    parsed = stack_config.parse(config)
    for evaluation, rate, burst in (
        (dev, parsed.api_throttle_rate_limit, parsed.api_throttle_burst_limit),
        (tuned, 123, 30),
    ):
        for region in ("us-east-1", "us-east-2"):
            stage = one(evaluation, "aws:apigateway/stage:Stage", region)
            assert stage.inputs["stageName"] == "payment-api-dev" and stage.inputs["xrayTracingEnabled"] is True
            logs = stage.inputs["accessLogSettings"]
            group = evaluation.by_output("arn", logs["destinationArn"])
            assert group.inputs["name"] == "/aws/apigateway/payment-api-access-dev" and group.region == region
            assert evaluation.by_output("arn", group.inputs["kmsKeyId"]).region == region
            fields = json.loads(logs["format"])
            assert {"requestId", "status", "resourcePath", "integrationError"} <= set(fields)
            assert not any(
                token in logs["format"] for token in ("$input", "$context.requestOverride", "validationErrorString")
            )
            settings = {
                s.inputs["methodPath"]: s.inputs["settings"]
                for s in mine(evaluation, "aws:apigateway/methodSettings:MethodSettings", region)
            }
            assert (settings["*/*"]["throttlingRateLimit"], settings["*/*"]["throttlingBurstLimit"]) == (rate, burst)
            health = settings["health/GET"]
            assert (health["throttlingRateLimit"], health["throttlingBurstLimit"]) == (
                min(rate, api.HEALTH_RATE_LIMIT),
                min(burst, api.HEALTH_BURST_LIMIT),
            )
            for value in settings.values():
                assert (
                    value["metricsEnabled"] is True
                    and value["loggingLevel"] == "OFF"
                    and value["dataTraceEnabled"] is False
                )


def test_account_cloudwatch_role_is_managed_per_region_unless_switched_off(dev, tuned):
    for region in ("us-east-1", "us-east-2"):
        account = one(dev, "aws:apigateway/account:Account", region)
        role = dev.by_output("arn", account.inputs["cloudwatchRoleArn"])
        assert role.inputs["name"] == f"payment-apigw-logs-{region}-dev"
        assert [s["Principal"] for s in policy_statements(role.inputs["assumeRolePolicy"])] == [
            {"Service": "apigateway.amazonaws.com"}
        ]
        [policy] = [
            p for p in mine(dev, "aws:iam/rolePolicy:RolePolicy", region) if p.inputs["role"] == role.outputs["id"]
        ]
        for statement in policy_statements(policy.inputs["policy"]):
            assert all(a.startswith("logs:") and "*" not in a for a in statement["Action"])
            assert statement["Resource"] == [f"arn:aws:logs:{region}:{engine.MOCK_ACCOUNT_ID}:log-group:*"]
        assert account.urn in one(dev, "aws:apigateway/stage:Stage", region).dependencies
        assert not mine(tuned, "aws:apigateway/account:Account", region)
        assert not [r for r in mine(tuned, "aws:iam/role:Role", region) if "apigw" in r.inputs["name"]]


def test_api_gateway_may_invoke_the_function_only_for_this_apis_routes(three_regions):
    for region in THREE:
        rest_api = one(three_regions, "aws:apigateway/restApi:RestApi", region)
        function = one(three_regions, FUNCTION, region)
        permissions = mine(three_regions, "aws:lambda/permission:Permission", region)
        prefix = f"{rest_api.outputs['executionArn']}/payment-api-dev/"
        assert sorted(p.inputs["sourceArn"].removeprefix(prefix) for p in permissions) == [
            "GET/health",
            "POST/payments",
        ]
        for permission in permissions:
            assert permission.inputs["sourceArn"].startswith(prefix)
            assert permission.inputs["function"] == function.inputs["name"]
            assert (permission.inputs["principal"], permission.inputs["action"]) == (
                "apigateway.amazonaws.com",
                "lambda:InvokeFunction",
            )


# --- the custom domain -------------------------------------------------------------------------------


def test_every_region_serves_the_custom_domain_with_its_own_validated_certificate(three_regions, config):
    domain_name = config["domainName"]
    for region in THREE:
        certificate = one(three_regions, "aws:acm/certificate:Certificate", region)
        assert certificate.inputs["domainName"] == domain_name and certificate.inputs["validationMethod"] == "DNS"
        validation = one(three_regions, "aws:acm/certificateValidation:CertificateValidation", region)
        assert validation.inputs["certificateArn"] == certificate.outputs["arn"]
        record = one(three_regions, "aws:route53/record:Record", region)
        option = certificate.outputs["domainValidationOptions"][0]
        assert (record.inputs["name"], record.inputs["type"], record.inputs["records"]) == (
            option["resourceRecordName"],
            option["resourceRecordType"],
            [option["resourceRecordValue"]],
        )
        assert record.inputs["zoneId"] == engine.MOCK_ZONE_ID and record.inputs["allowOverwrite"] is True
        assert validation.inputs["validationRecordFqdns"] == [record.outputs["fqdn"]]
        domain = one(three_regions, "aws:apigateway/domainName:DomainName", region)
        assert domain.inputs["domainName"] == domain_name
        assert (
            domain.inputs["endpointConfiguration"] == {"types": "REGIONAL"}
            and domain.inputs["securityPolicy"] == "TLS_1_2"
        )
        assert domain.inputs["regionalCertificateArn"] == certificate.outputs["arn"]
        assert validation.urn in domain.dependencies  # served only once issued
        mapping = one(three_regions, "aws:apigateway/basePathMapping:BasePathMapping", region)
        rest_api = one(three_regions, "aws:apigateway/restApi:RestApi", region)
        stage = one(three_regions, "aws:apigateway/stage:Stage", region)
        assert (mapping.inputs["domainName"], mapping.inputs["restApi"], mapping.inputs["stageName"]) == (
            domain_name,
            rest_api.outputs["id"],
            stage.inputs["stageName"],
        )
        assert not mapping.inputs.get("basePath")
    # One validation record for all: every region declares the same name and value.
    records = {json.dumps(one(three_regions, "aws:route53/record:Record", r).inputs, sort_keys=True) for r in THREE}
    assert len(records) == 1


def test_validation_records_go_to_the_configured_zone(tuned):
    for region in ("us-east-1", "us-east-2"):
        assert one(tuned, "aws:route53/record:Record", region).inputs["zoneId"] == TUNED["hostedZoneId"]


def test_health_check_target_is_each_regions_own_execute_api_host(dev):
    exported = dev.outputs["paymentApi"]
    assert exported["url"] == "https://api.payments.example.com"
    for region in ("us-east-1", "us-east-2"):
        rest_api = one(dev, "aws:apigateway/restApi:RestApi", region)
        host = f"{rest_api.outputs['id']}.execute-api.{region}.amazonaws.com"
        assert exported["regions"][region]["healthCheckUrl"] == f"https://{host}/payment-api-dev/health"
        assert (
            exported["regions"][region]["regionalDomainName"]
            == one(dev, "aws:apigateway/domainName:DomainName", region).outputs["regionalDomainName"]
        )
        assert (
            "disableExecuteApiEndpoint" not in rest_api.inputs or rest_api.inputs["disableExecuteApiEndpoint"] is False
        )


def test_every_vpc_functions_role_names_network_interfaces_by_type(three_regions):
    """Lambda's ENI permissions for every function in a VPC (payment, probe, ledger poster, migrator):
    the resource types the EC2 authorization reference lists, in the function's region, never `*/*`."""
    eni_statements = [
        (p.region, statement)
        for p in three_regions.of_type("aws:iam/rolePolicy:RolePolicy")
        for statement in policy_statements(p.inputs["policy"])
        if "ec2:CreateNetworkInterface" in as_list(statement["Action"])
    ]
    functions_in_vpc = [f for f in three_regions.of_type("aws:lambda/function:Function") if f.inputs.get("vpcConfig")]
    assert len(eni_statements) == len(functions_in_vpc) >= 3 * 3 + 1  # payment, probe, poster per region; the migrator
    for region, statement in eni_statements:
        assert statement["Sid"] == service.VPC_ENI_SID
        assert sorted(as_list(statement["Resource"])) == sorted(
            f"arn:aws:ec2:{region}:{engine.MOCK_ACCOUNT_ID}:{kind}/*" for kind in service.ENI_RESOURCE_TYPES
        ), statement
