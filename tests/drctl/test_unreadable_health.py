"""Route 53 health that cannot be read is unknown: never taken for healthy, nor for unhealthy.

Route 53 serves its API and publishes every HealthCheckStatus metric in us-east-1, this stack's
primary. When us-east-1 degrades, the health goes unread exactly when it matters:

- `switchover` must not refuse for an unknown health (only a known unhealthy one): while the
  primary still answers, refusing leaves only a failover, which loses data. It warns instead.
- `status` must not say where traffic goes when the health that decides it is unknown: Route 53
  may well have moved it away from the failing primary.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from botocore.stub import Stubber

from drctl import dns
from tests.drctl.conftest import TWO_REGIONS, RecordingClients, World, dead_endpoint, flat
from tests.drctl.failover_records import CHAIN, PAIR
from tests.drctl.test_switchover import expect_switchover

DOMAIN = "api.payments.example.com"
CLOUDWATCH_DOWN = (
    "CloudWatch us-east-1, the only region with Route 53's HealthCheckStatus metric, did not answer (us-east-1"
)


class CloudWatchUsEast1Down(RecordingClients):
    """Only CloudWatch in us-east-1 is unreachable: the database, SNS and Route 53 still answer."""

    def endpoint(self, service: str, region: str) -> str | None:
        return dead_endpoint() if (service, region) == ("cloudwatch", "us-east-1") else self.endpoint_url


class Route53Down(RecordingClients):
    """Route 53's API (served from us-east-1) is unreachable; everything else answers."""

    def endpoint(self, service: str, region: str) -> str | None:
        return dead_endpoint() if service == "route53" else self.endpoint_url


def switchover_settling_at_once(world: World, rds: Stubber) -> None:
    """The target region's RDS as Aurora answers a switchover to us-east-2 (moto has none: test_moto_gaps.py)."""
    expect_switchover(world, rds, [world.global_clusters("us-east-2")])


# switchover


def test_switchover_goes_ahead_with_a_warning_when_the_target_health_is_unreadable(world: World) -> None:
    clients = CloudWatchUsEast1Down(world.url)
    rds = clients.stub("rds", "us-east-2")
    switchover_settling_at_once(world, rds)
    result = world.invoke("switchover", "--to", "us-east-2", "--yes", clients=clients)
    assert result.exit_code == 0, result.output
    rds.assert_no_pending_responses()
    assert ("rds", "us-east-2", "SwitchoverGlobalCluster") in clients.mutations()
    out = flat(result.stdout)
    # What could not be read, and why it matters, on the health check's own line of the plan.
    assert (
        f"✓ us-east-2 health check: payment-health-region-us-east-2-qa: unknown; WARNING: health not verified: "
        f"{CLOUDWATCH_DOWN}"
    ) in out
    assert (
        "Passed because it is not known to be unhealthy; if us-east-2 is in fact failing, the new writer will be there: "
        "check us-east-2's API and database before confirming"
    ) in out
    # The other pre-checks still ran and passed on what they read.
    assert "✓ replication lag: payment-db-us-east-2-qa: AuroraGlobalDBReplicationLag 120 ms (threshold 1000 ms)" in out
    assert "✓ us-east-2 cluster: payment-db-us-east-2-qa available" in out
    assert "RTO us-east-1 → us-east-2" in out


def test_dry_run_with_unreadable_health_is_not_a_refusal(world: World) -> None:
    clients = CloudWatchUsEast1Down(world.url)
    result = world.invoke("switchover", "--to", "us-east-2", "--dry-run", clients=clients)
    assert result.exit_code == 0, result.output  # a dry run that would be refused exits 1
    out = flat(result.stdout)
    assert "us-east-2 health check: payment-health-region-us-east-2-qa: unknown; WARNING: health not verified" in out
    assert "dry run: nothing was changed" in out
    assert clients.mutations() == []


def test_switchover_warns_when_route53_itself_cannot_be_read(world: World) -> None:
    clients = Route53Down(world.url)
    rds = clients.stub("rds", "us-east-2")
    switchover_settling_at_once(world, rds)
    result = world.invoke("switchover", "--to", "us-east-2", "--yes", clients=clients)
    assert result.exit_code == 0, result.output
    rds.assert_no_pending_responses()
    assert (
        "✓ us-east-2 health check: payment-health-region-us-east-2-qa: unknown; WARNING: health not verified: "
        "the check could not be read (route53: unreachable (EndpointConnectionError))"
    ) in flat(result.stdout)


