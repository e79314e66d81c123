"""Planned switchover by config: the pulumi-command step and what waits for it."""

from __future__ import annotations

from plan import engine

COMMAND = "command:local:Command"
RECORD = "aws:route53/record:Record"


def switchover(evaluation: engine.Evaluation) -> engine.ResourceRecord:
    return evaluation.one(COMMAND, lambda c: c.name == "aurora-planned-switchover")


def test_the_step_runs_drctl_to_make_the_configured_primary_the_writer(dev):
    step = switchover(dev)
    assert step.inputs["create"] == ".venv/bin/python -m drctl --stack dev switchover --to us-east-1 --if-needed --yes"
    assert step.inputs["update"] == step.inputs["create"]
    assert step.inputs["triggers"] == ["us-east-1"]


def test_the_step_waits_for_every_cluster_and_instance(dev):
    step = switchover(dev)
    members = {
        r.urn
        for r in dev.managed
        if r.type
        in ("aws:rds/cluster:Cluster", "aws:rds/clusterInstance:ClusterInstance", "aws:rds/globalCluster:GlobalCluster")
    }
    assert members and members <= set(step.dependencies)


def test_failover_records_move_only_after_the_database(dev):
    records = [r for r in dev.of_type(RECORD) if r.inputs.get("failoverRoutingPolicies")]
    assert records
    assert all(switchover(dev).urn in r.dependencies for r in records)


def test_swapping_the_primary_re_runs_the_step_towards_the_new_primary(config):
    swapped = engine.evaluate(
        {**config, "dataHomeRegion": "us-east-1", "primaryRegion": "us-east-2", "secondaryRegions": ["us-east-1"]}
    )
    step = switchover(swapped)
    assert step.inputs["triggers"] == ["us-east-2"]
    assert "switchover --to us-east-2 --if-needed" in step.inputs["create"]
