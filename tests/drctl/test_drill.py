"""`drctl drill`: switchover to a secondary and back, with each direction's RTO measured.

Both RDS clients are Stubbers (moto has no SwitchoverGlobalCluster, test_moto_gaps.py); they play a
writer that moves after one poll going out and after two coming back, so the RTOs are exact.
"""

from __future__ import annotations

from botocore.stub import Stubber

from tests.drctl.conftest import World, flat


def stubs(world: World) -> tuple[Stubber, Stubber]:
    return world.clients.stub("rds", "us-east-1"), world.clients.stub("rds", "us-east-2")


def test_drill_measures_the_rto_both_ways(world: World) -> None:
    world.set_lag("us-east-1", 150)  # what us-east-1 reports once it is the secondary
    home, away = stubs(world)
    gc = world.global_clusters
    home.add_response("describe_global_clusters", gc("us-east-1"))
    away.add_response("describe_db_clusters", world.db_cluster("us-east-2"))
    away.add_response(
        "switchover_global_cluster",
        {},
        {"GlobalClusterIdentifier": world.stack.global_cluster, "TargetDbClusterIdentifier": world.arn("us-east-2")},
    )
    away.add_response("describe_global_clusters", gc("us-east-1", "modifying", "switching-over"))
    away.add_response("describe_global_clusters", gc("us-east-2"))
    home.add_response("describe_global_clusters", gc("us-east-2"))  # ready to come back?
    home.add_response("describe_db_clusters", world.db_cluster("us-east-1"))
    home.add_response(
        "switchover_global_cluster",
        {},
        {"GlobalClusterIdentifier": world.stack.global_cluster, "TargetDbClusterIdentifier": world.arn("us-east-1")},
    )
    for state in (
        gc("us-east-2", "modifying", "switching-over"),
        gc("us-east-2", "modifying", "switching-over"),
        gc("us-east-1"),
    ):
        home.add_response("describe_global_clusters", state)
    result = world.invoke("drill", "--yes")
    assert result.exit_code == 0, result.output
    home.assert_no_pending_responses()
    away.assert_no_pending_responses()
    out = flat(result.stdout)
    assert "RTO us-east-1 → us-east-2: 10 s" in out and "RTO us-east-2 → us-east-1: 20 s" in out
    details = world.messages("us-east-1")[0]["details"]
    assert details["measured_s"] == {"us-east-1 → us-east-2": 10.0, "us-east-2 → us-east-1": 20.0}
    assert len(details["durations_s"]) == 5


def test_dry_run_shows_both_legs(world: World) -> None:
    result = world.invoke("drill", "--dry-run")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "drill: switchover us-east-1 → us-east-2, then us-east-2 → us-east-1" in out
    assert "3. [read] wait until us-east-1 is ready to take the writer role back" in out
    assert "4. [change] aws rds switchover-global-cluster --region us-east-1" in out
    assert world.clients.mutations() == []


def test_a_failure_on_the_way_back_says_where_the_writer_is(world: World) -> None:
    world.set_lag("us-east-1", 150)
    home, away = stubs(world)
    gc = world.global_clusters
    home.add_response("describe_global_clusters", gc("us-east-1"))
    away.add_response("describe_db_clusters", world.db_cluster("us-east-2"))
    away.add_response("switchover_global_cluster", {})
    away.add_response("describe_global_clusters", gc("us-east-2"))
    home.add_response("describe_global_clusters", gc("us-east-2"))
    home.add_response("describe_db_clusters", world.db_cluster("us-east-1"))
    home.add_client_error("switchover_global_cluster", "InvalidGlobalClusterStateFault", "global cluster is busy")
    away.add_response("describe_global_clusters", gc("us-east-2"))  # the state for the report
    result = world.invoke("drill", "--yes")
    assert result.exit_code == 1
    errors = flat(result.stderr)
    assert "us-east-1: InvalidGlobalClusterStateFault: global cluster is busy" in errors
    assert "state now: global cluster available, writer us-east-2" in errors
    assert (
        f"roll back once the global cluster is available: drctl --config-file {world.config_file} switchover --to us-east-1"
        in errors
    )
    assert world.messages("us-east-1")[0]["outcome"] == "failed"
