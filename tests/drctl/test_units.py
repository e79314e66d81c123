"""The pure parts: waiting, override semantics, and how Route 53 picks a record."""

from __future__ import annotations

from typing import Any

import pytest

from drctl import dns
from drctl.aws import Unreachable
from drctl.waiters import WaitTimeout, wait_for
from tests.drctl.conftest import FakeClock
from tests.drctl.failover_records import CHAIN, PAIR


def test_wait_retries_unreadable_states_and_reports_progress() -> None:
    clock, lines = FakeClock(), []
    answers: list[Any] = [Unreachable("us-east-2: throttled"), "switching", "done"]

    def read() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_for("the writer", read, lambda s: s == "done", str, timeout=60, clock=clock, say=lines.append) == "done"
    assert lines == [
        "  …    0 s  waiting for the writer: could not read the state: us-east-2: throttled",
        "  …   10 s  waiting for the writer: switching",
    ]
    assert clock.sleeps == [10, 10]


def test_wait_timeout_carries_the_last_state() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as timeout:
        wait_for(
            "the writer",
            lambda: "switching",
            lambda s: False,
            lambda s: f"still {s}",
            timeout=25,
            clock=clock,
            say=lambda _: None,
        )
    assert str(timeout.value) == "timed out after 25 s waiting for the writer"
    assert timeout.value.state == "still switching"
    assert clock.sleeps == [10, 10, 5]  # the last sleep stops at the deadline


@pytest.mark.parametrize(
    ("flags", "measured", "effective"),
    [
        (dns.NORMAL, True, True),
        (dns.NORMAL, False, False),
        (dns.NORMAL, None, None),
        (dns.ALWAYS_HEALTHY, False, True),
        (dns.ALWAYS_HEALTHY, None, True),
        (dns.ALWAYS_UNHEALTHY, True, False),
        (dns.ALWAYS_UNHEALTHY, None, False),
        ((False, True), True, False),  # inverted alone flips what the checkers see
    ],
)
def test_what_routing_sees(flags: dns.Flags, measured: bool | None, effective: bool | None) -> None:
    check = dns.HealthCheck("id", "name", "region", "us-east-1", "CALCULATED", flags, 1)
    assert check.effective(measured) is effective


@pytest.mark.parametrize(
    ("health", "region"),
    [
        ({"hc1": True, "hc2": True}, "us-east-1"),
        ({"hc1": False, "hc2": True}, "us-east-2"),
        ({"hc1": False, "hc2": False}, "us-east-1"),  # all unhealthy: Route 53 answers with the primary
        (
            {"hc1": None, "hc2": True},
            None,
        ),  # the primary's health decides and is unknown: not guessed (test_unreadable_health.py)
    ],
)
def test_failover_pair(health: dict[str, bool | None], region: str) -> None:
    assert dns.resolve(PAIR, health, "API.example.com").region == region


def test_nested_chain_with_evaluate_target_health() -> None:
    chain = CHAIN
    route = dns.resolve(chain, {"hc1": False, "hc2": False, "hc3": True}, "api.example.com")
    assert route.region == "us-west-2" and len(route.path) == 2
    # Every region down: the nested pair is unhealthy, so the top answers with its primary.
    assert dns.resolve(chain, {"hc1": False, "hc2": False, "hc3": False}, "api.example.com").region == "us-east-1"


def test_no_failover_records() -> None:
    assert dns.resolve([], {}, "api.example.com") == dns.Route(None, ("api.example.com: no failover records",))
