"""`drctl status`: the whole DR picture in one read-only pass, with a verdict.

Every read that fails (a lost region, a missing resource) becomes a line in the report, never an
abort: status is what an operator runs first when a region is failing.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from core import routing
from drctl import aurora, dns, holds
from drctl.aurora import Topology
from drctl.aws import Unreachable
from drctl.context import Context
from drctl.metrics import UNKNOWN, MetricQuery, latest
from drctl.stack import ROUTING_CHECK

T = TypeVar("T")
HEALTHY, DEGRADED, FAILED_OVER, OVERRIDDEN = "healthy", "degraded", "failed over", "overridden"
RTC_SECONDS = 15 * 60  # S3 Replication Time Control's promise


@dataclass(frozen=True)
class ClusterView:
    region: str
    identifier: str
    role: str  # writer | secondary | not a member
    status: str
    lag_ms: float | None
    rpo_lag_ms: float | None
    lag_at: str | None


@dataclass(frozen=True)
class ReplicaView:
    table: str
    region: str
    table_status: str  # the table as its own region describes it
    replica_status: str  # the region as a replica, as the other regions list it
    latency_ms: dict[str, float | None]  # sending region -> latest ReplicationLatency into this region


@dataclass(frozen=True)
class RuleView:
    bucket: str
    region: str
    rule: str
    destination: str
    status: str
    latency_s: float | None
    pending_ops: float | None
    failed_ops: float | None


@dataclass(frozen=True)
class HealthView:
    region: str
    kind: str
    name: str
    id: str | None
    type: str
    measured: bool | None
    disabled: bool
    inverted: bool
    effective: bool | None


@dataclass(frozen=True)
class HoldView:
    region: str
    held: bool | None  # None: not held where read, but some holder region could not be read
    alarms: dict[str, str | None]  # holder region -> alarm state (None: unread)
    summary: str


@dataclass
class Report:
    stack: str
    operator: str
    global_cluster: str
    config_primary: str
    writer: str | None
    aurora: list[ClusterView]
    dynamodb: list[ReplicaView]
    s3: list[RuleView]
    health_checks: list[HealthView]
    dns: dict[str, Any]
    unreachable: dict[str, str]
    holds: list[HoldView] = field(default_factory=list)
    verdict: str = HEALTHY
    reasons: list[str] = field(default_factory=list)


class _Reads:
    """Runs reads, turning each failure into a problem line."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.problems: list[str] = []

    def __call__(self, what: str, read: Callable[[], T], default: T) -> T:
        try:
            return read()
        except Unreachable as error:
            self.problems.append(f"{what}: {error}")
            return default

    def problem(self, text: str) -> None:
        self.problems.append(text)


def collect(ctx: Context, operator: str) -> Report:
    """Reads the four concerns side by side: a lost region then costs one timeout, not one per concern."""
    reads = {name: _Reads(ctx) for name in ("aurora", "dynamodb", "s3", "routing")}
    with ThreadPoolExecutor(max_workers=len(reads)) as pool:
        aurora_view = pool.submit(_aurora, reads["aurora"])
        tables = pool.submit(_dynamodb, reads["dynamodb"])
        rules = pool.submit(_s3, reads["s3"])
        routing = pool.submit(_routing, reads["routing"])
    topology, clusters = aurora_view.result()
    checks, route, held = routing.result()
    report = Report(
        stack=ctx.stack.selector,
        operator=operator,
        global_cluster=ctx.stack.global_cluster,
        config_primary=ctx.stack.cfg.primary.name,
        writer=topology.writer.region if topology and topology.writer else None,
        aurora=clusters,
        dynamodb=tables.result(),
        s3=rules.result(),
        health_checks=checks,
        dns={
            "name": ctx.stack.cfg.domain_name,
            "serves": route.region,
            "serves_unknown": route.unknown,
            "path": list(route.path),
        },
        unreachable=ctx.clients.unreachable(),
        holds=held,
    )
    _judge(ctx, report, [problem for section in reads.values() for problem in section.problems])
    return report