def test_a_known_unhealthy_target_is_still_refused(world: World) -> None:
    world.set_region_health("us-east-2", False)
    result = world.invoke("switchover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 1
    errors = flat(result.stderr)
    assert (
        "pre-checks failed, nothing was changed: us-east-2 health check: payment-health-region-us-east-2-qa: unhealthy"
        in errors
    )
    assert "WARNING" not in flat(result.stdout)
    assert world.clients.mutations() == []


# status


def test_status_does_not_guess_the_serving_region_when_us_east_1_is_lost(world: World) -> None:
    # Route 53's checkers saw us-east-1 fail and moved traffic; drctl cannot read that (CloudWatch us-east-1 is gone too).
    world.set_region_health("us-east-1", False)
    report = json.loads(
        world.invoke("status", "--json", clients=RecordingClients(world.url, lost=frozenset({"us-east-1"}))).stdout
    )
    assert report["dns"]["serves"] is None
    unknown = report["dns"]["serves_unknown"]
    assert unknown.startswith(f"health unreadable: us-east-1, us-east-2: {CLOUDWATCH_DOWN}")
    assert "unreachable (EndpointConnectionError)" in unknown
    assert report["dns"]["path"] == [
        f"{DOMAIN}: PRIMARY us-east-1 unknown, SECONDARY us-east-2 unknown → unknown (health unreadable)"
    ]
    assert f"{DOMAIN}: the serving region is unknown, {unknown}" in report["reasons"]
    assert report["verdict"] != "healthy"

    out = flat(world.invoke("status", clients=RecordingClients(world.url, lost=frozenset({"us-east-1"}))).stdout)
    assert f"{DOMAIN} → us-east-1" not in out
    assert (
        f"- {DOMAIN}: the serving region is unknown, health unreadable: us-east-1, us-east-2: {CLOUDWATCH_DOWN}" in out
    )


def test_unreadable_health_alone_makes_the_verdict_degraded(
    make_world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Everything else is fine, but no HealthCheckStatus datapoint has arrived in us-east-1 (e.g. delayed ingestion there).
    with monkeypatch.context() as building:
        building.setattr(World, "set_region_health", lambda *_: None)
        world = make_world(TWO_REGIONS, data=True)
    stubs = world.stub_global_tables()
    result = world.invoke("status")
    assert result.exit_code == 0, result.output
    for stub in stubs:
        stub.assert_no_pending_responses()
    out = flat(result.stdout)
    assert "Verdict: degraded" in out
    assert (
        f"- {DOMAIN}: the serving region is unknown, health unreadable: us-east-1, us-east-2: "
        "no HealthCheckStatus datapoint in CloudWatch us-east-1 in the last 10 minutes"
    ) in out
    assert f"{DOMAIN} → us-east-1" not in out


def test_status_still_names_the_region_when_the_health_that_decides_is_known(
    make_world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only us-east-2's metric is missing: us-east-1, the healthy primary, answers whatever us-east-2 is.
    publish = World.set_region_health
    with monkeypatch.context() as building:
        building.setattr(
            World,
            "set_region_health",
            lambda self, region, healthy: publish(self, region, healthy) if region == "us-east-1" else None,
        )
        world = make_world(TWO_REGIONS)
    report = json.loads(world.invoke("status", "--json").stdout)
    assert report["dns"]["serves"] == "us-east-1" and report["dns"]["serves_unknown"] is None
    assert report["dns"]["path"] == [f"{DOMAIN}: PRIMARY us-east-1 healthy, SECONDARY us-east-2 unknown → PRIMARY"]
    assert not any("serving region" in reason for reason in report["reasons"])


# resolve: which health decides the answer


WHY = {"hc1": "metric unreadable", "hc2": "metric unreadable"}


@pytest.mark.parametrize(
    ("health", "region", "unknown"),
    [
        ({"hc1": None, "hc2": True}, None, "health unreadable: us-east-1: metric unreadable"),
        ({"hc1": False, "hc2": None}, None, "health unreadable: us-east-2: metric unreadable"),
        ({"hc1": None, "hc2": None}, None, "health unreadable: us-east-1, us-east-2: metric unreadable"),
        ({"hc1": True, "hc2": None}, "us-east-1", None),  # a healthy primary answers whatever the secondary is
        (
            {"hc1": None, "hc2": False},
            "us-east-1",
            None,
        ),  # healthy or not, the primary answers: the secondary is unhealthy
    ],
)
def test_unknown_health_decides_only_where_it_could_change_the_answer(
    health: dict[str, bool | None], region: str | None, unknown: str | None
) -> None:
    route = dns.resolve(PAIR, health, "api.example.com", WHY)
    assert (route.region, route.unknown) == (region, unknown)


def test_unknown_health_in_a_nested_pair_is_reported_with_its_record() -> None:
    chain = CHAIN
    # The nested pair is healthy (us-west-2), so the top goes there; there us-east-2's unknown health decides.
    route = dns.resolve(chain, {"hc1": False, "hc2": None, "hc3": True}, "api.example.com", {"hc2": "no datapoint"})
    assert route.region is None and route.unknown == "health unreadable: us-east-2: no datapoint"
    assert route.path == (
        "api.example.com: PRIMARY us-east-1 unhealthy, SECONDARY chain healthy → SECONDARY",
        "next.api.example.com: PRIMARY us-east-2 unknown, SECONDARY us-west-2 healthy → unknown (health unreadable)",
    )
    # Whether the nested pair is healthy at all is unknown: the top pair cannot decide either.
    route = dns.resolve(chain, {"hc1": False, "hc2": None, "hc3": None}, "api.example.com", {})
    assert route.region is None
    assert (
        route.unknown == "health unreadable: us-east-2: health check hc2 not read; us-west-2: health check hc3 not read"
    )
