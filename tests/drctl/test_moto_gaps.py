"""What moto 5.2.5 cannot do, proven here rather than assumed: each gap is why a test uses Stubber.

If one of these starts failing, moto grew the API: replace the corresponding Stubber with moto.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from tests.drctl.conftest import World, create_aurora


@pytest.mark.parametrize("operation", ["switchover_global_cluster", "failover_global_cluster"])
def test_moto_cannot_switch_or_fail_over_a_global_cluster(bare: World, operation: str) -> None:
    world = bare
    create_aurora(world, "us-east-1")
    extra = {"AllowDataLoss": True} if operation == "failover_global_cluster" else {}
    # moto answers "not implemented" with an HTML 500 page, which botocore cannot parse.
    with pytest.raises((ResponseParserError, ClientError)):
        getattr(world.aws("rds", "us-east-2"), operation)(
            GlobalClusterIdentifier=world.stack.global_cluster,
            TargetDbClusterIdentifier=world.arn("us-east-2"),
            **extra,
        )


def test_moto_has_no_global_table_replicas(bare: World) -> None:
    world, table = bare, bare.stack.tables[0]
    world.aws("dynamodb").create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    world.aws("dynamodb").update_table(TableName=table, ReplicaUpdates=[{"Create": {"RegionName": "us-east-2"}}])
    assert "Replicas" not in world.aws("dynamodb").describe_table(TableName=table)["Table"]


def test_moto_reports_every_health_check_as_passing(bare: World) -> None:
    # So an unhealthy region is simulated through the HealthCheckStatus metric of its CALCULATED check,
    # the status drctl reads for that type anyway (GetHealthCheckStatus refuses calculated checks in AWS).
    route53 = bare.aws("route53")
    check = route53.create_health_check(
        CallerReference="calc", HealthCheckConfig={"Type": "CALCULATED", "ChildHealthChecks": [], "HealthThreshold": 1}
    )
    status = route53.get_health_check_status(HealthCheckId=check["HealthCheck"]["Id"])
    assert all(o["StatusReport"]["Status"].startswith("Success") for o in status["HealthCheckObservations"])