def _aurora(reads: _Reads) -> tuple[Topology | None, list[ClusterView]]:
    ctx = reads.ctx
    topology = reads("Aurora global cluster", partial(aurora.read_topology, ctx), None)
    if topology is None:
        return None, []
    if topology.writer is None or topology.status != aurora.AVAILABLE or topology.in_flight:
        reads.problem(topology.describe())
    threshold = ctx.stack.cfg.replication_lag_threshold_ms
    views = []
    for region in ctx.stack.regions:
        member = topology.member(region)
        if member is None:
            reads.problem(f"{region}: no cluster in global cluster {topology.identifier}")
            views.append(ClusterView(region, ctx.stack.cluster(region), "not a member", "-", None, None, None))
            continue
        status = reads(f"{member.identifier}", partial(aurora.cluster_status, ctx, member), "unreadable")
        if status not in (aurora.AVAILABLE, "unreadable"):
            reads.problem(f"{member.identifier} is {status}")
        lags = (
            {}
            if member.is_writer
            else reads(f"{region} replication lag", partial(aurora.replication_lag, ctx, member), {})
        )
        lag, rpo_lag = lags.get(aurora.LAG_METRIC, UNKNOWN), lags.get(aurora.RPO_LAG_METRIC, UNKNOWN)
        if not member.is_writer and (lag.value is None or lag.value >= threshold):
            reads.problem(f"{region} replication lag {lag.show()} (threshold {threshold} ms)")
        views.append(
            ClusterView(
                region,
                member.identifier,
                "writer" if member.is_writer else "secondary",
                status,
                lag.value,
                rpo_lag.value,
                lag.at,
            )
        )
    return topology, views


def _dynamodb(reads: _Reads) -> list[ReplicaView]:
    ctx = reads.ctx
    regions = ctx.stack.regions
    latency: dict[tuple[str, str], dict[str, float | None]] = {}
    for sender in regions:  # ReplicationLatency is published in the sending region, per receiving region
        queries = {
            (table, receiver): MetricQuery(
                "AWS/DynamoDB", "ReplicationLatency", {"TableName": table, "ReceivingRegion": receiver}, "Average"
            )
            for table in ctx.stack.tables
            for receiver in regions
            if receiver != sender
        }
        for key, measurement in reads(
            f"{sender} DynamoDB metrics", partial(latest, ctx.clients, sender, queries), {}
        ).items():
            latency.setdefault(key, {})[sender] = measurement.value
    views = []
    for table in ctx.stack.tables:
        described = {
            r: reads(
                f"table {table} in {r}", partial(ctx.clients.call, "dynamodb", r, "describe_table", TableName=table), {}
            ).get("Table")
            for r in regions
        }
        replica_status: dict[str, str] = {}
        for description in described.values():
            for replica in (description or {}).get("Replicas", []):
                replica_status.setdefault(replica["RegionName"], replica.get("ReplicaStatus", "unknown"))
        for region in regions:
            table_status = (described[region] or {}).get("TableStatus", "unreadable")
            as_replica = replica_status.get(region, "not listed as a replica")
            if table_status != "ACTIVE" or as_replica != "ACTIVE":
                reads.problem(f"table {table} in {region}: {table_status}, replica {as_replica}")
            views.append(ReplicaView(table, region, table_status, as_replica, latency.get((table, region), {})))
    return views


def _s3(reads: _Reads) -> list[RuleView]:
    ctx = reads.ctx
    views = []
    for region in ctx.stack.regions:
        for bucket in ctx.stack.buckets(region):
            answer = reads(
                f"replication of {bucket}",
                partial(ctx.clients.call, "s3", region, "get_bucket_replication", Bucket=bucket),
                None,
            )
            rules = answer["ReplicationConfiguration"]["Rules"] if answer else []
            destinations = {rule["ID"]: rule["Destination"]["Bucket"].rsplit(":", 1)[-1] for rule in rules}
            queries = {
                (rule_id, metric): MetricQuery(
                    "AWS/S3",
                    metric,
                    {"SourceBucket": bucket, "DestinationBucket": destination, "RuleId": rule_id},
                    stat,
                )
                for rule_id, destination in destinations.items()
                for metric, stat in (
                    ("ReplicationLatency", "Maximum"),
                    ("OperationsPendingReplication", "Maximum"),
                    ("OperationsFailedReplication", "Sum"),
                )
            }
            metrics = reads(f"{bucket} replication metrics", partial(latest, ctx.clients, region, queries), {})
            for rule in rules:
                view = RuleView(
                    bucket,
                    region,
                    rule["ID"],
                    destinations[rule["ID"]],
                    rule.get("Status", "unknown"),
                    *(
                        metrics.get((rule["ID"], m), UNKNOWN).value
                        for m in ("ReplicationLatency", "OperationsPendingReplication", "OperationsFailedReplication")
                    ),
                )
                _judge_rule(reads, view)
                views.append(view)
    return views


