"""The region canary (functions/canary) against moto's CloudWatch and a real HTTP server on 127.0.0.1.

CloudWatch in the other regions (DescribeAlarms each round) is moto's; a region whose CloudWatch is down is
a client pointed at a closed port on 127.0.0.1 (connection refused: botocore's EndpointConnectionError).

The server answers /<target>/health per round as a test scripts it: 200, 503, or a reply slower than the
canary's HTTP timeout. The canary's clock is faked (a minute of rounds without the minute) and each sleep
moves the script to the next round; the HTTP calls, the thread pool and PutMetricData are real (moto).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from unittest.mock import patch

import boto3
import pytest
from moto import mock_aws

from core import routing

APP = Path(__file__).resolve().parents[2] / "functions" / "canary" / "app.py"
E1, E2, W2 = "us-east-1", "us-east-2", "us-west-2"
HTTP_TIMEOUT = 0.3
_module_ids = itertools.count()


@dataclass
class Script:
    """What each target answers in each round: a status, or "slow" (past the canary's timeout). A target's
    last entry repeats; unscripted targets answer 200."""

    answers: dict[str, Sequence[int | str]] = field(default_factory=dict)
    round: int = 0
    requests: list[str] = field(default_factory=list)

    def answer(self, target: str) -> int | str:
        plan = self.answers.get(target) or [200]
        return plan[min(self.round, len(plan) - 1)]


@contextmanager
def health_server(script: Script) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            target, _, rest = self.path.strip("/").partition("/")
            script.requests.append(self.path)
            answer = script.answer(target) if rest == "health" else 404
            if answer == "slow":
                time.sleep(HTTP_TIMEOUT * 4)
                answer = 200
            body = json.dumps({"status": "ok" if answer == 200 else "unavailable"}).encode()
            self.send_response(int(answer))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def canary_env(region: str, chain: Sequence[str], base: str, **overrides: str) -> dict[str, str]:
    """What global_resources/canary.py sets (names from core/routing.py), the URLs on the local server."""
    targets = {target: f"{base}/{target}/health" for target in [*chain, routing.PUBLIC_TARGET]}
    return {
        "AWS_REGION": region,
        routing.CANARY_ENV_CHAIN: ",".join(chain),
        routing.CANARY_ENV_TARGETS: json.dumps(targets),
        routing.CANARY_ENV_FAILURE_THRESHOLD: "3",
        routing.CANARY_ENV_INTERVAL: str(routing.CANARY_INTERVAL_SECONDS),
        routing.CANARY_ENV_ROUNDS: str(routing.CANARY_ROUNDS),
        routing.CANARY_ENV_HTTP_TIMEOUT: str(HTTP_TIMEOUT),
        routing.CANARY_ENV_NAMESPACE: routing.CANARY_NAMESPACE,
        routing.CANARY_ENV_ROUTING_NAMESPACE: routing.ROUTING_NAMESPACE,
        routing.CANARY_ENV_CLOUDWATCH_ALARMS: json.dumps({r: probe_alarm(r) for r in chain}),
    } | overrides


def probe_alarm(region: str) -> str:
    return f"payment-db-reachable-{region}-test"


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_app(env: Mapping[str, str]) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"canary_app_{next(_module_ids)}", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    with patch.dict(os.environ, env):
        spec.loader.exec_module(module)
    return module


@dataclass
class Invocation:
    result: dict
    script: Script
    region: str

    def stored(self, namespace: str, metric: str, dimension: str, value: str) -> tuple[int, float, float | None]:
        """(count, sum, minimum) of the datapoints CloudWatch (moto) holds, read back through the API."""
        now = datetime.now(UTC)
        points = boto3.client("cloudwatch", region_name=self.region).get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": dimension, "Value": value}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=600,
            Statistics=["SampleCount", "Sum", "Minimum"],
        )["Datapoints"]
        count = int(sum(p["SampleCount"] for p in points))
        return count, sum(p["Sum"] for p in points), min((p["Minimum"] for p in points), default=None)

    def target(self, target: str) -> tuple[int, float, float | None]:
        return self.stored(routing.CANARY_NAMESPACE, routing.CANARY_METRIC, routing.CANARY_DIMENSION, target)

    def health(self, target: str) -> list[float]:
        return [float(r["healthy"][target]) for r in self.result["rounds"]]

    def cloudwatch(self, region: str) -> list[float]:
        return [float(r["cloudwatch"][routing.cloudwatch_target(region)]) for r in self.result["rounds"]]

    def holds(self) -> list[tuple[str, int, float | None]]:
        """(held region, datapoints, their minimum) for every RegionHeldOut series in the canary's region."""
        metrics = boto3.client("cloudwatch", region_name=self.region).list_metrics(Namespace=routing.ROUTING_NAMESPACE)[
            "Metrics"
        ]
        held = sorted(m["Dimensions"][0]["Value"] for m in metrics)
        return [
            (r, *self.stored(routing.ROUTING_NAMESPACE, routing.HELD_OUT_METRIC, routing.HELD_OUT_DIMENSION, r)[::2])
            for r in held
        ]


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():

        def run(
            region: str,
            chain: Sequence[str],
            answers: dict[str, Sequence[int | str]],
            *,
            cloudwatch_down: Sequence[str] = (),
            **env: str,
        ) -> Invocation:
            script = Script(dict(answers))
            with health_server(script) as base:
                module = load_app(canary_env(region, chain, base, **env))
                for down in cloudwatch_down:  # that region's CloudWatch endpoint refuses connections
                    module.regional[down] = boto3.client(
                        "cloudwatch",
                        region_name=down,
                        config=module._DESCRIBE_CONFIG,
                        endpoint_url=f"http://127.0.0.1:{closed_port()}",
                    )
                clock = [1000.0]

                def sleep(seconds: float) -> None:
                    clock[0] += seconds
                    script.round += 1

                module.sleep, module.monotonic = sleep, lambda: clock[0]
                result = module.lambda_handler({"source": "aws.events"}, None)
                json.dumps(result)  # Lambda must be able to serialise it
            return Invocation(result, script, region)

        yield run


# --- what it measures and publishes -----------------------------------------------------------------------


def test_every_round_probes_every_target_and_publishes_its_health(invoke):
    run = invoke(E2, [E1, E2], {})

    assert len(run.result["rounds"]) == routing.CANARY_ROUNDS
    assert sorted(run.script.requests) == sorted(
        f"/{t}/health" for t in (E1, E2, "public") for _ in range(routing.CANARY_ROUNDS)
    )
    for target in (E1, E2, routing.PUBLIC_TARGET):
        assert run.target(target) == (routing.CANARY_ROUNDS, routing.CANARY_ROUNDS, 1.0)
    assert run.holds() == [] and run.result["held"] == []


def test_an_error_status_and_a_slow_answer_are_failures(invoke):
    run = invoke(E2, [E1, E2], {E1: [503], routing.PUBLIC_TARGET: ["slow"]}, FAILURE_THRESHOLD="6")

    assert run.health(E1) == run.health(routing.PUBLIC_TARGET) == [0.0] * 6 and run.health(E2) == [1.0] * 6
    assert run.target(E1) == run.target(routing.PUBLIC_TARGET) == (6, 0.0, 0.0)


# --- CloudWatch in the other regions: pages from here, never holds ---------------------------------------


def test_every_round_asks_cloudwatch_in_every_other_region(invoke):
    boto3.client("cloudwatch", region_name=E1).put_metric_alarm(
        AlarmName=probe_alarm(E1),
        Namespace="PaymentDR/DatabaseProbe",
        MetricName="DatabaseReachable",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.5,
        ComparisonOperator="LessThanThreshold",
    )
    run = invoke(W2, [E1, E2, W2], {})

    assert run.cloudwatch(E1) == run.cloudwatch(E2) == [1.0] * 6  # E2's alarm does not exist: an answer all the same
    for region in (E1, E2):
        assert run.target(routing.cloudwatch_target(region)) == (6, 6.0, 1.0)
    assert run.target(routing.cloudwatch_target(W2)) == (0, 0, None)  # never its own region
    assert run.holds() == []


def test_a_region_whose_cloudwatch_fails_is_published_unhealthy_and_never_held(invoke):
    run = invoke(E2, [E1, E2], {}, cloudwatch_down=[E1], FAILURE_THRESHOLD="1")

    assert run.cloudwatch(E1) == [0.0] * 6 and run.health(E1) == [1.0] * 6
    assert run.target(routing.cloudwatch_target(E1)) == (6, 0.0, 0.0)
    assert run.holds() == [] and run.result["held"] == []


def test_a_cloudwatch_failure_changes_no_hold_decision(invoke):
    """us-east-1 down (API and CloudWatch): held exactly as without the CloudWatch check; and answers from
    CloudWatch do not make a canary whose HTTP probes all fail any less blind."""
    down = invoke(E2, [E1, E2], {E1: [200, 503]}, cloudwatch_down=[E1])
    assert [r["held"] for r in down.result["rounds"]] == [[], [], [], [E1], [], []]
    blind = invoke(W2, [E1, E2, W2], {E1: [503], E2: [503], W2: [503], routing.PUBLIC_TARGET: [503]})
    assert blind.cloudwatch(E1) == blind.cloudwatch(E2) == [1.0] * 6
    assert blind.holds() == []


# --- holds: only under the contract's rule ------------------------------------------------------------------


def test_the_serving_region_failing_threshold_rounds_is_held_once(invoke):
    """us-east-1 (first in the chain) fails from round 2: held at its third failure, once, from us-east-2."""
    run = invoke(E2, [E1, E2], {E1: [200, 503]})

    assert [r["held"] for r in run.result["rounds"]] == [[], [], [], [E1], [], []]
    assert run.holds() == [(E1, 1, routing.HELD)]  # one datapoint, of 1: never a 0
    assert run.result["held"] == [E1]


def test_timeouts_count_toward_a_hold(invoke):
    run = invoke(E2, [E1, E2], {E1: ["slow"]})

    assert run.holds() == [(E1, 1, routing.HELD)]
    assert [r["held"] for r in run.result["rounds"]].index([E1]) == 2


def test_failures_that_are_not_consecutive_hold_nothing(invoke):
    run = invoke(E2, [E1, E2], {E1: [503, 503, 200, 503, 503, 200]})

    assert run.health(E1) == [0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert run.holds() == []


def test_a_region_behind_a_healthy_region_is_not_held(invoke):
    """us-east-2 fails throughout, but us-east-1 (ahead of it) serves: us-east-2 was not serving."""
    run = invoke(W2, [E1, E2, W2], {E2: [503]})

    assert run.health(E2) == [0.0] * 6
    assert run.holds() == []


def test_every_failed_region_ahead_of_a_healthy_one_is_held(invoke):
    """us-east-1 and us-east-2 both down: traffic goes to us-west-2 and stays; both are held from there."""
    run = invoke(W2, [E1, E2, W2], {E1: [503], E2: [503]})

    assert run.holds() == [(E1, 1, routing.HELD), (E2, 1, routing.HELD)]


def test_a_blind_canary_holds_nothing(invoke):
    """Nothing answers (the canary's own path is what failed): every target unhealthy, no hold."""
    run = invoke(E2, [E1, E2], {E1: [503], E2: ["slow"], routing.PUBLIC_TARGET: [503]})

    assert run.health(E1) == run.health(E2) == [0.0] * 6
    assert run.holds() == []


def test_a_canary_never_holds_its_own_region(invoke):
    run = invoke(E1, [E1, E2], {E1: [503]})

    assert run.health(E1) == [0.0] * 6
    assert run.holds() == []


def test_the_threshold_follows_the_configuration(invoke):
    held_late = invoke(E2, [E1, E2], {E1: [503]}, FAILURE_THRESHOLD="5")
    assert [r["held"] for r in held_late.result["rounds"]].index([E1]) == 4


def test_holds_to_engage_is_the_contracts_rule():
    module = load_app(canary_env(W2, [E1, E2, W2], "http://127.0.0.1:9"))
    rule = module.holds_to_engage
    up = {E1: True, E2: True, W2: True}
    assert rule([E1, E2, W2], {E1: 3}, 3, W2, up) == [E1]
    assert rule([E1, E2, W2], {E1: 2}, 3, W2, up) == []
    assert rule([E1, E2, W2], {E2: 9}, 3, W2, up) == []  # us-east-1 is ahead and up
    assert rule([E1, E2, W2], {E1: 3, E2: 3}, 3, W2, up) == [E1, E2]
    assert rule([E1, E2, W2], {E1: 3, E2: 3, W2: 3}, 3, W2, up) == [E1, E2]  # never its own region
    assert rule([E1, E2, W2], {E1: 3}, 3, W2, dict.fromkeys(up, False)) == []  # blind


# --- configuration ----------------------------------------------------------------------------------------


def test_environment_names_are_the_routing_contracts():
    module = load_app(canary_env(E2, [E1, E2], "http://127.0.0.1:9"))
    assert (module.ENV_CHAIN, module.ENV_TARGETS, module.ENV_FAILURE_THRESHOLD) == (
        routing.CANARY_ENV_CHAIN,
        routing.CANARY_ENV_TARGETS,
        routing.CANARY_ENV_FAILURE_THRESHOLD,
    )
    assert (
        module.ENV_INTERVAL,
        module.ENV_ROUNDS,
        module.ENV_HTTP_TIMEOUT,
        module.ENV_CANARY_NAMESPACE,
        module.ENV_ROUTING_NAMESPACE,
    ) == (
        routing.CANARY_ENV_INTERVAL,
        routing.CANARY_ENV_ROUNDS,
        routing.CANARY_ENV_HTTP_TIMEOUT,
        routing.CANARY_ENV_NAMESPACE,
        routing.CANARY_ENV_ROUTING_NAMESPACE,
    )
    assert module.ENV_CLOUDWATCH_ALARMS == routing.CANARY_ENV_CLOUDWATCH_ALARMS
    assert module.CLOUDWATCH_TARGET_PREFIX == routing.CLOUDWATCH_TARGET_PREFIX
    assert (module.TARGET_METRIC, module.TARGET_DIMENSION, module.PUBLIC_TARGET) == (
        routing.CANARY_METRIC,
        routing.CANARY_DIMENSION,
        routing.PUBLIC_TARGET,
    )
    assert (module.HELD_OUT_METRIC, module.HELD_OUT_DIMENSION, module.HELD) == (
        routing.HELD_OUT_METRIC,
        routing.HELD_OUT_DIMENSION,
        routing.HELD,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CHAIN": ""}, "CHAIN is not set"),
        ({"TARGETS": "not json"}, "TARGETS must be a JSON object"),
        ({"TARGETS": json.dumps({E1: "https://a/health"})}, "TARGETS lacks the /health URL of us-east-2"),
        ({"FAILURE_THRESHOLD": "7"}, "FAILURE_THRESHOLD must be a whole number from 1 to 6"),
        ({"ROUNDS": "7", "INTERVAL_SECONDS": "10"}, "must fit in the 60-second schedule"),
        ({"HTTP_TIMEOUT_SECONDS": "30"}, "HTTP_TIMEOUT_SECONDS must be a number from 0.1 to 10"),
        ({"CLOUDWATCH_ALARMS": ""}, "CLOUDWATCH_ALARMS is not set"),
        ({"CLOUDWATCH_ALARMS": "[1]"}, "CLOUDWATCH_ALARMS must be a JSON object of region -> alarm name"),
        (
            {"CLOUDWATCH_ALARMS": json.dumps({E2: "a", W2: "b", "eu-west-1": "c"})},
            "CLOUDWATCH_ALARMS names eu-west-1, us-west-2: not regions of CHAIN",
        ),
    ],
)
def test_invalid_configuration_is_named(overrides, message):
    with pytest.raises(Exception) as raised:
        load_app(canary_env(E2, [E1, E2], "http://127.0.0.1:9", **overrides))
    assert type(raised.value).__name__ == "ConfigurationError" and message in str(raised.value)
