"""After an unplanned failover, before anything else: keep the writes it lost.

When the old primary's region recovers, Aurora adds its cluster back to the global database as a
secondary and, before it rebuilds that cluster's storage, attempts a snapshot of the old volume named
``rds:unplanned-global-failover-<old cluster>-<timestamp>`` (AuroraUserGuide,
aurora-global-database-disaster-recovery.html, managed failover). That snapshot is the only copy of
the writes the failover gave up, and it is an automated (system) snapshot: it goes when the old
cluster's backup retention ends, or with the cluster. So it is copied to a manual snapshot first.
drctl cannot do it at failover time (the region is down, the snapshot does not exist yet): it prints
the commands, and docs/runbook.md ("Failing back after an unplanned failover") says what follows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from core import naming
from drctl.aurora import Topology
from drctl.stack import Stack

TIMESTAMP = "<timestamp>"  # Aurora's, in the snapshot's name: known once the snapshot exists


def snapshot_prefix(cluster: str) -> str:
    return f"{naming.UNPLANNED_FAILOVER_SNAPSHOT_PREFIX}{cluster}-"


def copy_name(stack: Stack, region: str, day: date) -> str:
    """The manual copy: `lost-writes-<YYYYMMDD of the failover>-<region>-<suffix>` (core/naming.py)."""
    return stack.cfg.namer.qualified(naming.LOST_WRITES_SNAPSHOT, day.strftime("%Y%m%d"), region)


def find_command(region: str, cluster: str) -> str:
    query = (
        f"DBClusterSnapshots[?starts_with(DBClusterSnapshotIdentifier, '{snapshot_prefix(cluster)}')]"
        ".[DBClusterSnapshotIdentifier,SnapshotCreateTime,Status]"
    )
    return (
        f"aws rds describe-db-cluster-snapshots --region {region} --snapshot-type automated "
        f'--db-cluster-identifier {cluster} --query "{query}" --output text'
    )


def copy_command(stack: Stack, region: str, cluster: str, day: date) -> str:
    # Same region, no --kms-key-id: the copy stays encrypted with the region's key, as the source is.
    return (
        f"aws rds copy-db-cluster-snapshot --region {region} "
        f"--source-db-cluster-snapshot-identifier {snapshot_prefix(cluster)}{TIMESTAMP} "
        f"--target-db-cluster-snapshot-identifier {copy_name(stack, region, day)}"
    )


def preserve_lost_writes(stack: Stack, region: str, cluster: str, day: date) -> tuple[str, ...]:
    """What to run when `region`, the old primary's, is back; `day`: the failover's (UTC)."""
    copy = copy_name(stack, region, day)
    return (
        f"when {region} is back, BEFORE ANYTHING ELSE keep the writes this failover lost: Aurora snapshots the old "
        f"volume of {cluster} as {snapshot_prefix(cluster)}{TIMESTAMP}, an automated snapshot that the cluster's "
        "backup retention, or deleting the cluster, removes; copy it to a manual snapshot "
        '(docs/runbook.md, "Failing back after an unplanned failover")',
        f"1. find it (none listed: see the runbook before changing {cluster}): {find_command(region, cluster)}",
        f"2. copy it: {copy_command(stack, region, cluster, day)}",
        f"3. wait for the copy: aws rds wait db-cluster-snapshot-available --region {region} "
        f"--db-cluster-snapshot-identifier {copy}",
        f"until {copy} is available, do not delete or detach {cluster}; then reconcile the lost writes and the stack, "
        f"and fail back with no data loss: {stack.command(f'switchover --to {region}')}",
    )


def keep_lost_writes(stack: Stack, topology: Topology, target: str, day: date | None = None) -> tuple[str, ...]:
    """The lines for the old primary of a failover to `target`: the writer `topology` shows before it
    (with no writer, every other member), the failover's UTC date by default."""
    day = day or datetime.now(UTC).date()
    old = [topology.writer] if topology.writer else [m for m in topology.members if m.region != target]
    return tuple(line for member in old for line in preserve_lost_writes(stack, member.region, member.identifier, day))


def announce(say: Callable[[str], None], lines: Iterable[str]) -> None:
    for line in lines:
        say(f"  {line}")


# A stream poster is never further behind than the stream's 24-hour retention: the postings a failover
# lost belong to payments accepted within that window before it (docs/runbook.md, drctl/ledger.py).
RECONCILE_WINDOW = timedelta(hours=24)


def reconcile_ledger(stack: Stack, now: datetime | None = None) -> tuple[str, ...]:
    """What `drctl failover` ends with: the ledger completed from DynamoDB, in the surviving region."""
    since = ((now or datetime.now(UTC)) - RECONCILE_WINDOW).isoformat(timespec="seconds").replace("+00:00", "Z")
    return (
        "NOW, in the surviving region: make the ledger complete again. The failover gave up the postings the old "
        "primary had not replicated; the payments survive in DynamoDB (the ledger's RPO is DynamoDB's)",
        f"dry run first (counts only): {stack.command(f'reconcile --since {since} --dry-run')}",
        f"then post what is missing (idempotent): {stack.command(f'reconcile --since {since}')}",
    )