def _judge_rule(reads: _Reads, rule: RuleView) -> None:
    where = f"{rule.bucket} rule {rule.rule}"
    if rule.status != "Enabled":
        reads.problem(f"{where} is {rule.status}")
    if rule.failed_ops:
        reads.problem(f"{where}: {rule.failed_ops:g} operations failed to replicate")
    if rule.latency_s is not None and rule.latency_s > RTC_SECONDS:
        reads.problem(f"{where}: replication latency {rule.latency_s:g} s exceeds RTC's {RTC_SECONDS} s")


def _routing(reads: _Reads) -> tuple[list[HealthView], dns.Route, list[HoldView]]:
    """The holds, the health checks, and where the failover records send traffic given what they say.

    A held region's routing check is unhealthy whatever its metric says (or whether it can be read: the
    metric is only in us-east-1): a hold alarm in ALARM is one of its children (core/routing.py).
    """
    ctx = reads.ctx
    region_holds = holds.read(ctx)
    held_views = [
        HoldView(r, h.held, {x.holder: x.state for x in h.holds}, h.describe()) for r, h in region_holds.items()
    ]
    for hold in region_holds.values():
        if hold.held is None:
            reads.problem(hold.describe())
    checks = reads("Route 53 health checks", partial(dns.find_checks, ctx), {})
    measured, unreadable = dns.read_health(ctx, list(checks.values())) if checks else ({}, {})
    views, effective = [], {}
    for region in ctx.stack.regions:
        for kind in routing.REGION_CHECK_KINDS:
            check = checks.get((kind, region))
            name = ctx.stack.health_check(kind, region)
            if check is None:
                reads.problem(f"health check {name} not found (by Name tag)")
                views.append(HealthView(region, kind, name, None, "-", None, False, False, None))
                continue
            seen = measured.get(check.id)
            if kind == ROUTING_CHECK and region_holds[region].held:
                seen = False  # held: unhealthy to Route 53 whether or not its metric could be read
            effective[check.id] = check.effective(seen)
            if effective[check.id] is False and not check.overridden and not region_holds[region].held:
                reads.problem(f"{name} is unhealthy")
            views.append(
                HealthView(
                    region, kind, name, check.id, check.type, measured.get(check.id), *check.flags, effective[check.id]
                )
            )
    records = reads("failover records", partial(dns.failover_records, ctx), None)
    if records is None:
        return views, dns.Route(None, ()), held_views
    route = dns.resolve(records, effective, ctx.stack.cfg.domain_name, unreadable)
    if route.unknown:  # not guessed: unknown health is likeliest when us-east-1 fails, i.e. when Route 53 moves traffic
        reads.problem(f"{ctx.stack.cfg.domain_name}: the serving region is unknown, {route.unknown}")
    elif route.region is None:
        reads.problem(f"{ctx.stack.cfg.domain_name}: no failover record resolves to a region")
    return views, route, held_views


def _judge(ctx: Context, report: Report, problems: list[str]) -> None:
    overrides = [v for v in report.health_checks if v.disabled or v.inverted]
    primary = report.config_primary
    moved = [
        f"{what} {where}"
        for what, where in (("the writer is in", report.writer), ("traffic goes to", report.dns["serves"]))
        if where and where != primary
    ]
    held = [h for h in report.holds if h.held]
    reasons = [f"{v.name}: {dns.describe_flags((v.disabled, v.inverted))}" for v in overrides]
    if overrides:
        reasons.append(f"release with: {ctx.stack.command('dns --release --route53')}")
    for hold in held:
        reasons.append(
            f"{hold.summary}: traffic stays away until released, once replication has drained: "
            f"{ctx.stack.command(f'failback --to {hold.region}')}"
        )
    if moved:
        reasons.append(f"{' and '.join(moved)}, not in primaryRegion {primary}: reconcile the stack (docs/runbook.md)")
    report.reasons = reasons + problems
    primary_held = any(h.region == primary for h in held)
    report.verdict = (
        OVERRIDDEN if overrides else FAILED_OVER if moved or primary_held else DEGRADED if problems or held else HEALTHY
    )
