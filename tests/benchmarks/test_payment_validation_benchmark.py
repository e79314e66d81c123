"""Latency and cold-start benchmarks of the payment validation function.

Latency runs the real handler in-process against moto. Absolute milliseconds on a shared machine
are noise (a loaded CPU doubles them), so the targets are ratios measured in the same run: every
round first times the bare floor of recording a payment (one conditional DynamoDB put and one S3
put, made directly with the function's own clients against the same moto tables and buckets),
then the handler, so load affects both alike. Each accepted payment is also split into time
spent inside AWS SDK calls (moto here, the network in AWS) and the rest: the handler's own
overhead, Powertools included.

A cold start runs in a fresh interpreter set up as Lambda runs the function (LAMBDA_TASK_ROOT,
active tracing): it imports boto3, then the handler, then takes a first accepted payment from a
moto server in this process, so that the interpreter holds nothing but the function. Clients and
the request model are created by that first payment, so it is measured with the import. Its
figures are the interpreter's CPU time, which leaves out the waits for a CPU on a busy machine.

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
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import botocore.client
import pytest
from moto.server import ThreadedMotoServer

from tests.functions.conftest import (
    FUNCTION_DIR,
    ApiResponse,
    Deployment,
    api_event,
    create_region_resources,
    deploy_to,
    mocked_aws,
    payment,
    region_env,
)

pytestmark = pytest.mark.benchmark

ROUNDS = 200
COLD_START_ROUNDS = 7
SMOKE_ROUNDS = 2
# p99 of an accepted payment, end to end, against p99 of the floor (issue 14: within 3x).
TARGET_ACCEPTED_OVER_FLOOR = 3.0
# A rejection makes no AWS call: its p99 must stay well under the floor's (the cost of one
# write pair), i.e. validation never costs as much as recording.
TARGET_REJECTED_OVER_FLOOR = 0.5
TARGET_IMPORT_BEYOND_BOTO3_MS = 150.0
# Import plus the first payment's own work (its SDK calls excluded, as for latency): ~420 ms with
# the clients and the request model created at import (docs/payment-validation.md). The budget
# keeps the import target from being met by moving the same cost into the first request.
TARGET_COLD_START_BEYOND_BOTO3_MS = 350.0
# Calls for a new payment: the acceptance put, then transaction put and two S3 puts concurrently.
AWS_CALLS_PER_ACCEPTED_PAYMENT = 4
COLD_START_REGION = "eu-central-1"  # a region of its own in the moto backend the latency tests share
_X_RAY_TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# In a fresh interpreter: imports boto3, then the handler, then invokes it with the event read
# from stdin. Prints (last line) the CPU time of each, in seconds, and how much of the invocation
# went to AWS SDK calls and, within those, to the HTTP exchanges with moto.
_COLD_START_PROBE = f"""
import json, sys, time, types
sys.path.insert(0, {str(FUNCTION_DIR)!r})
clock = time.process_time
start = clock()
import boto3
after_boto3 = clock()
import app
after_handler = clock()

import botocore.client, botocore.httpsession
spent = {{"sdk": 0.0, "moto": 0.0}}
def timed(owner, name, key):
    call = getattr(owner, name)
    def timed_call(*args, **kwargs):
        begin = clock()
        try:
            return call(*args, **kwargs)
        finally:
            spent[key] += clock() - begin
    setattr(owner, name, timed_call)
