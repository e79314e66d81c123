"""The fail-back gate: traffic goes back to a region only once the data has caught up there and it serves.

AWS's guidance for global tables: writes must be "fully recorded, stream processed, and globally
propagated" before writes start in the new active region (amazondynamodb/latest/developerguide/
bp-global-table-design.prescriptive-guidance.evacuation.html). Each check reads CloudWatch in the region that publishes the metric, lists every item
that has not drained with its value and the metric it came from, and says what it skipped and why.

- DynamoDB: ``AWS/DynamoDB ReplicationLatency`` {TableName, ReceivingRegion=target}, published in each
  sending region, over ``replicationLagThresholdMs``. ``PendingReplicationCount`` is published only for
  global tables version 2017.11.29 (Legacy); this stack's tables are version 2019.11.21, so there is no
  pending count to read (amazondynamodb/latest/developerguide/globaltables_monitoring.html documents it for
  2017.11.29; V2globaltables_monitoring.html, for 2019.11.21, lists ReplicationLatency alone). A sender with no datapoint in the window replicated
  nothing lately: DynamoDB emits ReplicationLatency as items replicate.
- S3: ``AWS/S3 OperationsPendingReplication`` {SourceBucket, DestinationBucket, RuleId=to-<target>} above
  0, published in the source bucket's region (S3 Replication Time Control metrics,
  AmazonS3/latest/userguide/repl-metrics.html).
- Aurora: the target cluster's lag (the larger of AuroraGlobalDBRPOLag and AuroraGlobalDBReplicationLag)
  at or over ``replicationLagThresholdMs`` when it is a secondary; none when it is the writer.
- Ledger: ``PaymentDR/Ledger OldestUnpostedSeconds`` over LEDGER_DRAINED_SECONDS in any region; no
  such metric anywhere means the ledger poster is not deployed: skipped, and said so.
- Health: the target's /health as the canaries in the other regions see it (``PaymentDR/Canary
  TargetHealthy`` {Target=target}, all probes of the latest minute) and as Route 53's ``api`` check sees
  it; any unhealthy reading refuses, and so does no reading at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from core import routing
from drctl import aurora, dns
from drctl.aurora import Member
from drctl.aws import Unreachable
from drctl.context import Context
from drctl.metrics import WINDOW, Measurement, MetricQuery, latest

K = TypeVar("K")
LEDGER_NAMESPACE = "PaymentDR/Ledger"
LEDGER_METRIC = "OldestUnpostedSeconds"
# The poster runs continuously; an entry older than this is a backlog, not one in flight.
LEDGER_DRAINED_SECONDS = 60.0
NO_DATA = f"no datapoint in the last {WINDOW.total_seconds() / 60:g} minutes"


@dataclass(frozen=True)
class Item:
    """One reading of the gate: `ok` False is what refuses (None: skipped, and `value` says why)."""

    what: str
    metric: str
    value: str
    ok: bool | None

    def line(self) -> str:
        return f"{self.what}: {self.value} ({self.metric})"


@dataclass(frozen=True)
class Reading:
    name: str
    items: tuple[Item, ...]

    @property
    def ok(self) -> bool:
        return all(item.ok is not False for item in self.items)

    def detail(self) -> str:
        bad = [i.line() for i in self.items if i.ok is False]
        if bad:
            return "; ".join(bad)
        skipped = [i.line() for i in self.items if i.ok is None]
        good = [i.line() for i in self.items if i.ok]
        return (
            "; ".join([*(["drained: " + ", ".join(good)] if good else []), *(f"skipped: {s}" for s in skipped)])
            or "nothing to read"
        )


def gate(ctx: Context, target: str) -> list[Reading]:
    """Every reading that decides whether traffic may go back to `target`."""
    return [
        Reading(f"{target} serves", tuple(_health(ctx, target))),
        Reading(f"DynamoDB replication into {target}", tuple(_dynamodb(ctx, target))),
        Reading(f"S3 replication into {target}", tuple(_s3(ctx, target))),
        Reading(f"Aurora lag of {target}", tuple(_aurora(ctx, target))),
        Reading("ledger poster", tuple(_ledger(ctx))),
    ]


def _dynamodb(ctx: Context, target: str) -> list[Item]:
    threshold = ctx.stack.cfg.replication_lag_threshold_ms
    items = []
    for sender in ctx.stack.holders(target):
        queries = {
            table: MetricQuery(
                "AWS/DynamoDB", "ReplicationLatency", {"TableName": table, "ReceivingRegion": target}, "Maximum"
            )
            for table in ctx.stack.tables
        }
        metric = f"AWS/DynamoDB ReplicationLatency ReceivingRegion={target}, in {sender}"
        read = _latest(ctx, sender, queries)
        for table in ctx.stack.tables:
            what = f"{table} {sender} → {target}"
            if isinstance(read, str):
                items.append(Item(what, metric, read, False))
                continue
            value = read[table].value
            if value is None:
                items.append(Item(what, metric, f"{NO_DATA}: nothing replicating", True))
            else:
                items.append(Item(what, metric, f"{value:g} ms (threshold {threshold} ms)", value < threshold))
    return items


def _s3(ctx: Context, target: str) -> list[Item]:
    items = []
    rule = ctx.stack.replication_rule(target)
    for source in ctx.stack.holders(target):
        pairs = dict(zip(ctx.stack.buckets(source), ctx.stack.buckets(target), strict=True))
        queries = {
            bucket: MetricQuery(
                "AWS/S3",
                "OperationsPendingReplication",
                {"SourceBucket": bucket, "DestinationBucket": destination, "RuleId": rule},
                "Maximum",
            )
            for bucket, destination in pairs.items()
        }
        read = _latest(ctx, source, queries)
        for bucket, destination in pairs.items():
            what = f"{bucket} → {destination}"
            metric = f"AWS/S3 OperationsPendingReplication RuleId={rule}, in {source}"
            if isinstance(read, str):
                items.append(Item(what, metric, read, False))
            elif read[bucket].value is None:
                items.append(Item(what, metric, f"{NO_DATA}: none pending reported", True))
            else:
                items.append(Item(what, metric, f"{read[bucket].value:g} operations pending", read[bucket].value <= 0))
    return items


def _aurora(ctx: Context, target: str) -> list[Item]:
    threshold = ctx.stack.cfg.replication_lag_threshold_ms
    what = ctx.stack.cluster(target)
    try:
        topology = aurora.read_topology(ctx, prefer=target)
    except Unreachable as error:
        return [Item(what, "DescribeGlobalClusters", f"global cluster unreadable: {error}", False)]
    member: Member | None = topology.member(target)
    if member is None:
        return [
            Item(what, "DescribeGlobalClusters", f"not a member of {topology.identifier} (still rejoining?)", False)
        ]
    if member.is_writer:
        return [Item(what, "DescribeGlobalClusters", "the writer: no lag", True)]
    try:
        metric, lag = aurora.data_loss_lag(ctx, member)
    except Unreachable as error:
        return [Item(what, f"AWS/RDS {aurora.RPO_LAG_METRIC}", f"unreadable: {error}", False)]
    ok = lag.value is not None and lag.value < threshold
    return [Item(what, f"AWS/RDS {metric}", f"{lag.show()} (threshold {threshold} ms)", ok)]


def _ledger(ctx: Context) -> list[Item]:
    items, deployed = [], False
    for region in ctx.stack.regions:
        metric = f"{LEDGER_NAMESPACE} {LEDGER_METRIC}, in {region}"
        try:
            listed = ctx.clients.call(
                "cloudwatch", region, "list_metrics", Namespace=LEDGER_NAMESPACE, MetricName=LEDGER_METRIC
            )
        except Unreachable as error:
            items.append(Item(f"ledger in {region}", metric, f"CloudWatch did not answer: {error}", False))
            continue
        queries = {
            tuple((d["Name"], d["Value"]) for d in m.get("Dimensions", [])): MetricQuery(
                LEDGER_NAMESPACE,
                LEDGER_METRIC,
                dict((d["Name"], d["Value"]) for d in m.get("Dimensions", [])),
                "Maximum",
            )
            for m in listed.get("Metrics", [])
        }
        read = _latest(ctx, region, queries)
        if isinstance(read, str):
            items.append(Item(f"ledger in {region}", metric, read, False))
            continue
        for dimensions, measurement in read.items():
            if measurement.value is None:
                continue
            deployed = True
            where = ", ".join(f"{k}={v}" for k, v in dimensions) or "ledger"
            items.append(
                Item(
                    f"{where} in {region}",
                    metric,
                    f"{measurement.value:g} s (threshold {LEDGER_DRAINED_SECONDS:g} s)",
                    measurement.value <= LEDGER_DRAINED_SECONDS,
                )
            )
    if not deployed and all(item.ok is not False for item in items):
        return [
            Item(
                "ledger poster",
                f"{LEDGER_NAMESPACE} {LEDGER_METRIC}",
                f"{NO_DATA} in any region: not deployed, skipped",
                None,
            )
        ]
    return items


def _health(ctx: Context, target: str) -> list[Item]:
    """Unhealthy anywhere refuses; unknown everywhere refuses too (traffic must not go to a region nobody saw serve)."""
    items = []
    for holder in ctx.stack.holders(target):
        metric = f"{routing.CANARY_NAMESPACE} {routing.CANARY_METRIC} {routing.CANARY_DIMENSION}={target}, in {holder}"
        read = _latest(
            ctx,
            holder,
            {
                target: MetricQuery(
                    routing.CANARY_NAMESPACE, routing.CANARY_METRIC, {routing.CANARY_DIMENSION: target}, "Minimum"
                )
            },
        )
        if isinstance(read, str):
            items.append(Item(f"canary in {holder}", metric, read, None))
        elif read[target].value is None:
            items.append(Item(f"canary in {holder}", metric, NO_DATA, None))
        else:
            healthy = read[target].value >= 1
            items.append(
                Item(f"canary in {holder}", metric, "every probe healthy" if healthy else "a probe failed", healthy)
            )
    items.append(_route53_api(ctx, target))
    if not any(item.ok for item in items) and all(item.ok is not False for item in items):
        items.append(Item(f"{target} /health", "canary and Route 53", "unknown: no reading says it serves", False))
    return items


def _route53_api(ctx: Context, target: str) -> Item:
    name = ctx.stack.health_check(routing.API, target)
    metric = f"Route 53 GetHealthCheckStatus of {name}"
    try:
        check = dns.find_checks(ctx).get((routing.API, target))
        if check is None:
            return Item("Route 53 api check", metric, f"{name} not found (by Name tag)", None)
        measured, why = dns.read_health(ctx, [check])
    except Unreachable as error:
        return Item("Route 53 api check", metric, f"unreadable (Route 53's API is in us-east-1): {error}", None)
    healthy = measured.get(check.id)
    return Item("Route 53 api check", metric, why.get(check.id, dns.health_word(healthy)), healthy)


def _latest(ctx: Context, region: str, queries: Mapping[K, MetricQuery]) -> dict[K, Measurement] | str:
    """The measurements, or why CloudWatch in `region` could not be read."""
    try:
        return latest(ctx.clients, region, queries)
    except Unreachable as error:
        return f"CloudWatch did not answer: {error}"
