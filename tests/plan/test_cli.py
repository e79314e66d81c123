"""`python -m plan`: the budget after the resources, the policy verdict, exit status 3 on a violation,
and --diagram."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from plan import __main__ as cli
from plan import engine, policies
from tests.plan.helpers import broken
from tests.plan.test_policies import CONFIG


@pytest.fixture
def planned(monkeypatch):
    """Runs the CLI in-process on a given evaluation (the program is evaluated once per session)."""
    def run(evaluation: engine.Evaluation, *args: str):
        monkeypatch.setattr(engine, "evaluate", lambda raw, stack="dev": evaluation)
        return CliRunner().invoke(cli.app, list(args))
    return run


def test_a_clean_stack_exits_0_with_the_budget_after_the_resources(planned, dev):
    result = planned(dev)
    assert result.exit_code == 0, result.output
    output = result.output
    assert output.index("Total:") < output.index("Recovery budget") < output.index("Policy pack: no violations")
    assert "RTO — API" in output and "RPO per data store" in output


def test_a_violation_is_printed_and_exits_3(planned, dev):
    copied, instance = broken(dev, "aws:rds/clusterInstance:ClusterInstance",
                              lambda r: r.inputs.update({"publiclyAccessible": True}))
    result = planned(copied)
    assert result.exit_code == cli.POLICY_VIOLATION_EXIT == 3
    assert "Policy pack: 1 violation(s)" in result.output
    assert f"[no-public-database] ClusterInstance '{instance.name}': publiclyAccessible is true" in result.output


def test_json_mode_keeps_the_resource_list_and_still_exits_3(planned, dev):
    copied, _ = broken(dev, "aws:sns/topic:Topic", lambda r: r.inputs.pop("kmsMasterKeyId"))
    result = planned(copied, "--json")
    assert result.exit_code == 3 and "[kms-encryption]" in result.output


def test_the_real_program_writes_the_diagram_and_exits_by_the_policies(planned, tmp_path, dev):
    target = tmp_path / "architecture.md"
    result = planned(dev, "--diagram", str(target))
    assert result.exit_code == (3 if policies.check(dev, CONFIG) else 0), result.output[-2000:]
    assert "Recovery budget" in result.output and "Policy pack:" in result.output
    page = target.read_text()
    assert "```mermaid\nflowchart LR\n" in page and "us-east-2 · secondary" in page
    raw = tmp_path / "architecture.mmd"
    planned(dev, "--diagram", str(raw))
    assert raw.read_text().startswith("flowchart LR\n")
