"""The Aurora global database: who is a member, who writes, how far behind, and role changes.

The writer is always read from DescribeGlobalClusters (members with IsWriter), never assumed from
the config's primaryRegion: after a failover the two disagree until the config is reconciled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drctl.aws import Unreachable, first_answer
from drctl.context import Context
from drctl.errors import UsageError
from drctl.metrics import Measurement, MetricQuery, latest
from drctl.waiters import wait_for

LAG_METRIC = "AuroraGlobalDBReplicationLag"
RPO_LAG_METRIC = "AuroraGlobalDBRPOLag"
AVAILABLE = "available"


@dataclass(frozen=True)
class Member:
    region: str
    identifier: str
    arn: str
    is_writer: bool

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Member:
        arn = raw["DBClusterArn"]  # arn:aws:rds:<region>:<account>:cluster:<id>
        parts = arn.split(":")
        return cls(region=parts[3], identifier=parts[-1], arn=arn, is_writer=bool(raw.get("IsWriter")))


@dataclass(frozen=True)
class Topology:
    identifier: str
    status: str
    members: tuple[Member, ...]
    in_flight: str | None  # FailoverState.Status while a switchover or failover runs

    @property
    def writer(self) -> Member | None:
        return next((m for m in self.members if m.is_writer), None)

    def member(self, region: str) -> Member | None:
        return next((m for m in self.members if m.region == region), None)

    def settled_on(self, region: str, *, whole: bool = True) -> bool:
        """`region` writes and no operation runs; `whole`: the global cluster is available too.

        After a failover the lost region's member can keep the global cluster from being available
        for as long as that region is down, so a failover waits for the writer only.
        """
        writer = self.writer
        settled = writer is not None and writer.region == region and not self.in_flight
        return settled and (self.status == AVAILABLE or not whole)

    def describe(self) -> str:
        writer = self.writer.region if self.writer else "none"
        operation = f", operation {self.in_flight}" if self.in_flight else ""
        return f"global cluster {self.status}{operation}, writer {writer}"


def read_topology(ctx: Context, prefer: str | None = None) -> Topology:
    """Asks the preferred region first (during a failover: the surviving target)."""
    name = ctx.stack.global_cluster

    def read(region: str) -> dict[str, Any]:
        answer = ctx.clients.call("rds", region, "describe_global_clusters", GlobalClusterIdentifier=name)
        found = [g for g in answer.get("GlobalClusters", []) if g["GlobalClusterIdentifier"].lower() == name.lower()]
        if not found:
            raise Unreachable(f"{region}: global cluster {name} not found")
        return found[0]

    _, raw = first_answer(ctx.stack.reads_from(prefer or ctx.prefer), read)
    return Topology(
        identifier=name,
        status=raw.get("Status", "unknown"),
        members=tuple(Member.from_api(m) for m in raw.get("GlobalClusterMembers", [])),
        in_flight=(raw.get("FailoverState") or {}).get("Status"),
    )


def promotable(topology: Topology, region: str) -> Member:
    """The member that can take the writer role in `region`, or a UsageError naming why not."""
    member = topology.member(region)
    if member is None:
        regions = ", ".join(m.region for m in topology.members) or "none"
        raise UsageError(f"{region} is not a member of global cluster {topology.identifier} (members: {regions})")
    if member.is_writer:
        raise UsageError(f"{region} is already the writer of global cluster {topology.identifier}")
    return member


def cluster_status(ctx: Context, member: Member) -> str:
    answer = ctx.clients.call("rds", member.region, "describe_db_clusters", DBClusterIdentifier=member.identifier)
    return answer["DBClusters"][0]["Status"]


def replication_lag(ctx: Context, member: Member) -> dict[str, Measurement]:
    """Both lag metrics of a secondary, in ms, as published in its own region."""
    dimensions = {"DBClusterIdentifier": member.identifier}
    queries = {name: MetricQuery("AWS/RDS", name, dimensions) for name in (LAG_METRIC, RPO_LAG_METRIC)}
    return latest(ctx.clients, member.region, queries)


def data_loss_lag(ctx: Context, member: Member) -> tuple[str, Measurement]:
    """The lag that bounds what a failover to `member` loses, and the metric it came from.

    For Aurora PostgreSQL the User Guide points at AuroraGlobalDBRPOLag (user transactions committed
    on the primary and not yet on this secondary); storage replication lag can be lower while it
    is high. The larger known one is taken; unknown only when neither has a recent datapoint.
    """
    lags = replication_lag(ctx, member)
    known = [(lags[name].value, name) for name in (RPO_LAG_METRIC, LAG_METRIC) if lags[name].value is not None]
    if not known:
        return f"{RPO_LAG_METRIC} or {LAG_METRIC}", lags[LAG_METRIC]
    _, name = max(known)
    return name, lags[name]


def promote(ctx: Context, target: Member, *, allow_data_loss: bool) -> None:
    """Starts a switchover (planned, no data loss) or a failover (the primary is lost).

    Sent to the target's region: in a failover it is the one region sure to answer.
    """
    params = {"GlobalClusterIdentifier": ctx.stack.global_cluster, "TargetDbClusterIdentifier": target.arn}
    if allow_data_loss:
        ctx.clients.call("rds", target.region, "failover_global_cluster", AllowDataLoss=True, **params)
    else:
        ctx.clients.call("rds", target.region, "switchover_global_cluster", **params)


def promote_command(ctx: Context, target: Member, *, allow_data_loss: bool) -> str:
    """The same call as an AWS CLI command, for the plan and for operators without drctl."""
    operation = "failover-global-cluster --allow-data-loss" if allow_data_loss else "switchover-global-cluster"
    return (
        f"aws rds {operation} --region {target.region} --global-cluster-identifier {ctx.stack.global_cluster} "
        f"--target-db-cluster-identifier {target.arn}"
    )


def wait_for_writer(ctx: Context, region: str, timeout: float, *, whole: bool = True) -> Topology:
    return wait_for(
        f"{region} to be the writer" + (" and the global cluster available" if whole else ""),
        lambda: read_topology(ctx, prefer=region),
        lambda topology: topology.settled_on(region, whole=whole),
        Topology.describe,
        timeout=timeout,
        clock=ctx.clock,
        say=ctx.say,
    )
