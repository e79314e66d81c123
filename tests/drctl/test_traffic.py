"""`drctl dns --to`, `drctl failback` and `drctl dns --release`: routing holds through CloudWatch (core/routing.py).

Everything here runs against moto_server: the holds are real PutMetricData calls read back from moto's
CloudWatch, the hold alarms are real alarms, and the drain gate reads metrics the tests publish into moto.
moto never evaluates alarms, so a test that needs a region held sets the alarm's state itself (World.set_hold),
as CloudWatch would once the hold's datapoint is evaluated.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from core import routing
from tests.drctl.conftest import THREE_REGIONS, TWO_REGIONS, RecordingClients, World, flat

E1, E2, W2 = THREE_REGIONS
TABLE = "payment-transactions-qa"
AUDIT_E2, AUDIT_E1 = "payment-audit-logs-us-east-2-qa", "payment-audit-logs-us-east-1-qa"


def holds_published(world: World) -> list[tuple[str, str, float]]:
    """(holder region, held region, value) of every PutMetricData drctl made, in order."""
    return [
        (region, datum["Dimensions"][0]["Value"], datum["Value"])
        for service, region, operation, params in world.clients.calls
        if operation == "PutMetricData"
        for datum in params["MetricData"][:1]
    ]


def serves(world: World, target: str = E1, holder: str = E2, healthy: float = 1) -> None:
    """The canary in `holder` saw every probe of `target`'s /health pass (healthy=1) or one fail (0)."""
    world.put_metric(
        holder, routing.CANARY_NAMESPACE, routing.CANARY_METRIC, {routing.CANARY_DIMENSION: target}, healthy
    )


def backlog(world: World) -> None:
    """An outage's backlog still replaying into us-east-1, on every store the gate reads."""
    world.put_metric(E2, "AWS/DynamoDB", "ReplicationLatency", {"TableName": TABLE, "ReceivingRegion": E1}, 48000)
    world.put_metric(
        E2,
        "AWS/S3",
        "OperationsPendingReplication",
        {"SourceBucket": AUDIT_E2, "DestinationBucket": AUDIT_E1, "RuleId": f"to-{E1}"},
        12,
    )
    world.set_lag(E1, 2500)
    world.put_metric(E1, "PaymentDR/Ledger", "OldestUnpostedSeconds", {"Poster": "ledger"}, 900)


@pytest.fixture
def failed_over(make_world: Callable[..., World]) -> World:
    """After an unplanned failover: us-east-2 writes, us-east-1 is back and held by the canary in us-east-2."""
    world = make_world(TWO_REGIONS, writer=E2)
    world.set_hold(E1, E2, "ALARM")
    return world


def test_dns_to_holds_the_regions_ahead_in_every_other_region_without_route53(make_world: Callable[..., World]) -> None:
    world = make_world(THREE_REGIONS)
    result = world.invoke("dns", "--to", W2, "--yes")
    assert result.exit_code == 0, result.output
    # us-east-1 and us-east-2 are ahead of us-west-2; each is held in every region but itself.
    assert sorted(holds_published(world)) == [(E1, E2, 1.0), (E2, E1, 1.0), (W2, E1, 1.0), (W2, E2, 1.0)]
    assert world.held_out(E1, E2) == [1.0] and world.held_out(E1, W2) == [1.0] and world.held_out(W2, E1) == []
    assert not [
        call for call in world.clients.calls if call[0] == "route53"
    ]  # works with Route 53's control plane down
    out = flat(result.stdout)
    assert (
        "hold us-east-1: publish PaymentDR/Routing RegionHeldOut {Region=us-east-1} = 1 in us-east-2, us-west-2" in out
    )
    assert "mechanism: CloudWatch holds; no Route 53 API is called" in out
    message = world.messages(E2)[0]
    assert message["command"] == "dns" and message["outcome"] == "ok" and message["details"]["hold"] == [E1, E2]
    assert world.audit()[-1]["details"]["mechanism"] == ["CloudWatch holds"]


