"""`drctl status`: every store's replication, the health checks, where DNS points, and the verdict."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.drctl.conftest import THREE_REGIONS, TWO_REGIONS, RecordingClients, World, flat


@pytest.fixture
def full_world(make_world: Callable[..., World]) -> World:
    """With the tables and buckets; the other tests here look at Aurora and routing only."""
    return make_world(TWO_REGIONS, data=True)


def test_healthy_stack(full_world: World) -> None:
    world = full_world
    stubs = world.stub_global_tables()  # moto has no global-table replicas; everything else is moto
    result = world.invoke("status")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "writer us-east-1 (config primaryRegion us-east-1)" in out
    assert "us-east-2 payment-db-us-east-2-qa secondary available 120 ms unknown" in out
    assert "payment-receipts-us-east-2-qa to-us-east-1 Enabled 4 s 0 0" in out
    assert "payment-idempotency-qa us-east-2 ACTIVE ACTIVE 850 ms from us-east-1" in out
    assert "api.payments.example.com → us-east-1" in out
    assert "Verdict: healthy" in out
    for stub in stubs:
        stub.assert_no_pending_responses()
    assert world.clients.mutations() == []


def test_json_reports_every_problem(full_world: World) -> None:
    world = full_world
    world.set_lag("us-east-2", 2500)
    world.put_metric(
        "us-east-1",
        "AWS/S3",
        "OperationsFailedReplication",
        {
            "SourceBucket": "payment-audit-logs-us-east-1-qa",
            "DestinationBucket": "payment-audit-logs-us-east-2-qa",
            "RuleId": "to-us-east-2",
        },
        3,
    )
    result = world.invoke("status", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["writer"] == "us-east-1" and report["dns"]["serves"] == "us-east-1"
    secondary = next(c for c in report["aurora"] if c["region"] == "us-east-2")
    assert secondary["lag_ms"] == 2500 and secondary["rpo_lag_ms"] is None
    assert report["verdict"] == "degraded"
    assert "us-east-2 replication lag 2500 ms (threshold 1000 ms)" in report["reasons"]
    assert "payment-audit-logs-us-east-1-qa rule to-us-east-2: 3 operations failed to replicate" in report["reasons"]
    # moto tables are not global tables: drctl notices.
    assert "table payment-transactions-qa in us-east-2: ACTIVE, replica not listed as a replica" in report["reasons"]
    region_check = next(h for h in report["health_checks"] if h["kind"] == "region" and h["region"] == "us-east-1")
    assert region_check["type"] == "CALCULATED" and region_check["effective"] is True and not region_check["disabled"]


def test_writer_away_from_the_configured_primary_is_failed_over(make_world: Callable[..., World]) -> None:
    world = make_world(TWO_REGIONS, writer="us-east-2")  # as after a failover, before the stack is reconciled
    world.set_region_health("us-east-1", False)
    report = json.loads(world.invoke("status", "--json").stdout)
    assert report["writer"] == "us-east-2" and report["dns"]["serves"] == "us-east-2"
    assert report["verdict"] == "failed over"
    assert (
        "the writer is in us-east-2 and traffic goes to us-east-2, not in primaryRegion us-east-1: "
        "reconcile the stack (docs/runbook.md)"
    ) in report["reasons"]
    assert "payment-health-region-us-east-1-qa is unhealthy" in report["reasons"]


def test_an_override_is_visible(world: World) -> None:
    world.aws("route53").update_health_check(
        HealthCheckId=world.checks[("region", "us-east-1")], Disabled=True, Inverted=True
    )
    out = flat(world.invoke("status").stdout)
    assert "Verdict: overridden" in out
    assert "payment-health-region-us-east-1-qa: always unhealthy (Disabled + Inverted)" in out
    assert f"release with: drctl --config-file {world.config_file} dns --release" in out
    assert "us-east-1 region CALCULATED healthy Disabled+Inverted unhealthy" in out
    assert "api.payments.example.com → us-east-2" in out


def test_a_lost_region_is_reported_not_fatal(world: World) -> None:
    lost = RecordingClients(world.url, lost=frozenset({"us-east-2"}))
    result = world.invoke("status", "--json", clients=lost)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["writer"] == "us-east-1"
    assert report["unreachable"] == {"us-east-2": "unreachable (EndpointConnectionError)"}
    assert report["verdict"] == "degraded"
    # A lost region is tried once per concern read in parallel at most, then skipped.
    assert sum(1 for _, region, *_ in lost.calls if region == "us-east-2") <= 4


def test_three_regions_follow_the_failover_chain(make_world: Callable[..., World]) -> None:
    world = make_world(THREE_REGIONS)
    world.set_region_health("us-east-1", False)
    world.set_region_health("us-east-2", False)
    report = json.loads(world.invoke("status", "--json").stdout)
    assert report["dns"]["serves"] == "us-west-2"
    assert report["dns"]["path"] == [
        "api.payments.example.com: PRIMARY us-east-1 unhealthy, SECONDARY chain-1 healthy → SECONDARY",
        "failover-1-qa.api.payments.example.com: PRIMARY us-east-2 unhealthy, SECONDARY us-west-2 healthy → SECONDARY",
    ]
    assert report["verdict"] == "failed over"
