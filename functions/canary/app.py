"""Region canary: can the payment API be reached, region by region and by its public name? And if the
region that was serving is down, hold it out of rotation (core/routing.py is the contract).

Handler `app.lambda_handler`, run once a minute by an EventBridge schedule in every region. One invocation
runs ROUNDS rounds, INTERVAL_SECONDS apart; each round calls every target's /health in parallel (each
region's execute-api host and stage path, as its Route 53 `api` check does, and https://<domainName>/health)
and publishes ``TargetHealthy{Target=<region>|public}`` (1/0) in this region. Alarms on those metrics page
this region's failover topic, so an outage of another region pages the team from a region that is up.

Each round also asks CloudWatch in every OTHER region one cheap read-only question (DescribeAlarms on that
region's probe alarm, CLOUDWATCH_ALARMS names every region's; its own is skipped) and publishes ``TargetHealthy{Target=cloudwatch-<region>}``: an
outage of CloudWatch there silences that region's own alarms, so it must page from here. Any answer counts
(even no alarm); an error or a timeout is a failure. These results never count toward a hold: CloudWatch
is not on the payment path.

Holds: when a region has failed FAILURE_THRESHOLD consecutive rounds while every region ahead of it in
CHAIN has too (it was serving, or would have been), the canary publishes ``RegionHeldOut{Region=<it>}=1``
in this region once per invocation; the hold alarm here keeps that region out of DNS until an operator
releases it (drctl failback / drctl dns --release publish 0; the canary never does). Two guards:

- A blind canary holds nothing: when not one target answered healthy in a round, what failed is most
  likely this canary's own network path, and holding every region out would help no one.
- The canary never holds its own region: a region's holds live in the *other* regions (no alarm here
  watches this region's metric), so a region cannot lock itself out.

State of consecutive failures: carried within one invocation only (the streaks start at 0 in each
invocation). Simple and explicit: no state store to fail or to read during an outage, and no CloudWatch
read-back whose eventual consistency would blur "consecutive". The cost: a failure that starts in an
invocation's last rounds is counted again from the next invocation's first round, so a hold can take up to
FAILURE_THRESHOLD - 1 rounds longer than the threshold itself; the threshold is at most ROUNDS.

Outside any VPC (no subnets, no NAT): the canary reaches the endpoints over Lambda's own internet access,
so a NAT gateway or VPC failure in this region does not blind it, and it sees the API as clients do.

The standard library (urllib) and boto3 from the Lambda runtime only: nothing to vendor, nothing to patch.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# core/routing.py names these (a test keeps them equal); the bundle carries this file alone.
ENV_CHAIN = "CHAIN"
ENV_TARGETS = "TARGETS"
ENV_FAILURE_THRESHOLD = "FAILURE_THRESHOLD"
ENV_INTERVAL = "INTERVAL_SECONDS"
ENV_ROUNDS = "ROUNDS"
ENV_HTTP_TIMEOUT = "HTTP_TIMEOUT_SECONDS"
ENV_CANARY_NAMESPACE = "CANARY_NAMESPACE"
ENV_ROUTING_NAMESPACE = "ROUTING_NAMESPACE"
ENV_CLOUDWATCH_ALARMS = "CLOUDWATCH_ALARMS"
CLOUDWATCH_TARGET_PREFIX = "cloudwatch-"
TARGET_METRIC, TARGET_DIMENSION = "TargetHealthy", "Target"
HELD_OUT_METRIC, HELD_OUT_DIMENSION, HELD = "RegionHeldOut", "Region", 1.0
PUBLIC_TARGET = "public"
SCHEDULE_SECONDS = 60
# Standard resolution: the alarms on these metrics are one-minute alarms.
STORAGE_RESOLUTION = 60
USER_AGENT = "payment-dr-canary"


class ConfigurationError(RuntimeError):
    """The environment the function was deployed with is unusable (raised at cold start)."""


@dataclass(frozen=True)
class Settings:
    region: str
    chain: tuple[str, ...]
    targets: Mapping[str, str]  # target -> /health URL
    failure_threshold: int
    interval_seconds: float
    rounds: int
    http_timeout_seconds: float
    canary_namespace: str
    routing_namespace: str
    cloudwatch_alarms: Mapping[str, str] = field(default_factory=dict)  # other region -> alarm to describe there


def _number(
    environ: Mapping[str, str], name: str, low: float, high: float, problems: list[str], whole: bool = False
) -> float:
    raw = environ.get(name, "").strip()
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        problems.append(
            f"{name} must be {'a whole number' if whole else 'a number'} from {low:g} to {high:g}, got {raw!r}"
        )
        return low
    return value


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validated settings, or ConfigurationError naming every missing or invalid variable."""
    problems: list[str] = []
    for name in (
        "AWS_REGION",
        ENV_CHAIN,
        ENV_TARGETS,
        ENV_CANARY_NAMESPACE,
        ENV_ROUTING_NAMESPACE,
        ENV_CLOUDWATCH_ALARMS,
    ):
        if not environ.get(name, "").strip():
            problems.append(f"{name} is not set")
    chain = tuple(region.strip() for region in environ.get(ENV_CHAIN, "").split(",") if region.strip())
    try:
        targets = json.loads(environ.get(ENV_TARGETS) or "{}")
    except json.JSONDecodeError:
        targets = None
    if not isinstance(targets, dict) or not all(
        isinstance(v, str) and v.startswith(("https://", "http://")) for v in targets.values()
    ):
        problems.append(
            f"{ENV_TARGETS} must be a JSON object of target -> http(s) URL, got {environ.get(ENV_TARGETS)!r}"
        )
        targets = {}
    missing = [region for region in chain if region not in targets]
    if missing:
        problems.append(
            f"{ENV_TARGETS} lacks the /health URL of {', '.join(missing)} (every region of {ENV_CHAIN} is probed)"
        )
    alarms = _cloudwatch_alarms(environ, chain, environ.get("AWS_REGION", "").strip(), problems)
    interval = _number(environ, ENV_INTERVAL, 1, SCHEDULE_SECONDS, problems)
    rounds = int(_number(environ, ENV_ROUNDS, 1, SCHEDULE_SECONDS, problems, whole=True))
    if (rounds - 1) * interval >= SCHEDULE_SECONDS:
        problems.append(f"{ENV_ROUNDS} x {ENV_INTERVAL} must fit in the {SCHEDULE_SECONDS}-second schedule")
    settings = Settings(
        region=environ.get("AWS_REGION", "").strip(),
        chain=chain,
        targets=targets,
        failure_threshold=int(_number(environ, ENV_FAILURE_THRESHOLD, 1, max(rounds, 1), problems, whole=True)),
        interval_seconds=interval,
        rounds=rounds,
        http_timeout_seconds=_number(environ, ENV_HTTP_TIMEOUT, 0.1, interval, problems),
        canary_namespace=environ.get(ENV_CANARY_NAMESPACE, "").strip(),
        routing_namespace=environ.get(ENV_ROUTING_NAMESPACE, "").strip(),
        cloudwatch_alarms=alarms,
    )
    if problems:
        raise ConfigurationError("Invalid configuration: " + "; ".join(problems))
    return settings


