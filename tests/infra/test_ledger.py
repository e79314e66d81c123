"""The ledger under the mock engine: a poster in every region on its own replica's stream, its network
path to whichever cluster writes, its least-privilege login, and the migrator run by `pulumi up`."""

from __future__ import annotations

import json

from core import config as stack_config
from functions.ledger import ledger_db
from plan import __main__ as plan_cli
from plan.engine import MOCK_ACCOUNT_ID, Evaluation
from tests.conftest import example_config
from tests.infra.helpers import policy_statements

FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
INVOCATION = "aws:lambda/invocation:Invocation"
REGIONS = ("us-east-1", "us-east-2", "us-west-2")


def poster(evaluation: Evaluation, region: str):
    return evaluation.one(FUNCTION, lambda r: r.region == region and r.inputs["name"] == "payment-ledger-poster-dev")


def policies_of(evaluation: Evaluation, role_name: str) -> list[dict]:
    role = evaluation.one("aws:iam/role:Role", lambda r: r.inputs["name"] == role_name)
    return [
        s
        for p in evaluation.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role.outputs["id"]
        for s in policy_statements(p.inputs["policy"])
    ]


def test_every_region_posts_from_its_own_replica_stream(three_regions: Evaluation) -> None:
    cidrs = {
        spec.name: spec.cidr
        for spec in stack_config.parse({**example_config(), "secondaryRegions": ["us-east-2", "us-west-2"]}).regions
    }
    for region in REGIONS:
        function = poster(three_regions, region)
        assert function.inputs["handler"] == "poster.lambda_handler"
        assert function.inputs["environment"]["variables"]["GLOBAL_CLUSTER_IDENTIFIER"] == "payment-global-dev"
        [mapping] = [m for m in three_regions.of_type(MAPPING) if m.region == region]
        assert mapping.inputs["functionName"] == function.outputs["arn"]
        assert (
            mapping.inputs["eventSourceArn"]
            == f"arn:aws:dynamodb:{region}:{MOCK_ACCOUNT_ID}:table/payment-transactions-dev/stream/mock-label"
        )
        assert json.loads(mapping.inputs["filterCriteria"]["filters"][0]["pattern"]) == {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {"NewImage": {"status": {"S": ["ACCEPTED"]}}},
        }
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert (
            mapping.inputs["bisectBatchOnFunctionError"] is True
            and mapping.inputs["startingPosition"] == "TRIM_HORIZON"
        )
        queue = three_regions.one(
            "aws:sqs/queue:Queue", lambda r: r.region == region and r.inputs["name"] == "payment-ledger-failures-dev"
        )
        assert mapping.inputs["destinationConfig"]["onFailure"]["destinationArn"] == queue.outputs["arn"]
        alarms = {
            a.inputs["name"]: a
            for a in three_regions.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            if a.region == region
        }
        lag = alarms["payment-ledger-lag-dev"]
        assert (lag.inputs["namespace"], lag.inputs["metricName"], lag.inputs.get("dimensions") or {}) == (
            "PaymentDR/Ledger",
            "OldestUnpostedSeconds",
            {},
        )
        assert alarms["payment-ledger-failures-dev"].inputs["dimensions"] == {
            "QueueName": "payment-ledger-failures-dev"
        }
        dashboard = three_regions.one("aws:cloudwatch/dashboard:Dashboard", lambda r: r.region == region)
        assert "OldestUnpostedSeconds" in dashboard.inputs["dashboardBody"]
        # Network path: PostgreSQL to this VPC and, over the peering, to every other region's VPC.
        group = three_regions.one(
            "aws:ec2/securityGroup:SecurityGroup",
            lambda r: r.region == region and r.inputs["name"] == "payment-ledger-poster-dev",
        )
        assert "egress" not in group.inputs or not group.inputs["egress"]
        rules = [r.inputs for r in three_regions.of_type(EGRESS) if r.inputs["securityGroupId"] == group.outputs["id"]]
        assert sorted(r["cidrIpv4"] for r in rules if r["fromPort"] == 5432) == sorted(cidrs.values())
        assert [r["cidrIpv4"] for r in rules if r["fromPort"] == 443] == ["0.0.0.0/0"]
        db_group = three_regions.one(
            "aws:ec2/securityGroup:SecurityGroup", lambda r: r.region == region and r.inputs["name"] == "payment-db-dev"
        )
        into_db = [
            r.inputs for r in three_regions.of_type(INGRESS) if r.inputs["securityGroupId"] == db_group.outputs["id"]
        ]
        assert {"referencedSecurityGroupId": group.outputs["id"]}.items() <= next(
            i for i in into_db if i.get("referencedSecurityGroupId") == group.outputs["id"]
        ).items()
        assert sorted(i["cidrIpv4"] for i in into_db if "cidrIpv4" in i) == sorted(
            c for r, c in cidrs.items() if r != region
        )


