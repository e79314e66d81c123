"""The operator's default region is the lost one: drctl never uses it (issue 13, docs/runbook.md).

AWS_DEFAULT_REGION points at us-east-1, which the test makes unreachable (a closed port for every
regional service). STS and every other call go to the command's target (or --region) first; the only
calls that still try us-east-1 are the SNS notices, which go to every region by design, and Route 53,
which is global (its own endpoint, not the region's).
"""

from __future__ import annotations

import pytest

from drctl.aws import Clients
from tests.drctl.conftest import CREDENTIALS, RecordingClients, World, flat

LOST, SURVIVOR = "us-east-1", "us-east-2"


@pytest.fixture(autouse=True)
def default_region_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", LOST)
    monkeypatch.setenv("AWS_REGION", LOST)


def regional_calls(clients: RecordingClients, region: str) -> list[tuple[str, str]]:
    return [
        (service, operation)
        for service, where, operation, _ in clients.calls
        if where == region and service != "route53"
    ]


def test_failover_asks_sts_and_everything_in_the_survivor(world: World) -> None:
    lost = RecordingClients(world.url, lost=frozenset({LOST}))
    rds = lost.stub("rds", SURVIVOR)
    name = {"GlobalClusterIdentifier": world.stack.global_cluster}
    rds.add_response("describe_global_clusters", world.global_clusters(LOST), name)
    rds.add_response(
        "describe_db_clusters", world.db_cluster(SURVIVOR), {"DBClusterIdentifier": world.stack.cluster(SURVIVOR)}
    )
    rds.add_response(
        "failover_global_cluster", {}, {**name, "TargetDbClusterIdentifier": world.arn(SURVIVOR), "AllowDataLoss": True}
    )
    rds.add_response("describe_global_clusters", world.global_clusters(SURVIVOR), name)
    result = world.invoke("failover", "--to", SURVIVOR, "--allow-data-loss", "--yes", clients=lost)
    assert result.exit_code == 0, result.output
    rds.assert_no_pending_responses()
    assert lost.calls[0][:3] == ("sts", SURVIVOR, "GetCallerIdentity")
    assert regional_calls(lost, LOST) == [("sns", "Publish")]  # the notice tries every region; nothing else went there
    assert "SNS us-east-1: not published" in flat(result.stdout)
    # Every client names its region: none fell back to the profile's default.
    assert all(client.meta.region_name == region for (_, region, _), client in lost._cache.items())


def test_hold_with_the_default_region_and_route53_lost(world: World) -> None:
    lost = RecordingClients(world.url, lost=frozenset({LOST}))
    lost.down["route53"] = (world.clock.now, "unreachable (Route 53's control plane is down)")
    result = world.invoke("dns", "--to", SURVIVOR, "--yes", clients=lost)
    assert result.exit_code == 0, result.output
    assert lost.calls[0][:3] == ("sts", SURVIVOR, "GetCallerIdentity")
    assert world.held_out(LOST, SURVIVOR) == [1.0]
    assert set(regional_calls(lost, LOST)) <= {
        ("cloudwatch", "DescribeAlarms"),
        ("sns", "Publish"),
    }  # reads of the holds, the notice
    assert not [call for call in lost.calls if call[0] == "route53"]


def test_region_option_is_asked_first(world: World) -> None:
    lost = RecordingClients(world.url, lost=frozenset({LOST}))
    result = world.invoke("--region", SURVIVOR, "status", "--json", clients=lost)
    assert result.exit_code == 0, result.output
    assert lost.calls[0][:3] == ("sts", SURVIVOR, "GetCallerIdentity")


def test_sts_uses_the_regional_endpoint_of_the_region_asked() -> None:
    import boto3

    clients = Clients(boto3.Session(**CREDENTIALS))
    assert clients("sts", SURVIVOR).meta.endpoint_url == f"https://sts.{SURVIVOR}.amazonaws.com"
    assert clients("sts", SURVIVOR).meta.region_name == SURVIVOR