timed(botocore.client.BaseClient, "_make_api_call", "sdk")
timed(botocore.httpsession.URLLib3Session, "send", "moto")
context = types.SimpleNamespace(
    function_name="payment-validation", memory_limit_in_mb=256, aws_request_id="cold-start",
    invoked_function_arn="arn:aws:lambda:eu-central-1:123456789012:function:payment-validation",
    get_remaining_time_in_millis=lambda: 10_000,
)
event = json.load(sys.stdin)
invoked = clock()
status = app.lambda_handler(event, context)["statusCode"]
print(json.dumps({{
    "boto3": after_boto3 - start, "handler": after_handler - after_boto3, "status": status,
    "first_request": clock() - invoked, "in_sdk": spent["sdk"], "in_moto": spent["moto"],
}}))
"""


class SdkTimer:
    """Time spent inside AWS SDK calls (moto here), per handler invocation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.per_invocation: list[tuple[float, int]] = []
        self.paused = False
        self._lock = threading.Lock()
        self._make_api_call = botocore.client.BaseClient._make_api_call

    def timed(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.paused:
            return self._make_api_call(client, operation, params)
        start = time.perf_counter()
        try:
            return self._make_api_call(client, operation, params)
        finally:
            with self._lock:  # the copies' calls run on the function's writer threads
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


class Floor:
    """The bare floor of recording a payment: one conditional DynamoDB put, then one S3 put.

    Made with the function's own clients (same configuration, already created) on its tables and
    buckets, with items and objects of a payment's size; timed while the SDK timer is off.
    """

    def __init__(self, api: Deployment, sdk_timer: SdkTimer) -> None:
        self.api = api
        self.sdk_timer = sdk_timer
        self.samples: list[float] = []
        self._body = json.dumps({"payment": payment(), "padding": "x" * 400}).encode()

    def measure(self) -> None:
        module, key = self.api.module, f"floor-{time.time_ns()}"
        self.sdk_timer.paused = True
        start = time.perf_counter()
        module.dynamodb.put_item(
            TableName=self.api.env["TRANSACTIONS_TABLE_NAME"],
            Item={"transaction_id": {"S": key}, "merchant_id": {"S": "merchant-001"}, "payload": {"B": self._body}},
            ConditionExpression="attribute_not_exists(transaction_id)",
        )
        module.s3.put_object(
            Bucket=self.api.env["RECEIPTS_BUCKET_NAME"],
            Key=f"floor/{key}.json",
            Body=self._body,
            ContentType="application/json",
        )
        self.samples.append(time.perf_counter() - start)
        self.sdk_timer.paused = False

    def then(self, event: Callable[[], dict[str, Any]]) -> Callable[[], tuple[tuple[dict[str, Any]], dict[str, Any]]]:
        """pytest-benchmark set-up: times the floor, then hands the round its event."""

        def setup() -> tuple[tuple[dict[str, Any]], dict[str, Any]]:
            self.measure()
            return (event(),), {}

        return setup


def new_payment() -> dict[str, Any]:
    """Every round is a new payment (a new idempotency key). A UUID, not a clock reading: a 19-digit
    nanosecond count is Luhn-valid one time in ten, and the function refuses a card number in any field."""
    return api_event(
        "POST",
        "/payments",
        json.dumps(payment()),
        {"Idempotency-Key": f"bench-{uuid.uuid4()}", "Content-Type": "application/json"},
    )


def test_rejected_payment_latency(
    benchmark: Any, api: Deployment, sdk_timer: SdkTimer, capsys: pytest.CaptureFixture, request: pytest.FixtureRequest
) -> None:
    # A Luhn-invalid card is rejected before any AWS call: pure handler overhead.
    body = json.dumps(payment(card={"number": "4111111111111112"}))
    event = api_event(
        "POST", "/payments", body, {"Idempotency-Key": "bench-rejected", "Content-Type": "application/json"}
    )
    api.invoke(event)  # warm up
    floor = Floor(api, sdk_timer)
    floor.measure()  # warm up: creates the clients

    rounds = ROUNDS if measuring(request) else SMOKE_ROUNDS
    setup = floor.then(lambda: event)
    response = benchmark.pedantic(sdk_timer.around(api.invoke), setup=setup, rounds=rounds, iterations=1)

    assert response.status == 400
    assert all(calls == 0 for _, calls in sdk_timer.per_invocation)
    if measuring(request):
        figures = report(benchmark, capsys, "rejected payment", handler=benchmark.stats.stats.data, floor=floor.samples)
        ratio = figures["handler_p99_ms"] / figures["floor_p99_ms"]
        benchmark.extra_info["handler_p99_over_floor_p99"] = round(ratio, 2)
        with capsys.disabled():
            print(f"rejected payment p99 / floor p99 = {ratio:.2f} (target <= {TARGET_REJECTED_OVER_FLOOR})")
        assert ratio <= TARGET_REJECTED_OVER_FLOOR


def test_accepted_payment_latency(
    benchmark: Any, api: Deployment, sdk_timer: SdkTimer, capsys: pytest.CaptureFixture, request: pytest.FixtureRequest
) -> None:
    api.invoke(new_payment())  # warm up: caches the card hash secret, creates clients and threads
    floor = Floor(api, sdk_timer)
    floor.measure()

    rounds = ROUNDS if measuring(request) else SMOKE_ROUNDS
    invoke = sdk_timer.around(api.invoke)
    response = benchmark.pedantic(invoke, setup=floor.then(new_payment), rounds=rounds, iterations=1)

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
            floor=floor.samples,
            aws_sdk_and_moto=in_sdk,
            # Concurrent copies overlap, so this is the time outside the SDK only approximately.
            handler=[max(total - sdk, 0.0) for total, sdk in zip(totals, in_sdk, strict=True)],
        )
        ratio = figures["total_p99_ms"] / figures["floor_p99_ms"]
        benchmark.extra_info["total_p99_over_floor_p99"] = round(ratio, 2)
        with capsys.disabled():
            print(f"accepted payment p99 / floor p99 = {ratio:.2f} (target <= {TARGET_ACCEPTED_OVER_FLOOR})")
        assert ratio <= TARGET_ACCEPTED_OVER_FLOOR


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server for the fresh interpreters, with the region's resources."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as monkeypatch, mocked_aws(monkeypatch):
        # Same process, same moto backend: what is created here, the server serves.
        create_region_resources(region_env(COLD_START_REGION))
        yield f"http://{host}:{port}"
    server.stop()


