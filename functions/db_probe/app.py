"""Database health probe: can this region's Aurora cluster be reached, and is it the writer?

Handler `app.lambda_handler`, run once a minute by an EventBridge schedule inside the region's VPC.
Route 53's health checkers cannot reach Aurora's private endpoints, so this function connects to the
region's cluster every PROBE_INTERVAL_SECONDS and publishes one-second-resolution CloudWatch
metrics; an alarm on them backs the region's CLOUDWATCH_METRIC health check (docs/db-probe.md).

It logs in as its own database role (DB_USER, `payment_probe`: LOGIN and rds_iam, nothing else;
functions/ledger/migrations/0002_probe_role.sql) with an IAM authentication token signed by its execution
role, over TLS: no password exists, and the function never reads the master secret.

Powertools for AWS Lambda (Logger) comes from the AWS-managed layer and boto3 from the runtime; pg8000
is vendored into the bundle by the deploy step from requirements.txt.
"""

from __future__ import annotations

import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pg8000.native
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pg8000.exceptions import DatabaseError
from pg8000.exceptions import Error as PostgresClientError

APPLICATION_NAME = "payment-db-probe"  # shows in pg_stat_activity, so probe sessions are recognisable
DIMENSION = "ClusterIdentifier"
# No plaintext mode: the IAM token is a password, valid 15 minutes, and must never cross the network in clear.
SSL_MODES = ("require", "verify-full")
STORAGE_RESOLUTIONS = (1, 60)
# EventBridge runs the function once a minute: one invocation's probes must end within that minute.
SCHEDULE_SECONDS = 60


_Option = TypeVar("_Option", str, int)


class ConfigurationError(RuntimeError):
    """The environment the function was deployed with is unusable (raised at cold start)."""


class ProbeError(Exception):
    """An expected probe failure that is neither an SDK nor a driver error."""


@dataclass(frozen=True)
class Settings:
    region: str
    cluster_identifier: str
    db_user: str
    database: str
    metric_namespace: str
    probe_interval_seconds: float
    probes_per_invocation: int
    connect_timeout_seconds: float
    ssl_mode: str
    ca_bundle: str | None
    storage_resolution: int


class _Environment:
    """Reads variables and collects every problem, so one failed deploy names all of them."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.problems: list[str] = []

    def get(self, name: str) -> str:
        return self.environ.get(name, "").strip()

    def required(self, name: str) -> str:
        value = self.get(name)
        if not value:
            self.problems.append(f"{name} is not set")
        return value

    def number(self, name: str, default: float, low: float, high: float, whole: bool = False) -> float:
        raw = self.get(name)
        if not raw:
            return default
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:  # also rejects nan and inf
            kind = "a whole number" if whole else "a number"
            self.problems.append(f"{name} must be {kind} from {low:g} to {high:g}, got {raw!r}")
            return default
        return value

    def choice(self, name: str, options: tuple[_Option, ...]) -> _Option:
        """The option the variable names; the first one when it is unset or invalid."""
        raw = self.get(name)
        by_text = {str(option): option for option in options}
        if raw and raw not in by_text:
            self.problems.append(f"{name} must be one of {', '.join(by_text)}, got {raw!r}")
        return by_text.get(raw, options[0])


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validated settings, or ConfigurationError naming every missing or invalid variable."""
    env = _Environment(environ)
    interval = env.number("PROBE_INTERVAL_SECONDS", 10, 1, SCHEDULE_SECONDS)
    settings = Settings(
        region=env.required("AWS_REGION"),
        cluster_identifier=env.required("DB_CLUSTER_IDENTIFIER"),
        db_user=env.required("DB_USER"),
        database=env.required("DB_NAME"),
        metric_namespace=env.required("METRIC_NAMESPACE"),
        probe_interval_seconds=interval,
        probes_per_invocation=int(env.number("PROBES_PER_INVOCATION", 6, 1, SCHEDULE_SECONDS, whole=True)),
        connect_timeout_seconds=env.number("CONNECT_TIMEOUT_SECONDS", 3, 0.1, interval),
        ssl_mode=env.choice("DB_SSL_MODE", SSL_MODES),
        ca_bundle=env.get("DB_CA_BUNDLE") or None,
        storage_resolution=env.choice("METRIC_STORAGE_RESOLUTION", STORAGE_RESOLUTIONS),
    )
    namespace, bundle = settings.metric_namespace, settings.ca_bundle
    if namespace.startswith("AWS/"):
        env.problems.append(f"METRIC_NAMESPACE must not start with 'AWS/' (reserved), got {namespace!r}")
    last_probe_at = (settings.probes_per_invocation - 1) * interval
    if last_probe_at >= SCHEDULE_SECONDS:
        env.problems.append(
            f"PROBES_PER_INVOCATION x PROBE_INTERVAL_SECONDS must fit in the {SCHEDULE_SECONDS}-second schedule "
            f"(the last probe starts {last_probe_at:g} s after the first)"
        )
    if settings.ssl_mode == "verify-full" and not (bundle and Path(bundle).is_file()):
        env.problems.append(
            f"DB_CA_BUNDLE must name a readable CA bundle file with DB_SSL_MODE=verify-full, got {bundle!r}"
        )
    if env.problems:
        raise ConfigurationError("Invalid configuration: " + "; ".join(env.problems))
    return settings