def test_the_poster_logs_in_as_ledger_poster_on_every_cluster_and_never_reads_the_master_secret(
    three_regions: Evaluation,
) -> None:
    for region in REGIONS:
        statements = policies_of(three_regions, f"payment-ledger-poster-{region}-dev")
        actions = {a for s in statements for a in s["Action"]}
        assert not any(a.startswith("secretsmanager:") for a in actions)
        connect = sorted(r for s in statements if s["Action"] == ["rds-db:connect"] for r in s["Resource"])
        assert connect == sorted(
            f"arn:aws:rds-db:{c}:{MOCK_ACCOUNT_ID}:dbuser:cluster-MOCKPAYMENT-DB-{c.upper()}-DEV/ledger_poster"
            for c in REGIONS
        )
        streams = [r for s in statements if "dynamodb:GetRecords" in s["Action"] for r in s["Resource"]]
        assert streams == [f"arn:aws:dynamodb:{region}:{MOCK_ACCOUNT_ID}:table/payment-transactions-dev/stream/*"]
        assert "DB_SECRET_NAME" not in poster(three_regions, region).inputs["environment"]["variables"]


def test_the_migrator_runs_at_up_from_the_data_home_with_the_master_secret(dev: Evaluation) -> None:
    [migrator] = [f for f in dev.of_type(FUNCTION) if f.inputs["name"] == "payment-ledger-migrate-dev"]
    assert migrator.region == "us-east-1" and migrator.inputs["handler"] == "migrate.lambda_handler"
    assert migrator.inputs["vpcConfig"]["subnetIds"]
    secret = dev.one("aws:secretsmanager/secret:Secret", lambda r: r.inputs["name"] == "payment-db-master-dev")
    reads = [
        s
        for s in policies_of(dev, "payment-ledger-migrate-us-east-1-dev")
        if s["Action"] == ["secretsmanager:GetSecretValue"]
    ]
    assert [s["Resource"] for s in reads] == [[secret.outputs["arn"]]]
    [invocation] = dev.of_type(INVOCATION)
    migrations = ledger_db.load_migrations()
    assert invocation.inputs["functionName"] == migrator.outputs["name"]
    assert json.loads(invocation.inputs["input"]) == {"migrations": [m.label for m in migrations]}
    assert invocation.inputs["triggers"] == {"migrations": ledger_db.migrations_hash(migrations)}
    instances = {r.urn for r in dev.of_type("aws:rds/clusterInstance:ClusterInstance")}
    assert instances <= set(invocation.dependencies)
    assert plan_cli.ledger_migrations(dev) == [
        f"Ledger migrations applied by `pulumi up` ({invocation.name}, us-east-1; functions/ledger/migrations): "
        + ", ".join(m.label for m in migrations)
    ]
    assert [m.label for m in migrations][:2] == ["0001_ledger", "0002_probe_role"]


def test_the_database_name_is_the_programs() -> None:
    from global_resources.secrets import DATABASE_NAME
    from region_factory import ledger

    assert ledger.DATABASE == DATABASE_NAME
