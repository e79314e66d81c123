"""`drctl switchover`: pre-checks, the exact API request, the wait, and what a failure leaves behind.

moto has no SwitchoverGlobalCluster (test_moto_gaps.py): where the switchover itself runs, the
us-east-2 RDS client is a botocore Stubber that checks the exact requests and plays the global
cluster's states; every other service (STS, CloudWatch, Route 53, SNS) is moto.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.stub import Stubber

from tests.drctl.conftest import TWO_REGIONS, World, flat


def expect_switchover(world: World, rds: Stubber, states: list[dict[str, object]]) -> None:
    name = {"GlobalClusterIdentifier": world.stack.global_cluster}
    rds.add_response("describe_global_clusters", world.global_clusters("us-east-1"), name)
    rds.add_response(
        "describe_db_clusters", world.db_cluster("us-east-2"), {"DBClusterIdentifier": world.stack.cluster("us-east-2")}
    )
    rds.add_response("switchover_global_cluster", {}, {**name, "TargetDbClusterIdentifier": world.arn("us-east-2")})
    for state in states:
        rds.add_response("describe_global_clusters", state, name)


def test_switchover_swaps_the_roles_and_measures_the_rto(world: World) -> None:
    rds = world.clients.stub("rds", "us-east-2")
    expect_switchover(
        world,
        rds,
        [
            world.global_clusters("us-east-1", "modifying", "switching-over"),
            world.global_clusters("us-east-2", "modifying", "switching-over"),
            world.global_clusters("us-east-2"),
        ],
    )
    result = world.invoke("switchover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 0, result.output
    rds.assert_no_pending_responses()
    out = flat(result.stdout)
    assert "switchover of payment-global-qa from us-east-1 to us-east-2: planned, no data loss (RPO 0)" in out
    assert "✓ replication lag: payment-db-us-east-2-qa: AuroraGlobalDBReplicationLag 120 ms (threshold 1000 ms)" in out
    assert "✓ us-east-2 health check: payment-health-region-us-east-2-qa: healthy" in out
    assert (
        "… 0 s waiting for us-east-2 to be the writer and the global cluster available: "
        "global cluster modifying, operation switching-over, writer us-east-1"
    ) in out
    assert "RTO us-east-1 → us-east-2: 20 s" in out  # two polls, 10 s apart, on the fake clock
    assert world.clock.sleeps == [10, 10]
    message = world.messages("us-east-1")[0]
    assert message == world.messages("us-east-2")[0]
    assert {k: message[k] for k in ("source", "command", "outcome", "operator")} == {
        "source": "drctl",
        "command": "switchover",
        "outcome": "ok",
        "operator": "arn:aws:sts::123456789012:user/moto",
    }
    assert message["args"] == {"to": "us-east-2", "dry_run": False, "timeout": 900.0}
    assert message["details"]["from"] == "us-east-1" and message["details"]["measured_s"] == {
        "us-east-1 → us-east-2": 20.0
    }
    audit = world.audit()[-1]
    assert audit["outcome"] == "ok" and audit["notified"] == {"us-east-1": "published", "us-east-2": "published"}
    assert audit["timestamp"].endswith("+00:00")


def test_dry_run_prints_every_step_and_changes_nothing(world: World) -> None:
    result = world.invoke("switchover", "--to", "us-east-2", "--dry-run")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert (
        f"1. [change] aws rds switchover-global-cluster --region us-east-2 --global-cluster-identifier payment-global-qa "
        f"--target-db-cluster-identifier {world.arn('us-east-2')}"
    ) in out
    assert "2. [read] wait until us-east-2 is the writer and the global cluster available (timeout 900 s)" in out
    assert "dry run: nothing was changed" in out
    assert world.clients.mutations() == []
    assert world.audit()[-1]["outcome"] == "dry-run" and world.messages("us-east-1") == []


def test_pre_checks_refuse_and_name_every_reason(world: World) -> None:
    world.set_lag("us-east-2", 2500)
    world.set_region_health("us-east-2", False)
    rds = world.clients.stub("rds", "us-east-2")  # moto clusters are always "available"
    rds.add_response("describe_global_clusters", world.global_clusters("us-east-1"))
    rds.add_response("describe_db_clusters", world.db_cluster("us-east-2", "modifying"))
    result = world.invoke("switchover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 1
    errors = flat(result.stderr)
    assert "pre-checks failed, nothing was changed" in errors
    assert (
        "replication lag: payment-db-us-east-2-qa: AuroraGlobalDBReplicationLag 2500 ms (threshold 1000 ms)" in errors
    )
    assert "us-east-2 cluster: payment-db-us-east-2-qa modifying" in errors
    assert "us-east-2 health check: payment-health-region-us-east-2-qa: unhealthy" in errors
    assert world.clients.mutations() == []
    assert world.audit()[-1]["outcome"] == "refused"


def test_unknown_lag_is_not_taken_for_low_lag(make_world: Callable[..., World]) -> None:
    world = make_world(TWO_REGIONS, lag_ms=None)
    result = world.invoke("switchover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 1
    assert (
        "replication lag: payment-db-us-east-2-qa: AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag unknown (threshold 1000 ms)"
        in flat(result.stderr)
    )
    assert world.clients.mutations() == []


def test_declined_confirmation_changes_nothing(world: World) -> None:
    result = world.invoke("switchover", "--to", "us-east-2", input="n\n")
    assert result.exit_code == 1
    assert "Make us-east-2 the writer?" in result.stdout
    assert "not confirmed: nothing was changed" in result.stderr
    assert world.clients.mutations() == []


def test_timeout_reports_the_state_and_how_to_continue_or_roll_back(world: World) -> None:
    rds = world.clients.stub("rds", "us-east-2")
    stuck = world.global_clusters("us-east-1", "modifying", "switching-over")
    expect_switchover(world, rds, [stuck] * 5)  # four polls (0, 10, 20, 30 s), then the state for the report
    result = world.invoke("switchover", "--to", "us-east-2", "--yes", "--timeout", "30")
    assert result.exit_code == 1
    rds.assert_no_pending_responses()
    errors = flat(result.stderr)
    selector = f"drctl --config-file {world.config_file}"
    assert "timed out after 30 s waiting for us-east-2 to be the writer and the global cluster available" in errors
    assert (
        "state now: global cluster modifying, operation switching-over, writer us-east-1; "
        "members: us-east-1 (writer), us-east-2 (secondary)"
    ) in errors
    assert f"watch (AWS carries on with a started operation): {selector} status" in errors
    assert f"roll back once the global cluster is available: {selector} switchover --to us-east-2" not in errors
    assert f"roll back once the global cluster is available: {selector} switchover --to us-east-1" in errors
    assert "aws rds describe-global-clusters --region us-east-2 --global-cluster-identifier payment-global-qa" in errors
    message = world.messages("us-east-2")[0]
    assert message["outcome"] == "failed" and "members: us-east-1 (writer)" in message["details"]["state"]
    assert world.audit()[-1]["outcome"] == "failed"


def test_if_needed_is_a_no_op_when_the_target_already_writes(world: World) -> None:
    """`pulumi up` runs `switchover --if-needed` on every role change: nothing happens twice."""
    result = world.invoke("switchover", "--to", "us-east-1", "--if-needed", "--yes")
    assert result.exit_code == 0, result.output
    assert "us-east-1 is already the writer: nothing to do" in flat(result.stdout)
    assert world.messages("us-east-1") == []  # no action, so no notification


def test_if_needed_still_switches_when_the_target_is_a_secondary(world: World) -> None:
    rds = world.clients.stub("rds", "us-east-2")
    rds.add_response(
        "describe_global_clusters",
        world.global_clusters("us-east-1"),
        {"GlobalClusterIdentifier": world.stack.global_cluster},
    )
    expect_switchover(world, rds, [world.global_clusters("us-east-2")])
    result = world.invoke("switchover", "--to", "us-east-2", "--if-needed", "--yes")
    assert result.exit_code == 0, result.output
    rds.assert_no_pending_responses()
    assert "RTO us-east-1 → us-east-2" in flat(result.stdout)