@dataclass(frozen=True)
class Target:
    """Where one probe connects: the endpoint that matters for this cluster's role right now."""

    host: str
    port: int
    role: str  # "writer" (cluster endpoint) or "reader" (reader endpoint)
    cluster_status: str


@dataclass
class ProbeResult:
    probed_at: datetime
    reachable: bool = False
    writable: bool = False
    latency_ms: float | None = None
    endpoint: str | None = None
    endpoint_role: str | None = None
    cluster_status: str | None = None
    reason: str | None = None
    published: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"probed_at": self.probed_at.isoformat()}


def cluster_fields(rds: Any) -> Mapping[str, Any]:
    """The DBCluster fields this SDK's model knows (and so returns)."""
    output = rds.meta.service_model.operation_model("DescribeDBClusters").output_shape
    return output.members["DBClusters"].member.members


def is_global_writer(rds: Any, cluster: Mapping[str, Any]) -> bool:
    """Whether the cluster holds the write role: a cluster in no global database always does, a
    member only while its global cluster says so (switchover and failover move the role).
    DBCluster.GlobalClusterIdentifier names the global cluster; an SDK whose model predates that
    field (mid-2025) drops it, and then every global cluster is searched for the membership."""
    global_id = cluster.get("GlobalClusterIdentifier")
    if not global_id and "GlobalClusterIdentifier" in cluster_fields(rds):
        return True
    pages = rds.get_paginator("describe_global_clusters").paginate(
        **({"GlobalClusterIdentifier": global_id} if global_id else {})
    )
    memberships = [
        member
        for page in pages
        for global_cluster in page["GlobalClusters"]
        for member in global_cluster.get("GlobalClusterMembers", [])
        if member["DBClusterArn"] == cluster["DBClusterArn"]
    ]
    return all(member["IsWriter"] for member in memberships)  # none: not a member, so a writer


def locate_cluster(rds: Any, cluster_identifier: str) -> Target:
    """The writer's cluster endpoint, or the reader endpoint of a secondary (its cluster endpoint has
    no writer behind it). Read on every probe: two cheap calls, and a failover is seen at once."""
    cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_identifier)["DBClusters"][0]
    role, endpoint_key = ("writer", "Endpoint") if is_global_writer(rds, cluster) else ("reader", "ReaderEndpoint")
    if not cluster.get(endpoint_key):
        raise ProbeError(f"cluster {cluster_identifier} has no {endpoint_key} (status {cluster.get('Status')})")
    return Target(cluster[endpoint_key], int(cluster["Port"]), role, cluster.get("Status", "unknown"))


def auth_token(rds: Any, settings: Settings, target: Target) -> str:
    """An IAM authentication token for DB_USER on this endpoint: a SigV4-presigned `connect` request,
    signed locally with the execution role's credentials (no API call), valid 15 minutes. A fresh one per
    probe, so no token ever outlives its use. The endpoint must be the name the client connects to.
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.Connecting.html"""
    return rds.generate_db_auth_token(
        DBHostname=target.host, Port=target.port, DBUsername=settings.db_user, Region=settings.region
    )


def ssl_context_for(mode: str, ca_bundle: str | None) -> ssl.SSLContext:
    """pg8000's TLS argument. An explicit context makes TLS mandatory: None would fall back to
    plaintext when the server declines."""
    if mode == "verify-full":
        return ssl.create_default_context(cafile=ca_bundle)  # verifies the chain and the endpoint name
    # require: encrypted but unverified (docs/db-probe.md, "TLS"): no bundle to ship and keep current,
    # so a CA rotation cannot make a healthy database look down.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def query_in_recovery(
    target: Target, user: str, token: str, database: str, tls: ssl.SSLContext, timeout: float
) -> bool:
    """Connects, asks whether the server is a standby, disconnects. `timeout` bounds the TCP connect
    and every read, so a black-holed endpoint fails the probe instead of hanging the invocation."""
    with pg8000.native.Connection(
        user=user,
        password=token,
        database=database,
        host=target.host,
        port=target.port,
        ssl_context=tls,
        timeout=timeout,
        application_name=APPLICATION_NAME,
    ) as connection:
        [[in_recovery]] = connection.run("SELECT pg_is_in_recovery()")
    return bool(in_recovery)


def _server_error(error: Exception) -> dict[str, str]:
    """The fields of a PostgreSQL ErrorResponse (C: SQLSTATE, M: message) that pg8000 raised."""
    if isinstance(error, DatabaseError) and error.args and isinstance(error.args[0], dict):
        return error.args[0]
    return {}


def failure_reason(error: Exception) -> str:
    """Error codes and server messages for logs and the summary; none of them carries the token."""
    if isinstance(error, ClientError):
        return f"{error.operation_name}: {error.response.get('Error', {}).get('Code', 'Unknown')}"
    if fields := _server_error(error):
        return f"PostgreSQL {fields.get('C', '?')}: {fields.get('M', '')}"
    reason = f"{type(error).__name__}: {error}"
    cause = error.__cause__  # pg8000 wraps socket errors (refused, DNS, timeout) in InterfaceError
    return f"{reason} ({type(cause).__name__}: {cause})" if cause else reason


