"""Bad arguments, stack files and credentials: a clear message, exit 2, and nothing changed."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import boto3
import pytest
from rich.console import Console
from typer.testing import CliRunner

from drctl.cli import Runtime, app
from drctl.stack import load
from tests.drctl.conftest import FakeClock, RecordingClients, World, create_aurora, stack_config, write_config

ACTIONS = [
    ["switchover", "--to", "eu-west-1", "--yes"],
    ["failover", "--to", "eu-west-1", "--allow-data-loss", "--yes"],
    ["dns", "--to", "eu-west-1", "--yes"],
    ["drill", "--to", "eu-west-1", "--yes"],
    ["failback", "--to", "eu-west-1", "--yes"],
    ["--region", "eu-west-1", "status"],
]


@pytest.mark.parametrize("args", ACTIONS, ids=lambda a: a[0])
def test_unknown_region_is_named_and_changes_nothing(bare: World, args: list[str]) -> None:
    result = bare.invoke(*args)
    assert result.exit_code == 2, result.output
    assert "unknown region 'eu-west-1': this stack deploys us-east-1, us-east-2" in result.stderr
    assert bare.clients.mutations() == []


def test_target_already_the_writer(bare: World) -> None:
    world = bare
    create_aurora(world, "us-east-1")
    result = world.invoke("switchover", "--to", "us-east-1", "--yes")
    assert result.exit_code == 2
    assert "us-east-1 is already the writer of global cluster payment-global-qa" in result.stderr
    assert world.clients.mutations() == []
    assert world.audit()[-1]["outcome"] == "refused"  # the attempt is on record, but not announced (no Publish)


def test_target_not_a_member(bare: World) -> None:
    world = bare
    create_aurora(world, "us-east-1")
    # As after `aws rds remove-from-global-cluster` (moto 5.2.5 finds only us-east-1 clusters for it).
    world.aws("rds").remove_from_global_cluster(
        GlobalClusterIdentifier=world.stack.global_cluster, DbClusterIdentifier=world.arn("us-east-1")
    )
    result = world.invoke("failover", "--to", "us-east-1", "--allow-data-loss", "--yes")
    assert result.exit_code == 2
    assert "us-east-1 is not a member of global cluster payment-global-qa (members: us-east-2)" in result.stderr
    assert world.clients.mutations() == []


def test_missing_credentials(bare: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients = RecordingClients(bare.url, session=boto3.Session())
    for args in (["status"], ["switchover", "--to", "us-east-2", "--yes"]):
        result = bare.invoke(*args, clients=clients)
        assert result.exit_code == 2, result.output
        assert "no AWS credentials found: assume the DR operator role" in result.stderr
    assert clients.mutations() == []


def test_failover_without_allow_data_loss_refuses_before_any_call(bare: World) -> None:
    result = bare.invoke("failover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 2
    assert "loses every write the current primary had not yet replicated" in result.stderr
    assert "switchover --to us-east-2" in result.stderr and "--allow-data-loss" in result.stderr
    assert bare.clients.calls == []


def test_dns_needs_exactly_one_of_to_and_release(bare: World) -> None:
    for args in (["dns"], ["dns", "--to", "us-east-2", "--release"]):
        result = bare.invoke(*args)
        assert result.exit_code == 2
        assert "give exactly one of --to REGION or --release" in result.stderr
    assert bare.clients.calls == []


def _run(args: list[str], runtime: Runtime, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, obj=runtime, env=env)
    return result.exit_code, result.stderr


@pytest.fixture
def runtime(moto_url: str) -> Runtime:
    return Runtime(RecordingClients(moto_url), FakeClock(), Console(width=250), Console(stderr=True, width=250))


def test_stack_file_not_found(runtime: Runtime, tmp_path: Path) -> None:
    code, errors = _run(["--stack", "prod", "--project-dir", str(tmp_path), "status"], runtime)
    assert code == 2
    assert f"stack config file not found: {tmp_path / 'Pulumi.prod.yaml'}" in errors


def test_stack_is_found_through_the_project_dir_variable(bare: World, runtime: Runtime) -> None:
    code, errors = _run(
        ["--stack", "acme/payment-dr/qa", "status", "--json"],
        runtime,
        env={"DRCTL_PROJECT_DIR": str(bare.config_file.parent)},
    )
    assert code == 0, errors


def test_invalid_yaml_and_invalid_config(runtime: Runtime, tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config: [unclosed\n")
    code, errors = _run(["--config-file", str(broken), "status"], runtime)
    assert code == 2 and "is not valid YAML" in errors
    invalid = write_config(
        tmp_path / "Pulumi.bad.yaml",
        {**stack_config(("us-east-1", "us-east-2")), "primaryRegion": "mars-1", "replicationLagThresholdMs": 5000},
    )
    code, errors = _run(["--config-file", str(invalid), "status"], runtime)
    assert code == 2
    assert "primaryRegion='mars-1': must be an AWS region" in errors and "replicationLagThresholdMs" in errors
    assert runtime.clients.calls == []  # type: ignore[attr-defined]


def test_stack_selection_needs_exactly_one_of_stack_and_config_file(runtime: Runtime, tmp_path: Path) -> None:
    for args in (["status"], ["--stack", "qa", "--config-file", str(tmp_path / "x.yaml"), "status"]):
        code, errors = _run(args, runtime)
        assert code == 2 and "--stack NAME (reads Pulumi.NAME.yaml) or --config-file PATH, exactly one" in errors


def test_names_come_from_the_naming_catalog(tmp_path: Path) -> None:
    stack = load(
        "qa",
        None,
        write_config(tmp_path / "Pulumi.qa.yaml", stack_config(("us-east-1", "us-east-2", "us-west-2"))).parent,
    )
    assert stack.global_cluster == "payment-global-qa"
    assert stack.cluster("us-west-2") == "payment-db-us-west-2-qa"
    assert stack.tables == ("payment-transactions-qa", "payment-idempotency-qa")
    assert stack.buckets("us-east-2") == ("payment-audit-logs-us-east-2-qa", "payment-receipts-us-east-2-qa")
    assert stack.topic == "payment-failover-events-qa"
    assert stack.health_check("region", "us-east-1") == "payment-health-region-us-east-1-qa"
    assert stack.reads_from("us-west-2") == ("us-west-2", "us-east-1", "us-east-2")
    assert stack.command("status") == "drctl --stack qa status"
    assert stack.hold_alarm("us-east-1") == "payment-routing-hold-us-east-1-qa"
    assert stack.holders("us-east-2") == ("us-east-1", "us-west-2")
    assert stack.routing_control("us-west-2") == "payment-serve-us-west-2-qa"


def test_rejected_credentials_are_a_usage_error(bare: World) -> None:
    sts = bare.clients.stub("sts", "us-east-1")  # moto accepts any key: only a stub can answer ExpiredToken
    sts.add_client_error("get_caller_identity", "ExpiredToken", "The security token included in the request is expired")
    result = bare.invoke("status")
    assert result.exit_code == 2
    assert (
        "AWS rejected the credentials (ExpiredToken: The security token included in the request is expired)"
        in result.stderr
    )


def test_the_installed_entry_point_reads_the_endpoint_from_the_environment(bare: World) -> None:
    # No injected runtime: the defaults (Clients.from_environment, the system clock) as `drctl` runs them.
    env = {"DRCTL_ENDPOINT_URL": bare.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    result = CliRunner().invoke(app, ["--config-file", str(bare.config_file), "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["operator"] == "arn:aws:sts::123456789012:user/moto"


def test_python_dash_m_drctl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["drctl", "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("drctl", run_name="__main__")
    assert done.value.code == 0


def test_an_unwritable_audit_log_is_reported_and_the_outcome_stands(bare: World) -> None:
    create_aurora(bare, "us-east-1")
    blocker = bare.config_file.parent / "not-a-directory"
    blocker.write_text("")
    result = CliRunner().invoke(
        app,
        [
            "--config-file",
            str(bare.config_file),
            "--audit-log",
            str(blocker / "audit.jsonl"),
            "switchover",
            "--to",
            "us-east-2",
            "--dry-run",
        ],
        obj=Runtime(bare.clients, FakeClock(), Console(width=250), Console(stderr=True, width=250)),
    )
    assert (
        result.exit_code == 1
    )  # refused by the pre-checks (no lag metric, no health checks), as without the audit problem
    assert "audit line NOT written" in result.stderr


def test_the_example_stack_loads() -> None:
    stack = load("dev", None, Path(__file__).resolve().parents[2])
    assert stack.global_cluster == "payment-global-dev" and stack.regions[0] == "us-east-1"
