"""`drctl failover`: the unplanned path, with the primary region really unreachable.

moto has no FailoverGlobalCluster (test_moto_gaps.py): the us-east-2 RDS client is a Stubber that
checks the exact request (AllowDataLoss, the target's ARN) and plays the promotion. The lost
us-east-1 is a closed port for every service, so STS and SNS there fail for real.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.drctl.conftest import TWO_REGIONS, RecordingClients, World, flat


def test_failover_promotes_the_survivor_and_reports_the_lost_region(world: World) -> None:
    lost = RecordingClients(world.url, lost=frozenset({"us-east-1"}))
    rds = lost.stub("rds", "us-east-2")
    name = {"GlobalClusterIdentifier": world.stack.global_cluster}
    rds.add_response("describe_global_clusters", world.global_clusters("us-east-1"), name)
    rds.add_response(
        "describe_db_clusters", world.db_cluster("us-east-2"), {"DBClusterIdentifier": world.stack.cluster("us-east-2")}
    )
    rds.add_response(
        "failover_global_cluster",
        {},
        {**name, "TargetDbClusterIdentifier": world.arn("us-east-2"), "AllowDataLoss": True},
    )
    rds.add_response(
        "describe_global_clusters", world.global_clusters("us-east-1", "failing-over", "failing-over"), name
    )
    rds.add_response("describe_global_clusters", world.global_clusters("us-east-2"), name)
    result = world.invoke("failover", "--to", "us-east-2", "--allow-data-loss", input="us-east-2\n", clients=lost)
    assert result.exit_code == 0, result.output
    rds.assert_no_pending_responses()
    out = flat(result.stdout)
    assert "FAILOVER of payment-global-qa from us-east-1 to us-east-2" in out
    assert "RPO accepted: last measured AuroraGlobalDBReplicationLag 120 ms (at " in out
    assert out.index("RPO accepted") < out.index("Type the region name (us-east-2) to fail over to it")
    assert "RTO us-east-1 → us-east-2: 10 s" in out
    assert "NOW, in the surviving region: make the ledger complete again" in out
    assert out.index("drctl --config-file") < out.index("reconcile --since ") < out.index("SNS us-east-2: published")
    assert "SNS us-east-1: not published: us-east-1" in out and "SNS us-east-2: published" in out
    message = world.messages("us-east-2")[0]
    assert message["command"] == "failover" and message["outcome"] == "ok"
    assert message["args"]["allow_data_loss"] is True and message["details"]["rpo_accepted_ms"] == 120
    assert world.audit()[-1]["notified"]["us-east-1"].startswith("not published: us-east-1")


def test_rpo_is_unknown_when_no_lag_was_measured(make_world: Callable[..., World]) -> None:
    world = make_world(TWO_REGIONS, lag_ms=None)
    result = world.invoke("failover", "--to", "us-east-2", "--allow-data-loss", "--dry-run")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert (
        "RPO accepted: unknown: no AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag datapoint for payment-db-us-east-2-qa "
        "in the last minutes"
    ) in out
    assert "1. [change] aws rds failover-global-cluster --allow-data-loss --region us-east-2" in out
    assert world.clients.mutations() == []


def test_a_reflex_yes_does_not_confirm_a_failover(world: World) -> None:
    result = world.invoke("failover", "--to", "us-east-2", "--allow-data-loss", input="y\n")
    assert result.exit_code == 1
    assert "not confirmed: nothing was changed" in result.stderr
    assert world.clients.mutations() == []
