"""The body of one region's CloudWatch dashboard, generated from data (docs/observability.md, "Dashboards").

Every region's dashboard has the same widgets in the same places; only the region and the names of this
region's own resources differ. No widget names another deployed region: the series that exist once per
other region (DynamoDB receiving regions, S3 replication rules) come from CloudWatch SEARCH expressions
pinned to this region's table and bucket names, so they list every other region by themselves, and adding a
region changes no existing dashboard (tests/infra/test_symmetry.py, "a third region is one more config
entry"). The one other region a dashboard names is us-east-1, where Route 53 health-check alarms live.

Dashboard body structure: CloudWatch API reference, "Dashboard Body Structure and Syntax"; metric arrays are
``[namespace, metric, dimension, value, ..., {options}]``, expressions ``[{"expression": ..., "id": ...}]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide


@dataclass(frozen=True)
class DashboardData:
    """What one region's dashboard shows: names only, all known before any resource exists."""

    region: str
    cluster: str  # this region's Aurora cluster identifier
    tables: Mapping[str, str]  # kind -> global table name (the same in every region)
    buckets: Mapping[str, str]  # kind -> this region's bucket
    api_name: str
    api_stage: str
    function: str  # the payment function
    probe_namespace: str
    probe_dimension: str
    region_alarm_arns: Sequence[str]  # alarms on this region's own resources
    health_alarm_arns: Sequence[str]  # this region's Route 53 health-check alarms (us-east-1)
    lag_threshold_ms: float
    dynamodb_threshold_ms: float
    s3_threshold_seconds: float
    # Periods of the underlying metrics: RDS, S3 replication, API Gateway and Lambda publish per minute;
    # DynamoDB's ReplicationLatency is aggregated per five minutes (region_factory/monitoring.py).
    minute: int = 60
    dynamodb_period: int = 300
    ledger_namespace: str = "PaymentDR/Ledger"  # region_factory/ledger.py
    ledger_failures_queue: str = ""
    ledger_lag_threshold_seconds: float = 300


def search(
    namespace: str, dimensions: Sequence[str], metric: str, filters: Mapping[str, str], statistic: str, period: int
) -> str:
    """A CloudWatch SEARCH expression: every metric of that schema whose dimensions equal ``filters``
    (quoted values match exactly: CloudWatch User Guide, "CloudWatch search expression syntax")."""
    for value in (*filters.values(), metric):
        if '"' in value or "'" in value:
            raise ValueError(f"cannot quote {value!r} in a SEARCH expression")
    schema = ",".join([namespace, *sorted(dimensions)])
    terms = " ".join([f'MetricName="{metric}"', *(f'{name}="{value}"' for name, value in sorted(filters.items()))])
    return f"SEARCH('{{{schema}}} {terms}', '{statistic}', {period})"


def _metric(namespace: str, metric: str, dimensions: Mapping[str, str], **options: Any) -> list[Any]:
    entry: list[Any] = [namespace, metric]
    for name, value in dimensions.items():
        entry += [name, value]
    return [*entry, options] if options else entry


def _expression(identifier: str, expression: str, label: str) -> list[dict[str, str]]:
    return [{"expression": expression, "id": identifier, "label": label}]


def _graph(
    title: str,
    data: DashboardData,
    metrics: list[list[Any]],
    *,
    period: int,
    unit: str,
    threshold: tuple[str, float] | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": title,
        "view": "timeSeries",
        "stacked": False,
        "region": data.region,
        "period": period,
        "metrics": metrics,
        "yAxis": {"left": {"min": 0, "label": unit, "showUnits": False}},
    }
    if threshold:
        properties["annotations"] = {"horizontal": [{"label": threshold[0], "value": threshold[1]}]}
    return {"type": "metric", "properties": properties}


def _alarms(title: str, arns: Sequence[str]) -> dict[str, Any]:
    return {"type": "alarm", "properties": {"title": title, "alarms": list(arns)}}


def _text(markdown: str) -> dict[str, Any]:
    return {"type": "text", "properties": {"markdown": markdown}}


# (metric, statistic, label) lines of one graph.
COUNTS = "count"
LATENCY = (("p99", "p99"), ("Average", "average"))


