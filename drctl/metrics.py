"""The latest CloudWatch datapoint of several metrics of one region, in one GetMetricData call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from drctl.aws import Clients

K = TypeVar("K")
# AWS publishes the metrics drctl reads once a minute; a datapoint older than this is stale.
WINDOW = timedelta(minutes=10)
PERIOD_SECONDS = 60


@dataclass(frozen=True)
class MetricQuery:
    namespace: str
    name: str
    dimensions: Mapping[str, str]
    stat: str = "Maximum"


@dataclass(frozen=True)
class Measurement:
    value: float | None  # None: no datapoint in the window ("unknown", never guessed)
    at: str | None = None

    def show(self, unit: str = "ms") -> str:
        return "unknown" if self.value is None else f"{self.value:g} {unit}"


UNKNOWN = Measurement(None)


def latest(clients: Clients, region: str, queries: Mapping[K, MetricQuery]) -> dict[K, Measurement]:
    """Raises Unreachable when the region does not answer."""
    if not queries:
        return {}
    keys = list(queries)
    now = datetime.now(UTC)
    response = clients.call(
        "cloudwatch",
        region,
        "get_metric_data",
        MetricDataQueries=[_query(f"m{index}", queries[key]) for index, key in enumerate(keys)],
        StartTime=now - WINDOW,
        EndTime=now + timedelta(minutes=1),
        ScanBy="TimestampDescending",
    )
    found = {result["Id"]: result for result in response.get("MetricDataResults", [])}
    measured: dict[K, Measurement] = {}
    for index, key in enumerate(keys):
        result = found.get(f"m{index}", {})
        values, stamps = result.get("Values") or [], result.get("Timestamps") or []
        measured[key] = Measurement(values[0], stamps[0].isoformat()) if values else UNKNOWN
    return measured


def _query(query_id: str, query: MetricQuery) -> dict[str, object]:
    metric = {
        "Namespace": query.namespace,
        "MetricName": query.name,
        "Dimensions": [{"Name": name, "Value": value} for name, value in query.dimensions.items()],
    }
    return {
        "Id": query_id,
        "MetricStat": {"Metric": metric, "Period": PERIOD_SECONDS, "Stat": query.stat},
        "ReturnData": True,
    }