def test_dns_to_a_held_region_is_refused_with_the_failback_command(failed_over: World) -> None:
    result = failed_over.invoke("dns", "--to", E1, "--yes")
    assert result.exit_code == 1
    assert "us-east-1 HELD by the hold alarm in us-east-2: release it first, behind the drain gate" in flat(
        result.stderr
    )
    assert failed_over.clients.mutations() == []


def test_status_shows_the_hold_and_routes_around_the_held_region(failed_over: World) -> None:
    world = failed_over
    # Route 53's metric for us-east-1's routing check still says healthy: the hold alarm decides.
    report = json.loads(world.invoke("status", "--json").stdout)
    hold = next(h for h in report["holds"] if h["region"] == E1)
    assert hold["held"] is True and hold["alarms"] == {E2: "ALARM"}
    assert next(h for h in report["holds"] if h["region"] == E2)["held"] is False
    assert report["dns"]["serves"] == E2
    assert report["verdict"] == "failed over"
    assert (
        f"us-east-1 HELD by the hold alarm in us-east-2: traffic stays away until released, once replication has drained: "
        f"drctl --config-file {world.config_file} failback --to us-east-1"
    ) in report["reasons"]
    out = flat(world.invoke("status").stdout)
    assert "us-east-1 HELD us-east-2 ALARM" in out


def test_failback_refuses_while_replication_is_pending_and_lists_every_item(failed_over: World) -> None:
    world = failed_over
    backlog(world)
    serves(world)
    result = world.invoke("failback", "--yes")
    assert result.exit_code == 1, result.output
    errors = flat(result.stderr)
    assert "pre-checks failed, nothing was changed" in errors
    assert (
        f"DynamoDB replication into us-east-1: {TABLE} us-east-2 → us-east-1: 48000 ms (threshold 1000 ms) "
        "(AWS/DynamoDB ReplicationLatency ReceivingRegion=us-east-1, in us-east-2)"
    ) in errors
    assert (
        f"S3 replication into us-east-1: {AUDIT_E2} → {AUDIT_E1}: 12 operations pending "
        "(AWS/S3 OperationsPendingReplication RuleId=to-us-east-1, in us-east-2)"
    ) in errors
    assert (
        "Aurora lag of us-east-1: payment-db-us-east-1-qa: 2500 ms (threshold 1000 ms) (AWS/RDS AuroraGlobalDBReplicationLag)"
        in errors
    )
    assert (
        "ledger poster: Poster=ledger in us-east-1: 900 s (threshold 60 s) (PaymentDR/Ledger OldestUnpostedSeconds, in us-east-1)"
        in errors
    )
    assert "or release anyway with --force" in errors
    assert world.clients.mutations() == [] and world.held_out(E1, E2) == []
    audit = world.audit()[-1]
    assert audit["command"] == "failback" and audit["outcome"] == "refused" and audit["args"]["to"] == E1
    assert world.messages(E1) == [] and world.messages(E2) == []  # a refusal changed nothing: audit line only


def test_failback_releases_once_drained(failed_over: World) -> None:
    world = failed_over
    world.put_metric(E2, "AWS/DynamoDB", "ReplicationLatency", {"TableName": TABLE, "ReceivingRegion": E1}, 640)
    world.set_lag(E1, 90)
    serves(world)
    result = world.invoke("failback", "--yes")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "✓ us-east-1 serves: drained: canary in us-east-2: every probe healthy" in out
    assert f"{TABLE} us-east-2 → us-east-1: 640 ms (threshold 1000 ms)" in out
    assert "skipped: ledger poster: no datapoint in the last 10 minutes in any region: not deployed, skipped" in out
    assert "release us-east-1: publish PaymentDR/Routing RegionHeldOut {Region=us-east-1} = 0 in us-east-2" in out
    assert holds_published(world) == [(E2, E1, 0.0)] and set(world.held_out(E1, E2)) == {0.0}
    # 0 now and at the start of the next minute: a 1 earlier in this minute cannot keep the minute's Maximum at 1.
    now, next_minute = (
        datum["Timestamp"]
        for call in world.clients.calls
        if call[2] == "PutMetricData"
        for datum in call[3]["MetricData"]
    )
    assert next_minute.second == 0 and 0 < (next_minute - now).total_seconds() <= 60
    for region in TWO_REGIONS:
        message = world.messages(region)[0]
        assert message["command"] == "failback" and message["outcome"] == "ok"
        assert message["details"]["release"] == [E1] and message["details"]["undrained"] == []
    audit = world.audit()[-1]
    assert audit["outcome"] == "ok" and audit["notified"] == {E1: "published", E2: "published"}