# The figures of a cold start, from what one fresh interpreter reports (seconds).
COLD_START_FIGURES: dict[str, Callable[[dict[str, Any]], float]] = {
    "boto3_import": lambda s: s["boto3"],
    "handler_import_beyond_boto3": lambda s: s["handler"],
    "first_payment_total": lambda s: s["first_request"],
    "first_payment_in_aws_sdk": lambda s: s["in_sdk"],
    "first_payment_in_http_to_moto": lambda s: s["in_moto"],
    "first_payment_handler": lambda s: s["first_request"] - s["in_sdk"],
    "cold_start_beyond_boto3": lambda s: s["handler"] + s["first_request"] - s["in_sdk"],
}


def test_cold_start(
    benchmark: Any, moto_endpoint: str, capsys: pytest.CaptureFixture, request: pytest.FixtureRequest
) -> None:
    env = os.environ | region_env(COLD_START_REGION)
    for name in ("POWERTOOLS_TRACE_DISABLED", "AWS_PROFILE"):
        env.pop(name, None)
    env |= {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": moto_endpoint,
        # What Lambda sets: the X-Ray SDK then samples locally, and Powertools traces (active
        # tracing, as deployed); segments go to the daemon address, UDP on the loopback.
        "LAMBDA_TASK_ROOT": str(FUNCTION_DIR),
        "_X_AMZN_TRACE_ID": _X_RAY_TRACE_HEADER,
    }
    samples: list[dict[str, Any]] = []

    def cold_start_in_fresh_interpreter() -> None:
        event = api_event(
            "POST",
            "/payments",
            json.dumps(payment()),
            {"Idempotency-Key": f"cold-{uuid.uuid4()}", "Content-Type": "application/json"},
        )
        probe = subprocess.run(
            [sys.executable, "-c", _COLD_START_PROBE],
            env=env,
            input=json.dumps(event),
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(probe.stdout.splitlines()[-1]))

    # The benchmark table shows the whole subprocess; the figures below isolate the parts.
    rounds = COLD_START_ROUNDS if measuring(request) else 1
    benchmark.pedantic(cold_start_in_fresh_interpreter, rounds=rounds, iterations=1)

    assert samples and all(sample["status"] == 201 and sample["handler"] > 0 for sample in samples)
    if measuring(request):
        values = {name: [measure(sample) * 1000 for sample in samples] for name, measure in COLD_START_FIGURES.items()}
        medians = {f"{name}_ms": round(statistics.median(ms), 1) for name, ms in values.items()}
        # A process sharing the CPU core slows a round down, CPU time included, and never speeds
        # one up: the budgets are checked on the fastest round.
        fastest = {f"{name}_fastest_ms": round(min(ms), 1) for name, ms in values.items()}
        benchmark.extra_info.update(medians | fastest)
        with capsys.disabled():
            print(
                f"\ncold start, CPU time (median of {rounds}): "
                + ", ".join(f"{name}={value}" for name, value in medians.items())
                + f"; fastest: import {fastest['handler_import_beyond_boto3_fastest_ms']}, "
                f"cold start {fastest['cold_start_beyond_boto3_fastest_ms']}"
            )
        assert fastest["handler_import_beyond_boto3_fastest_ms"] <= TARGET_IMPORT_BEYOND_BOTO3_MS
        assert fastest["cold_start_beyond_boto3_fastest_ms"] <= TARGET_COLD_START_BEYOND_BOTO3_MS