def _cloudwatch_alarms(
    environ: Mapping[str, str], chain: tuple[str, ...], own_region: str, problems: list[str]
) -> dict[str, str]:
    """CLOUDWATCH_ALARMS: a JSON object, region of the chain -> the alarm name to describe there (the same text in
    every region); this canary asks the other regions only (its own CloudWatch is the one it publishes to)."""
    raw = environ.get(ENV_CLOUDWATCH_ALARMS) or "{}"
    try:
        alarms = json.loads(raw)
    except json.JSONDecodeError:
        alarms = None
    if not isinstance(alarms, dict) or not all(isinstance(v, str) and v for v in alarms.values()):
        problems.append(f"{ENV_CLOUDWATCH_ALARMS} must be a JSON object of region -> alarm name, got {raw!r}")
        return {}
    strangers = sorted(region for region in alarms if region not in chain)
    if strangers:
        problems.append(f"{ENV_CLOUDWATCH_ALARMS} names {', '.join(strangers)}: not regions of {ENV_CHAIN}")
    return {region: name for region, name in alarms.items() if region != own_region}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is judged by its own status, as Route 53 does, never followed somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def healthy(url: str, timeout: float) -> bool:
    """GET url: healthy on a 2xx or 3xx answer within `timeout` (Route 53's rule for HTTP(S) checks);
    an error status, a refused or reset connection, a TLS failure or a timeout is a failure."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return 200 <= response.status < 400
    except urllib.error.HTTPError as error:
        return 300 <= error.code < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False  # includes socket timeouts (TimeoutError is an OSError)


def cloudwatch_answers(client: Any, alarm_name: str) -> bool:
    """One read-only call to CloudWatch in another region: any answer is healthy (the alarm need not
    exist); an error, a throttle or a timeout (the client's short timeouts, one attempt) is a failure."""
    try:
        client.describe_alarms(AlarmNames=[alarm_name], MaxRecords=1)
    except (BotoCoreError, ClientError) as error:
        print(
            json.dumps(
                {
                    "event": "cloudwatch check failed",
                    "region": client.meta.region_name,
                    "error": type(error).__name__,
                    "detail": str(error),
                }
            )
        )
        return False
    return True


def holds_to_engage(
    chain: Iterable[str], streaks: Mapping[str, int], threshold: int, own_region: str, round_results: Mapping[str, bool]
) -> list[str]:
    """The regions to hold out now (module docstring): failed `threshold` consecutive rounds, and so has
    every region ahead of them in the chain; never this canary's own region, nothing when blind."""
    if not any(round_results.values()):
        return []
    order = list(chain)
    failing = [streaks.get(region, 0) >= threshold for region in order]
    return [
        region for index, region in enumerate(order) if failing[index] and all(failing[:index]) and region != own_region
    ]


@dataclass
class Canary:
    settings: Settings
    cloudwatch: Any
    regional: Mapping[str, Any] = field(default_factory=dict)  # other region -> its CloudWatch client
    probe: Callable[[str, float], bool] = healthy
    check_cloudwatch: Callable[[Any, str], bool] = cloudwatch_answers
    streaks: dict[str, int] = field(default_factory=dict)
    engaged: list[str] = field(default_factory=list)

    def round(self) -> dict[str, Any]:
        settings = self.settings
        at = datetime.now(UTC)
        targets = dict(settings.targets)
        alarms = dict(settings.cloudwatch_alarms)
        with ThreadPoolExecutor(max_workers=(len(targets) + len(alarms)) or 1) as pool:
            http = {
                target: pool.submit(self.probe, url, settings.http_timeout_seconds) for target, url in targets.items()
            }
            calls = {
                CLOUDWATCH_TARGET_PREFIX + region: pool.submit(self.check_cloudwatch, self.regional[region], name)
                for region, name in alarms.items()
            }
            answers = {target: future.result() for target, future in http.items()}
            # Kept apart from `answers`: a CloudWatch failure never feeds a streak, a hold or the blind guard.
            watched = {target: future.result() for target, future in calls.items()}
        for target, ok in answers.items():
            self.streaks[target] = 0 if ok else self.streaks.get(target, 0) + 1
        published = self._put(
            settings.canary_namespace,
            [
                _datum(TARGET_METRIC, TARGET_DIMENSION, target, float(ok), at)
                for target, ok in (answers | watched).items()
            ],
        )
        holds = [
            region
            for region in holds_to_engage(
                settings.chain, self.streaks, settings.failure_threshold, settings.region, answers
            )
            if region not in self.engaged
        ]
        held = bool(holds) and self._put(
            settings.routing_namespace,
            [_datum(HELD_OUT_METRIC, HELD_OUT_DIMENSION, region, HELD, at) for region in holds],
        )
        if held:
            self.engaged.extend(holds)  # once per invocation; a failed publish is tried again next round
            print(json.dumps({"event": "hold engaged", "regions": holds, "streaks": self.streaks}))
        return {
            "at": at.isoformat(),
            "healthy": answers,
            "cloudwatch": watched,
            "published": published,
            "held": holds if held else [],
        }

    def _put(self, namespace: str, data: list[dict[str, Any]]) -> bool:
        try:
            self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
        except (BotoCoreError, ClientError) as error:
            # The TargetHealthy alarms treat missing data as breaching: a canary that cannot publish still pages.
            print(
                json.dumps(
                    {
                        "event": "publish failed",
                        "namespace": namespace,
                        "error": type(error).__name__,
                        "detail": str(error),
                    }
                )
            )
            return False
        return True


def _datum(metric: str, dimension: str, value_of_dimension: str, value: float, at: datetime) -> dict[str, Any]:
    return {
        "MetricName": metric,
        "Dimensions": [{"Name": dimension, "Value": value_of_dimension}],
        "Timestamp": at,
        "Value": value,
        "Unit": "None",
        "StorageResolution": STORAGE_RESOLUTION,
    }


def run_rounds(canary: Canary, sleep: Callable[[float], None], clock: Callable[[], float]) -> list[dict[str, Any]]:
    """ROUNDS rounds on a grid of INTERVAL_SECONDS from the first (a slow round delays the next only up to
    its grid point), streaks starting at 0 (module docstring)."""
    settings = canary.settings
    start = clock()
    rounds = [canary.round()]
    for index in range(1, settings.rounds):
        sleep(max(0.0, start + index * settings.interval_seconds - clock()))
        rounds.append(canary.round())
    return rounds


settings = load_settings(os.environ)
# Short timeouts and one retry: a publish must fit between two rounds.
_SDK_CONFIG = Config(
    region_name=settings.region,
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 2},
)
cloudwatch = boto3.client("cloudwatch", config=_SDK_CONFIG)
# One attempt of 1 s connect + 2 s read: within the HTTP timeout (5 s), so the round's length and the
# function's timeout (global_resources/canary.py) stay what the HTTP probes make them.
_DESCRIBE_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 1})
regional = {
    region: boto3.client("cloudwatch", region_name=region, config=_DESCRIBE_CONFIG)
    for region in settings.cloudwatch_alarms
}
# Module attributes so tests can run a minute of rounds without waiting for it.
sleep: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    canary = Canary(settings, cloudwatch, regional)
    rounds = run_rounds(canary, sleep, monotonic)
    return {"region": settings.region, "rounds": rounds, "held": canary.engaged}
