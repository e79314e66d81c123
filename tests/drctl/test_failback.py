"""After `drctl failover`: the writes it gave up are kept before anything else (docs/runbook.md, fail-back).

When the old primary's region recovers, Aurora snapshots its old volume as
rds:unplanned-global-failover-<old cluster>-<timestamp>, an automated snapshot that the old cluster's
backup retention removes. The failover's output must name that snapshot for this stack's old primary
cluster and region, with the commands that find it and copy it to a manual snapshot, ahead of the
switch back. Same stubs as test_failover.py: us-east-1 is lost, us-east-2 is promoted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from botocore.stub import Stubber

from core import naming
from drctl import failback
from drctl.aurora import Member, Topology
from tests.drctl.conftest import RecordingClients, World, flat

OLD, NEW = "us-east-1", "us-east-2"
OLD_CLUSTER = "payment-db-us-east-1-qa"
FIND = (
    f"aws rds describe-db-cluster-snapshots --region {OLD} --snapshot-type automated --db-cluster-identifier {OLD_CLUSTER} "
    f"--query \"DBClusterSnapshots[?starts_with(DBClusterSnapshotIdentifier, 'rds:unplanned-global-failover-{OLD_CLUSTER}-')]"
    '.[DBClusterSnapshotIdentifier,SnapshotCreateTime,Status]" --output text'
)
COPY = re.compile(
    rf"aws rds copy-db-cluster-snapshot --region {OLD} "
    rf"--source-db-cluster-snapshot-identifier rds:unplanned-global-failover-{OLD_CLUSTER}-<timestamp> "
    rf"--target-db-cluster-snapshot-identifier (lost-writes-(\d{{8}})-{OLD}-qa)(?: |$)"
)
SNAPSHOT_CALLS = {"DescribeDBClusterSnapshots", "CopyDBClusterSnapshot", "CreateDBClusterSnapshot", "DeleteDBCluster"}


def lost_region(world: World) -> tuple[RecordingClients, Stubber, dict[str, str]]:
    clients = RecordingClients(world.url, lost=frozenset({OLD}))
    rds = clients.stub("rds", NEW)
    name = {"GlobalClusterIdentifier": world.stack.global_cluster}
    rds.add_response("describe_global_clusters", world.global_clusters(OLD), name)
    rds.add_response("describe_db_clusters", world.db_cluster(NEW), {"DBClusterIdentifier": world.stack.cluster(NEW)})
    rds.add_response(
        "failover_global_cluster", {}, {**name, "TargetDbClusterIdentifier": world.arn(NEW), "AllowDataLoss": True}
    )
    return clients, rds, name


def copy_made_today(out: str) -> str:
    match = COPY.search(out)
    assert match, out
    day = datetime.strptime(match.group(2), "%Y%m%d").date()
    today = datetime.now(UTC).date()
    assert day in (today, today - timedelta(days=1)), day  # the failover's UTC date (a run may cross midnight)
    return match.group(1)


def test_a_failover_ends_with_the_commands_that_keep_the_lost_writes(world: World) -> None:
    clients, rds, name = lost_region(world)
    rds.add_response("describe_global_clusters", world.global_clusters(NEW), name)
    result = world.invoke("failover", "--to", NEW, "--allow-data-loss", input=f"{NEW}\n", clients=clients)
    assert result.exit_code == 0, result.output
    rds.assert_no_pending_responses()
    out = flat(result.stdout)
    keep = out.index(f"when {OLD} is back, BEFORE ANYTHING ELSE keep the writes this failover lost")
    assert out.index(f"wait until {NEW} is the writer") < keep  # once the failover is done
    assert f"rds:unplanned-global-failover-{OLD_CLUSTER}-<timestamp>" in out[keep:]
    assert f"1. find it (none listed: see the runbook before changing {OLD_CLUSTER}): {FIND}" in out[keep:]
    copy = copy_made_today(out[keep:])
    assert (
        f"3. wait for the copy: aws rds wait db-cluster-snapshot-available --region {OLD} --db-cluster-snapshot-identifier {copy}"
        in out
    )
    # Keeping them comes before the switch back, which is a switchover (RPO 0), not another failover.
    switch_back = out.index(f"switchover --to {OLD}")
    assert keep < out.index("1. find it") < out.index("2. copy it") < switch_back
    assert f"until {copy} is available, do not delete or detach {OLD_CLUSTER}" in out
    # drctl only prints them: the snapshot does not exist until us-east-1 is back.
    assert not [call for call in clients.calls if call[2] in SNAPSHOT_CALLS]


def test_a_failed_failover_names_the_snapshot_in_its_next_steps(world: World) -> None:
    clients, rds, name = lost_region(world)
    for _ in range(3):  # two polls of the wait, then the state for the report
        rds.add_response("describe_global_clusters", world.global_clusters(OLD, "failing-over", "failing-over"), name)
    result = world.invoke("failover", "--to", NEW, "--allow-data-loss", "--yes", "--timeout", "5", clients=clients)
    assert result.exit_code == 1, result.output
    rds.assert_no_pending_responses()
    err = flat(result.stderr)
    assert "timed out after 5 s" in err
    assert f"retry if {NEW} is still not the writer" in err
    assert f"1. find it (none listed: see the runbook before changing {OLD_CLUSTER}): {FIND}" in err
    copy_made_today(err)
    assert err.index(f"retry if {NEW}") < err.index("1. find it") < err.index(f"switchover --to {OLD}")


def test_a_dry_run_shows_the_step(world: World) -> None:
    result = world.invoke("failover", "--to", NEW, "--allow-data-loss", "--dry-run")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "3. [read] next: what to run when the old primary's region is back" in out
    assert world.clients.mutations() == []


def test_without_a_writer_every_other_member_is_a_candidate(world: World) -> None:
    """A global cluster that shows no writer: the snapshot can be in any other member's region."""
    members = world.global_clusters(writer="none")["GlobalClusters"][0]["GlobalClusterMembers"]
    topology = Topology(world.stack.global_cluster, "available", tuple(Member.from_api(m) for m in members), None)
    lines = " ".join(failback.keep_lost_writes(world.stack, topology, NEW))
    assert f"--db-cluster-identifier {OLD_CLUSTER}" in lines
    assert "--db-cluster-identifier payment-db-us-east-2-qa" not in lines


def test_the_copy_name_fits_a_snapshot_identifier_for_every_suffix_the_catalog_allows() -> None:
    day = datetime(2031, 12, 31, tzinfo=UTC).date()
    for regions in (["us-east-1", "us-east-2"], ["ap-southeast-1", "eu-central-1"], ["ap-southeast-4", "us-west-2"]):
        namer = naming.Namer("a" * naming.max_suffix_length(regions))
        for region in regions:
            copy = namer.qualified(naming.LOST_WRITES_SNAPSHOT, day.strftime("%Y%m%d"), region)
            # CopyDBClusterSnapshot: 1 to 63 letters, digits or hyphens, a letter first, no "--", no final "-".
            assert re.fullmatch(r"[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]", copy) and len(copy) <= 63, copy
