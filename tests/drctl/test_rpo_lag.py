"""The lag that decides a switchover and states a failover's accepted data loss is the RPO lag.

Aurora PostgreSQL publishes AuroraGlobalDBRPOLag (user commits not yet on the secondary) beside the
storage-level AuroraGlobalDBReplicationLag; the first can be high while the second is low, and it is
the one that measures what a failover loses. drctl takes the larger of the two.
"""

from __future__ import annotations

from tests.drctl.conftest import World, flat


def test_a_high_rpo_lag_refuses_a_switchover_whatever_the_storage_lag(world: World) -> None:
    world.set_lag("us-east-2", 100)
    world.set_lag("us-east-2", 5000, metric="AuroraGlobalDBRPOLag")
    result = world.invoke("switchover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 1
    assert "replication lag: payment-db-us-east-2-qa: AuroraGlobalDBRPOLag 5000 ms (threshold 1000 ms)" in flat(
        result.stderr
    )
    assert world.clients.mutations() == []


def test_a_failover_states_the_rpo_lag_as_the_data_it_accepts_to_lose(world: World) -> None:
    world.set_lag("us-east-2", 5000, metric="AuroraGlobalDBRPOLag")
    result = world.invoke("failover", "--to", "us-east-2", "--allow-data-loss", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "RPO accepted: last measured AuroraGlobalDBRPOLag 5000 ms (at " in flat(result.stdout)
    assert world.audit()[-1]["details"]["rpo_accepted_ms"] == 5000


def test_a_low_rpo_lag_does_not_hide_a_high_storage_lag(world: World) -> None:
    world.set_lag("us-east-2", 3000)
    world.set_lag("us-east-2", 10, metric="AuroraGlobalDBRPOLag")
    result = world.invoke("switchover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 1
    assert "AuroraGlobalDBReplicationLag 3000 ms (threshold 1000 ms)" in flat(result.stderr)