def test_force_releases_and_records_what_had_not_drained(failed_over: World) -> None:
    world = failed_over
    backlog(world)
    serves(world)
    result = world.invoke("failback", "--to", E1, "--force", "--yes")
    assert result.exit_code == 0, result.output
    assert "--force: releasing although the gate refuses" in flat(result.stdout)
    assert set(world.held_out(E1, E2)) == {0.0}
    details = world.messages(E2)[0]["details"]
    assert details["forced"] is True
    assert any(
        line.startswith("S3 replication into us-east-1:") and "12 operations pending" in line
        for line in details["undrained"]
    )
    assert len(details["undrained"]) == 4


def test_a_held_region_that_does_not_serve_is_refused(failed_over: World) -> None:
    world = failed_over
    serves(world, healthy=0)  # the canary in us-east-2 saw us-east-1's /health fail
    result = world.invoke("failback", "--yes")
    assert result.exit_code == 1
    assert (
        "us-east-1 serves: canary in us-east-2: a probe failed (PaymentDR/Canary TargetHealthy Target=us-east-1, in us-east-2)"
        in flat(result.stderr)
    )
    assert world.clients.mutations() == []


def test_no_reading_that_the_region_serves_is_a_refusal(failed_over: World) -> None:
    # No canary datapoint, and Route 53 unreachable: nobody saw us-east-1 serve.
    clients = RecordingClients(failed_over.url)
    clients.down["route53"] = (failed_over.clock.now, "unreachable (test)")
    result = failed_over.invoke("failback", "--yes", clients=clients)
    assert result.exit_code == 1
    assert "us-east-1 /health: unknown: no reading says it serves (canary and Route 53)" in flat(result.stderr)


def test_dns_release_releases_every_held_region_behind_the_same_gate(failed_over: World) -> None:
    world = failed_over
    backlog(world)
    serves(world)
    refused = world.invoke("dns", "--release", "--yes")
    assert refused.exit_code == 1 and "DynamoDB replication into us-east-1" in flat(refused.stderr)
    assert world.clients.mutations() == []
    forced = world.invoke("dns", "--release", "--force", "--yes")
    assert forced.exit_code == 0, forced.output
    assert holds_published(world) == [(E2, E1, 0.0)]  # us-east-2 was not held: not released
    assert world.audit()[-1]["args"] == {"release": True, "force": True, "dry_run": False}


def test_release_is_refused_while_a_holder_region_cannot_be_read(make_world: Callable[..., World]) -> None:
    world = make_world(THREE_REGIONS, writer=E2)
    world.set_hold(E1, E2, "ALARM")
    serves(world)
    lost = RecordingClients(world.url, lost=frozenset({W2}))  # a hold left in us-west-2 would keep us-east-1 out
    result = world.invoke("failback", "--to", E1, "--yes", clients=lost)
    assert result.exit_code == 1
    assert "hold on us-east-1 readable in every holder region: not in us-west-2 (CloudWatch did not answer" in flat(
        result.stderr
    )
    forced = world.invoke("failback", "--to", E1, "--force", "--yes", clients=lost)
    assert forced.exit_code == 1  # forced, but the release cannot reach us-west-2: it says so
    assert "us-east-1 stays held: the release did not reach us-west-2" in flat(forced.stderr)
    assert set(world.held_out(E1, E2)) == {0.0}
    assert world.audit()[-1]["outcome"] == "failed"


def test_dry_run_shows_the_gate_and_changes_nothing(failed_over: World) -> None:
    serves(failed_over)
    result = failed_over.invoke("failback", "--dry-run")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "1. [change] release us-east-1" in out and "2. [read] read back the hold alarms" in out
    assert failed_over.clients.mutations() == []
