"""`drctl dns --route53`: the fallback that forces traffic through the health checks' Disabled/Inverted flags (Route 53's control plane)."""

from __future__ import annotations

from collections.abc import Callable

from tests.drctl.conftest import THREE_REGIONS, World, flat


def updates(world: World) -> list[tuple[str, bool, bool]]:
    ids = {check_id: region for (kind, region), check_id in world.checks.items()}
    return [
        (ids[p["HealthCheckId"]], p["Disabled"], p["Inverted"])
        for _, _, op, p in world.clients.calls
        if op == "UpdateHealthCheck"
    ]


def test_force_traffic_then_run_again_then_release(world: World) -> None:
    result = world.invoke("dns", "--to", "us-east-2", "--route53", "--yes")
    assert result.exit_code == 0, result.output
    # The target turns always-healthy before the other turns always-unhealthy.
    assert updates(world) == [("us-east-2", True, False), ("us-east-1", True, True)]
    assert world.flags("us-east-2") == (True, False) and world.flags("us-east-1") == (True, True)
    out = flat(result.stdout)
    assert "clients follow within the record TTL, 60 s, plus resolver caching" in out
    assert "api.payments.example.com: PRIMARY us-east-1 unhealthy, SECONDARY us-east-2 healthy → SECONDARY" in out
    assert "traffic goes to: us-east-2" in out
    assert world.messages("us-east-1")[0]["details"]["changed"] == [
        "payment-health-region-us-east-2-qa",
        "payment-health-region-us-east-1-qa",
    ]

    again = world.invoke("dns", "--to", "us-east-2", "--route53", "--yes")  # idempotent
    assert again.exit_code == 0 and len(updates(world)) == 2
    assert "payment-health-region-us-east-1-qa is already always unhealthy (Disabled + Inverted)" in flat(again.stdout)

    released = world.invoke("dns", "--release", "--route53", "--yes")
    assert released.exit_code == 0, released.output
    assert world.flags("us-east-1") == (False, False) and world.flags("us-east-2") == (False, False)
    assert "traffic goes to: us-east-1" in flat(released.stdout)
    assert [event["outcome"] for event in world.audit()] == ["ok", "ok", "ok"]


def test_dry_run_lists_the_flag_changes_only(world: World) -> None:
    result = world.invoke("dns", "--to", "us-east-2", "--route53", "--dry-run")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "1. [change] set payment-health-region-us-east-2-qa: always healthy (Disabled)" in out
    assert "2. [change] set payment-health-region-us-east-1-qa: always unhealthy (Disabled + Inverted)" in out
    assert world.clients.mutations() == [] and world.flags("us-east-1") == (False, False)


def test_three_regions_traffic_reaches_the_end_of_the_chain(make_world: Callable[..., World]) -> None:
    world = make_world(THREE_REGIONS)
    result = world.invoke("dns", "--to", "us-west-2", "--route53", "--yes")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert (
        "failover-1-qa.api.payments.example.com: PRIMARY us-east-2 unhealthy, SECONDARY us-west-2 healthy → SECONDARY"
        in out
    )
    assert "traffic goes to: us-west-2" in out
    assert updates(world)[0] == ("us-west-2", True, False)