def _lines(
    title: str,
    data: DashboardData,
    namespace: str,
    dimensions: Mapping[str, str],
    lines: Sequence[tuple[str, str, str]],
    unit: str,
    **options: Any,
) -> dict[str, Any]:
    """A graph of one resource's metrics: (metric, statistic, label) per line."""
    return _graph(
        title,
        data,
        [_metric(namespace, metric, dimensions, stat=stat, label=label) for metric, stat, label in lines],
        period=options.pop("period", data.minute),
        unit=unit,
        **options,
    )


def _latency(
    title: str, data: DashboardData, namespace: str, dimensions: Mapping[str, str], metric: str
) -> dict[str, Any]:
    return _lines(title, data, namespace, dimensions, [(metric, stat, label) for stat, label in LATENCY], "ms")


def _searches(
    title: str,
    data: DashboardData,
    prefix: str,
    namespace: str,
    schema: Sequence[str],
    metric: str,
    pinned: str,
    names: Mapping[str, str],
    statistic: str,
    shown: tuple[str, str],
    unit: str,
    **options: Any,
) -> dict[str, Any]:
    """One SEARCH per kind of this region's resource (``names``: kind -> name) with dimension ``pinned`` set to
    it; the other dimensions stay open, and each line is labelled "<kind> <word> <value of dimension>" (``shown``)."""
    period = options.pop("period", data.minute)
    word, dimension = shown
    return _graph(
        title,
        data,
        [
            _expression(
                f"{prefix}{index}",
                search(namespace, schema, metric, {pinned: name}, statistic, period),
                f"{kind} {word} ${{PROP('Dim.{dimension}')}}",
            )
            for index, (kind, name) in enumerate(sorted(names.items()))
        ],
        period=period,
        unit=unit,
        **options,
    )


