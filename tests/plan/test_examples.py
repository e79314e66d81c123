"""Every example stack in examples/ is real: its config validates, the program plans it offline, the
policy pack passes, and `python -m plan --stack-file` reads it. The three-region diagram is current."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import config as stack_config
from plan import __main__ as cli
from plan import budget, diagram, engine, policies

EXAMPLES = engine.ROOT / "examples"
NAMES = ("production", "three-region", "single-nat-test", "zone-by-id")
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"


def stack_file(name: str) -> Path:
    return EXAMPLES / name / f"Pulumi.{name}.yaml"


@pytest.fixture(scope="module")
def evaluated() -> dict[str, engine.Evaluation]:
    return {name: engine.evaluate(engine.stack_config(stack_file(name)), stack=name) for name in NAMES}


def test_each_example_is_a_stack_file_with_a_readme():
    found = sorted(p.parent.name for p in EXAMPLES.glob("*/Pulumi.*.yaml"))
    assert found == sorted(NAMES)
    for name in NAMES:
        assert (EXAMPLES / name / "README.md").is_file(), name
        assert stack_file(name).name in (EXAMPLES / name / "README.md").read_text(), (
            f"{name}/README.md names its stack file"
        )
        assert f"[{name}]({name}/README.md)" in (EXAMPLES / "README.md").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_the_example_validates_plans_and_passes_the_policy_pack(evaluated, name):
    raw = engine.stack_config(stack_file(name))
    parsed = stack_config.parse(raw)  # raises ConfigError naming every problem
    evaluation = evaluated[name]
    assert {r.region for r in evaluation.managed if r.region} == set(parsed.region_names)
    assert policies.check(evaluation, policies.suffix_config(raw)) == []
    assert budget.format_text(budget.compute(evaluation)).startswith("Recovery budget")
    outputs = evaluation.outputs
    assert (
        set(outputs["dashboards"])
        == set(outputs["kmsKeyArns"])
        == set(outputs["failoverTopicArns"])
        == set(parsed.region_names)
    )


def test_what_each_example_is_for(evaluated):
    production = stack_config.parse(engine.stack_config(stack_file("production")))
    assert production.environment == "production" and production.nat_mode is stack_config.NatMode.PER_AZ
    assert (
        production.deletion_protection and production.audit_object_lock_mode is stack_config.ObjectLockMode.COMPLIANCE
    )
    # Exactly-once across regions, never the silent fallback to eventual.
    assert (
        production.dynamodb_consistency is stack_config.Consistency.STRONG
        and production.dynamodb_witness_region == "us-west-2"
    )

    assert len(evaluated["three-region"].of_type("aws:ec2/vpc:Vpc")) == 3
    assert len(evaluated["three-region"].of_type("aws:rds/cluster:Cluster")) == 3

    # One NAT gateway per region, against one per AZ (three) in production.
    assert len(evaluated["single-nat-test"].of_type(NAT_GATEWAY)) == 2
    assert len(evaluated["production"].of_type(NAT_GATEWAY)) == 2 * 3

    # The zone given by id is used as is: never looked up, and the failover records go into it.
    zone_by_id = evaluated["zone-by-id"]
    assert not [token for token, _ in zone_by_id.invokes if token == "aws:route53/getZone:getZone"]
    public = [
        r
        for r in zone_by_id.of_type("aws:route53/record:Record")
        if r.inputs.get("failoverRoutingPolicies") and r.inputs["name"].endswith("example.net")
    ]
    assert public and {r.inputs["zoneId"] for r in public} == {"Z0123456789ABCDEFGHIJ"}


@pytest.mark.parametrize("name", NAMES)
def test_plan_reads_the_example_by_stack_file(evaluated, monkeypatch, name):
    seen = {}

    def evaluate(raw, stack="dev"):
        seen.update(raw=raw, stack=stack)
        return evaluated[name]

    monkeypatch.setattr(engine, "evaluate", evaluate)
    result = CliRunner().invoke(cli.app, ["--stack-file", str(stack_file(name))])
    assert result.exit_code == 0, result.output
    assert seen == {"raw": engine.stack_config(stack_file(name)), "stack": name}
    assert f"Offline plan for stack {name}" in result.output and "Policy pack: no violations" in result.output


def test_the_three_region_diagram_is_current(evaluated):
    page = EXAMPLES / "three-region" / "architecture.md"
    command = diagram.regenerate_command(
        "three-region", "examples/three-region/Pulumi.three-region.yaml", "examples/three-region/architecture.md"
    )
    assert page.read_text() == diagram.document(evaluated["three-region"], "three-region", command), (
        f"regenerate it: {command}"
    )
    assert '["us-west-2 · secondary"]' in page.read_text()