# What a down, unreachable or misconfigured database or AWS API looks like. Anything else is a bug:
# it fails the invocation (Lambda Errors metric) and, with no datapoint, the alarm too.
EXPECTED_FAILURES = (
    ProbeError,
    BotoCoreError,  # also: no credentials to sign the token with
    ClientError,
    PostgresClientError,
    OSError,  # refused, unreachable, timed out, TLS handshake and certificate failures
)


def metric_data(result: ProbeResult, cluster_identifier: str, storage_resolution: int) -> list[dict[str, Any]]:
    """One probe's datapoints. Writability and latency only for a probe that got an answer: a cluster
    that could not be reached is not known to be writable or read-only (its writability alarm treats
    the missing datapoint as breaching), and a failure's duration is a timeout, not a latency."""
    values: dict[str, tuple[float, str]] = {"DatabaseReachable": (int(result.reachable), "None")}
    if result.reachable:
        values["DatabaseWritable"] = (int(result.writable), "None")
    if result.latency_ms is not None:
        values["ProbeLatencyMs"] = (result.latency_ms, "Milliseconds")
    return [
        {
            "MetricName": name,
            "Dimensions": [{"Name": DIMENSION, "Value": cluster_identifier}],
            "Timestamp": result.probed_at,
            "Value": value,
            "Unit": unit,
            "StorageResolution": storage_resolution,
        }
        for name, (value, unit) in values.items()
    ]


@dataclass
class Prober:
    settings: Settings
    locate: Callable[[], Target]
    token_for: Callable[[Target], str]
    cloudwatch: Any
    tls: ssl.SSLContext

    def probe(self) -> ProbeResult:
        """One measurement, published and logged. Expected failures become Reachable 0."""
        result = ProbeResult(probed_at=datetime.now(UTC))
        try:
            self._measure(result)
        except EXPECTED_FAILURES as error:
            result.reason = failure_reason(error)
        result.published = self._publish(result)
        (logger.info if result.reachable else logger.warning)("Database probe", extra=result.as_dict())
        return result

    def _measure(self, result: ProbeResult) -> None:
        target = self.locate()
        result.endpoint, result.endpoint_role, result.cluster_status = target.host, target.role, target.cluster_status
        settings = self.settings
        token = self.token_for(target)
        started = time.perf_counter()
        in_recovery = query_in_recovery(
            target, settings.db_user, token, settings.database, self.tls, settings.connect_timeout_seconds
        )
        result.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        # Writable: the global database's writer (the role decides which endpoint was probed) and a server
        # that is not a standby. Either alone is not enough: a cluster mid-failover can be one but not the other.
        result.reachable, result.writable = True, target.role == "writer" and not in_recovery

    def _publish(self, result: ProbeResult) -> bool:
        """put_metric_data, not EMF: the datapoint is in CloudWatch when the call returns, one per
        probe, instead of after the invocation's flush and log extraction (docs/db-probe.md)."""
        settings = self.settings
        try:
            self.cloudwatch.put_metric_data(
                Namespace=settings.metric_namespace,
                MetricData=metric_data(result, settings.cluster_identifier, settings.storage_resolution),
            )
        except (BotoCoreError, ClientError) as error:
            # A missing datapoint is breaching for the alarm: the failure is still seen.
            logger.error("Could not publish probe metrics", extra={"reason": failure_reason(error)})
            return False
        return True


def run_probes(
    probe: Callable[[], ProbeResult],
    count: int,
    interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[ProbeResult]:
    """`count` probes on a grid of `interval` seconds from the first: a slow probe delays the next
    one only up to its grid point, so the alarm's periods keep one datapoint each."""
    start = clock()
    results = [probe()]
    for index in range(1, count):
        sleep(max(0.0, start + index * interval - clock()))
        results.append(probe())
    return results


settings = load_settings(os.environ)
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", APPLICATION_NAME))
# One retry and short timeouts: an API call must fit inside a probe interval. A slow API is a
# failed probe, not a late one.
_SDK_CONFIG = Config(
    region_name=settings.region,
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 2},
)
rds = boto3.client("rds", config=_SDK_CONFIG)
cloudwatch = boto3.client("cloudwatch", config=_SDK_CONFIG)
prober = Prober(
    settings=settings,
    locate=partial(locate_cluster, rds, settings.cluster_identifier),
    token_for=partial(auth_token, rds, settings),
    cloudwatch=cloudwatch,
    tls=ssl_context_for(settings.ssl_mode, settings.ca_bundle),
)
# Module attributes so tests can run a minute of probes without waiting for it.
sleep: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Probes PROBES_PER_INVOCATION times; returns what each probe saw (also logged, line by line)."""
    results = run_probes(
        prober.probe, settings.probes_per_invocation, settings.probe_interval_seconds, sleep, monotonic
    )
    return {"cluster_identifier": settings.cluster_identifier, "probes": [result.as_dict() for result in results]}