def rows(data: DashboardData) -> list[tuple[int, list[tuple[int, dict[str, Any]]]]]:
    """The layout: rows of (height, [(width, widget)]), top to bottom in the order an on-call reads them."""
    rds, s3 = "AWS/RDS", "AWS/S3"
    cluster = {"DBClusterIdentifier": data.cluster}
    api = {"ApiName": data.api_name, "Stage": data.api_stage}
    function = {"FunctionName": data.function}
    probe = {data.probe_dimension: data.cluster}
    s3_schema = ("SourceBucket", "DestinationBucket", "RuleId")
    return [
        (
            2,
            [
                (
                    24,
                    _text(
                        f"## payment-dr in {data.region}\n"
                        "Top row: is anything alarming (Route 53 health checks, then this region's alarms). Then replication: "
                        "Aurora, DynamoDB, S3; then the service: API, payment function, database probe. docs/observability.md"
                    ),
                )
            ],
        ),
        (
            4,
            [
                (
                    12,
                    _alarms(
                        "Route 53 health checks of this region (alarms in the Route 53 metrics region)",
                        data.health_alarm_arns,
                    ),
                ),
                (12, _alarms("Alarms on this region's resources", data.region_alarm_arns)),
            ],
        ),
        (
            6,
            [
                # Published by the secondary cluster only: empty while this region holds the primary.
                (
                    12,
                    _lines(
                        "Aurora global database lag of this region's cluster (ms; empty while primary)",
                        data,
                        rds,
                        cluster,
                        [
                            ("AuroraGlobalDBReplicationLag", "Maximum", "replication lag"),
                            ("AuroraGlobalDBRPOLag", "Maximum", "RPO lag"),
                        ],
                        "ms",
                        threshold=("alarm", data.lag_threshold_ms),
                    ),
                ),
                (
                    12,
                    _lines(
                        "Aurora global database: replicated write I/O and bytes received",
                        data,
                        rds,
                        cluster,
                        [
                            ("AuroraGlobalDBReplicatedWriteIO", "Sum", "replicated write I/O"),
                            ("AuroraGlobalDBDataTransferBytes", "Sum", "bytes"),
                        ],
                        COUNTS,
                    ),
                ),
            ],
        ),
        (
            6,
            [
                # Published in the sending region: one line per table and receiving region, found by SEARCH.
                (
                    12,
                    _searches(
                        "DynamoDB replication latency from this region, per table and receiving region (ms)",
                        data,
                        "ddb",
                        "AWS/DynamoDB",
                        ("TableName", "ReceivingRegion"),
                        "ReplicationLatency",
                        "TableName",
                        data.tables,
                        "Average",
                        ("to", "ReceivingRegion"),
                        "ms",
                        period=data.dynamodb_period,
                        threshold=("alarm", data.dynamodb_threshold_ms),
                    ),
                ),
                # Published in the destination region (S3 User Guide, "Using S3 Replication metrics").
                (
                    12,
                    _searches(
                        "S3 replication latency into this region's buckets, per rule (s)",
                        data,
                        "s3lag",
                        s3,
                        s3_schema,
                        "ReplicationLatency",
                        "DestinationBucket",
                        data.buckets,
                        "Maximum",
                        ("from", "SourceBucket"),
                        "s",
                        threshold=("S3 RTC (15 min)", data.s3_threshold_seconds),
                    ),
                ),
            ],
        ),
        (
            6,
            [
                (
                    12,
                    _searches(
                        "S3 operations pending replication into this region's buckets",
                        data,
                        "s3pending",
                        s3,
                        s3_schema,
                        "OperationsPendingReplication",
                        "DestinationBucket",
                        data.buckets,
                        "Maximum",
                        ("from", "SourceBucket"),
                        COUNTS,
                    ),
                ),
                # Published in the source region: this region's outgoing rules.
                (
                    12,
                    _searches(
                        "S3 operations that failed to replicate out of this region's buckets",
                        data,
                        "s3failed",
                        s3,
                        s3_schema,
                        "OperationsFailedReplication",
                        "SourceBucket",
                        data.buckets,
                        "Sum",
                        ("rule", "RuleId"),
                        COUNTS,
                    ),
                ),
            ],
        ),
        (
            6,
            [
                (
                    8,
                    _lines(
                        "Payment API: 4xx and 5xx responses",
                        data,
                        "AWS/ApiGateway",
                        api,
                        [("4XXError", "Sum", "4xx"), ("5XXError", "Sum", "5xx")],
                        COUNTS,
                    ),
                ),
                (8, _latency("Payment API: latency (ms)", data, "AWS/ApiGateway", api, "Latency")),
                (
                    8,
                    _lines(
                        "Payment API: requests", data, "AWS/ApiGateway", api, [("Count", "Sum", "requests")], COUNTS
                    ),
                ),
            ],
        ),
        (
            6,
            [
                (
                    6,
                    _lines(
                        "Payment function: errors and throttles",
                        data,
                        "AWS/Lambda",
                        function,
                        [("Errors", "Sum", "errors"), ("Throttles", "Sum", "throttles")],
                        COUNTS,
                    ),
                ),
                (6, _latency("Payment function: duration (ms)", data, "AWS/Lambda", function, "Duration")),
                # Averages of 0/1 datapoints: the share of the minute's probes that succeeded.
                (
                    6,
                    _lines(
                        "Database probe: reachable and writable (share of probes)",
                        data,
                        data.probe_namespace,
                        probe,
                        [("DatabaseReachable", "Average", "reachable"), ("DatabaseWritable", "Average", "writable")],
                        "share",
                    ),
                ),
                (6, _latency("Database probe: latency (ms)", data, data.probe_namespace, probe, "ProbeLatencyMs")),
            ],
        ),
        (
            6,
            [
                (
                    12,
                    _lines(
                        "Ledger: oldest unposted payment (s), per poster batch",
                        data,
                        data.ledger_namespace,
                        {},
                        [("OldestUnpostedSeconds", "Maximum", "oldest unposted")],
                        "s",
                        threshold=("alarm", data.ledger_lag_threshold_seconds),
                    ),
                ),
                (
                    12,
                    _lines(
                        "Ledger: batches in the on-failure queue",
                        data,
                        "AWS/SQS",
                        {"QueueName": data.ledger_failures_queue},
                        [("ApproximateNumberOfMessagesVisible", "Maximum", "failed batches")],
                        COUNTS,
                    ),
                ),
            ],
        ),
    ]


def body(data: DashboardData) -> dict[str, Any]:
    """The dashboard body as data (``json.dumps`` it): widgets placed row by row."""
    widgets = []
    y = 0
    for height, row in rows(data):
        if sum(width for width, _ in row) != GRID_WIDTH:
            raise ValueError(f"a dashboard row must fill the {GRID_WIDTH}-unit grid: {[w for w, _ in row]}")
        x = 0
        for width, widget in row:
            widgets.append({**widget, "x": x, "y": y, "width": width, "height": height})
            x += width
        y += height
    return {"widgets": widgets}
