"""`python -m plan`: the budget after the resources, the policy verdict, exit status 3 on a violation,
and --diagram."""

from __future__ import annotations

import json

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
    copied, instance = broken(
        dev, "aws:rds/clusterInstance:ClusterInstance", lambda r: r.inputs.update({"publiclyAccessible": True})
    )
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


def test_help_describes_the_plan_with_examples_and_plain_flags():
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    text = result.output
    assert "Plans a stack offline" in text and "Examples:" in text and "Exit status:" in text
    assert "python -m plan --stack-file examples/three-region/Pulumi.three-region.yaml" in text
    assert "<bool>" not in text  # flags are flags: `--json`, not `--json <bool>`
    for flag in ("--json", "--outputs"):
        assert any(line.strip().startswith(f"{flag} ") and "<" not in line for line in text.splitlines()), flag


def test_state_only_resources_are_a_named_group(planned, dev):
    result = planned(dev)
    state_only = [r for r in dev.managed if r.region is None]
    assert state_only and all(r.type.startswith(("random:", "command:")) for r in state_only)
    assert f"state only (random values, local builds; nothing in AWS) · {len(state_only)} to create" in result.output
    assert "?" not in result.output.split("Total:")[0].replace("?region=", "")
    assert f"({len(state_only)} state only, " in result.output


def test_tables_fit_the_terminal(planned, dev, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    tables = planned(dev).output.split("Total:")[0]
    assert max(len(line) for line in tables.splitlines()) <= 100
    monkeypatch.setenv("COLUMNS", "160")
    assert max(len(line) for line in planned(dev).output.split("Total:")[0].splitlines()) > 100  # uses the room


def test_outputs_are_the_program_exports_as_json(planned, dev):
    result = planned(dev, "--outputs")
    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)
    for region in ("us-east-1", "us-east-2"):
        dashboard = outputs["dashboards"][region]
        [record] = [d for d in dev.of_type("aws:cloudwatch/dashboard:Dashboard") if d.region == region]
        assert dashboard["name"] == record.inputs["dashboardName"]
        assert (
            dashboard["url"]
            == f"https://console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={dashboard['name']}"
        )
        topic = dev.by_output("arn", outputs["failoverTopicArns"][region], "aws:sns/topic:Topic")
        assert topic.region == region and topic.inputs["name"].startswith("payment-failover-events")
        assert dev.by_output("arn", outputs["kmsKeyArns"][region], "aws:kms/key:Key").region == region
    alarms = outputs["healthCheckAlarms"]
    assert alarms["region"] == "us-east-1"
    assert (
        dev.by_output("arn", alarms["topicArn"], "aws:sns/topic:Topic")
        .inputs["name"]
        .startswith("payment-health-check-events")
    )
    assert dev.by_output("arn", alarms["kmsKeyArn"], "aws:kms/key:Key").region == "us-east-1"
    assert sorted(alarms["alarmNames"]) == sorted(
        a.inputs["name"]
        for a in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs["name"].startswith("payment-health-")
    )


def test_a_missing_stack_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli.app, ["--stack-file", str(tmp_path / "Pulumi.nope.yaml")])
    assert result.exit_code == cli.USAGE_EXIT == 2
    assert "no stack file" in result.output and "Pulumi.nope.yaml" in result.output


def test_an_invalid_config_names_the_file_and_exits_1(tmp_path):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  payment-dr:environmentSuffix: Bad_Suffix\n")
    result = CliRunner().invoke(cli.app, ["--stack-file", str(path)])
    assert result.exit_code == 1 and str(path) in result.output and "environmentSuffix='Bad_Suffix'" in result.output
