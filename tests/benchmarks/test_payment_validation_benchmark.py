"""Latency and cold-import benchmarks of the payment validation function.

Latency runs the real handler in-process against moto. Moto is far slower than DynamoDB or S3
seen from Lambda, so each accepted payment is split into time spent inside AWS SDK calls (moto
here, the network in AWS) and the rest: the handler's own overhead, Powertools included.

    .venv/bin/python -m pytest tests/benchmarks --benchmark-only   # measure, print p50/p99
    .venv/bin/python -m pytest tests/benchmarks                    # a few rounds, as plain tests

Only a --benchmark-only run takes the full number of rounds and checks the latency target.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import botocore.client
import pytest

from tests.functions.conftest import (
    FUNCTION_DIR,
    ApiResponse,
    Deployment,
    api_event,
    deploy_to,
    mocked_aws,
    payment,
    region_env,
)

pytestmark = pytest.mark.benchmark

ROUNDS = 200
IMPORT_ROUNDS = 5
SMOKE_ROUNDS = 2
TARGET_P99_MS = 5.0
TARGET_IMPORT_BEYOND_BOTO3_MS = 150.0
# Calls for a new payment: idempotency put + update, transaction put + update, two S3 puts.
AWS_CALLS_PER_ACCEPTED_PAYMENT = 6

# Imports boto3, then the handler, in a fresh interpreter; prints both durations in seconds.
_IMPORT_PROBE = f"""
import json, sys, time
sys.path.insert(0, {str(FUNCTION_DIR)!r})
start = time.perf_counter()
import boto3
after_boto3 = time.perf_counter()
import app
print(json.dumps({{"boto3": after_boto3 - start, "handler": time.perf_counter() - after_boto3}}))
"""


class SdkTimer:
    """Time spent inside AWS SDK calls (moto here), per handler invocation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.per_invocation: list[tuple[float, int]] = []
        self._make_api_call = botocore.client.BaseClient._make_api_call

    def timed(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        start = time.perf_counter()
        try:
            return self._make_api_call(client, operation, params)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def around(self, invoke: Callable[[dict[str, Any]], ApiResponse]) -> Callable[[dict[str, Any]], ApiResponse]:
        def invoke_and_record(event: dict[str, Any]) -> ApiResponse:
            self.seconds, self.calls = 0.0, 0
            response = invoke(event)
            self.per_invocation.append((self.seconds, self.calls))
            return response

        return invoke_and_record


def measuring(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("benchmark_only")) and not request.config.getoption("benchmark_disable")


def percentile_ms(samples: list[float], percent: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1] * 1000


def report(benchmark: Any, capsys: pytest.CaptureFixture, title: str, **series: list[float]) -> dict[str, float]:
    """p50/p99 of each series (seconds) into the benchmark's extra_info, and onto the terminal."""
    figures = {}
    for name, samples in series.items():
        figures[f"{name}_p50_ms"] = round(percentile_ms(samples, 50), 3)
        figures[f"{name}_p99_ms"] = round(percentile_ms(samples, 99), 3)
    benchmark.extra_info.update(figures)
    with capsys.disabled():
        print(f"\n{title}: " + ", ".join(f"{name}={value}" for name, value in figures.items()))
    return figures


@pytest.fixture(scope="module")
def api() -> Iterator[Deployment]:
    with pytest.MonkeyPatch.context() as monkeypatch, mocked_aws(monkeypatch):
        yield deploy_to(monkeypatch)


@pytest.fixture
def sdk_timer(monkeypatch: pytest.MonkeyPatch) -> SdkTimer:
    timer = SdkTimer()

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        return timer.timed(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
    return timer


def new_payment_event() -> tuple[tuple[dict[str, Any]], dict[str, Any]]:
    """pytest-benchmark set-up: every round is a new payment (a new idempotency key)."""
    return (api_event("POST", "/payments", json.dumps(payment()), {"Idempotency-Key": f"bench-{time.time_ns()}"}),), {}


def test_rejected_payment_latency(
    benchmark: Any, api: Deployment, sdk_timer: SdkTimer, capsys: pytest.CaptureFixture, request: pytest.FixtureRequest
) -> None:
    # A Luhn-invalid card is rejected before any AWS call: pure handler overhead.
    body = json.dumps(payment(card={"number": "4111111111111112"}))
    event = api_event("POST", "/payments", body, {"Idempotency-Key": "bench-rejected"})
    api.invoke(event)  # warm up

    rounds = ROUNDS if measuring(request) else SMOKE_ROUNDS
    response = benchmark.pedantic(sdk_timer.around(api.invoke), args=(event,), rounds=rounds, iterations=1)

    assert response.status == 400
    assert all(calls == 0 for _, calls in sdk_timer.per_invocation)
    if measuring(request):
        figures = report(benchmark, capsys, "rejected payment", handler=benchmark.stats.stats.data)
        assert figures["handler_p99_ms"] <= TARGET_P99_MS


def test_accepted_payment_latency(
    benchmark: Any, api: Deployment, sdk_timer: SdkTimer, capsys: pytest.CaptureFixture, request: pytest.FixtureRequest
) -> None:
    api.invoke(new_payment_event()[0][0])  # warm up: caches the card hash secret

    rounds = ROUNDS if measuring(request) else SMOKE_ROUNDS
    invoke = sdk_timer.around(api.invoke)
    response = benchmark.pedantic(invoke, setup=new_payment_event, rounds=rounds, iterations=1)

    assert response.status == 201
    assert {calls for _, calls in sdk_timer.per_invocation} == {AWS_CALLS_PER_ACCEPTED_PAYMENT}
    if measuring(request):
        totals = benchmark.stats.stats.data
        in_sdk = [seconds for seconds, _ in sdk_timer.per_invocation]
        figures = report(
            benchmark,
            capsys,
            "accepted payment",
            total=totals,
            aws_sdk_and_moto=in_sdk,
            handler=[total - sdk for total, sdk in zip(totals, in_sdk, strict=True)],
        )
        # Moto's share is not what Lambda would see from DynamoDB and S3; the handler's is.
        assert figures["handler_p99_ms"] <= TARGET_P99_MS


def test_cold_import_beyond_boto3(
    benchmark: Any, capsys: pytest.CaptureFixture, request: pytest.FixtureRequest
) -> None:
    env = os.environ | region_env("us-east-1") | {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    samples: list[dict[str, float]] = []

    def import_in_fresh_interpreter() -> None:
        probe = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE], env=env, capture_output=True, text=True, check=True
        )
        samples.append(json.loads(probe.stdout))

    # The benchmark table shows the whole subprocess; the figures below isolate the imports.
    rounds = IMPORT_ROUNDS if measuring(request) else 1
    benchmark.pedantic(import_in_fresh_interpreter, rounds=rounds, iterations=1)

    assert samples and all(sample["handler"] > 0 for sample in samples)
    if measuring(request):
        boto3_ms = statistics.median(sample["boto3"] for sample in samples) * 1000
        beyond_ms = statistics.median(sample["handler"] for sample in samples) * 1000
        benchmark.extra_info.update(boto3_import_ms=round(boto3_ms, 1), handler_beyond_boto3_ms=round(beyond_ms, 1))
        with capsys.disabled():
            print(
                f"\ncold import (median of {IMPORT_ROUNDS}): boto3={boto3_ms:.0f} ms, "
                f"handler beyond boto3={beyond_ms:.0f} ms (target {TARGET_IMPORT_BEYOND_BOTO3_MS:.0f} ms)"
            )
