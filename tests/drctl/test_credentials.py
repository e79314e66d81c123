"""Credential problems and a bad target region: one clear line on stderr, exit 2, no traceback, nothing sent.

The credential cases run the installed entry point (`python -m drctl`) in a clean environment, so botocore
raises what it raises on an operator's machine: a profile that does not exist, half a key pair, an SSO
session whose cached token has expired (both config styles), no credentials at all. None of them needs the
network: botocore fails while looking for credentials. An expired session token is AWS's answer
(ExpiredToken), so it is stubbed in process, like the other AWS-side rejections in test_usage.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drctl.aws import Clients
from drctl.errors import UsageError
from tests.drctl.conftest import RecordingClients, World, dead_endpoint, stack_config, write_config

ROOT = Path(__file__).resolve().parents[2]
SSO_START = "https://example.awsapps.com/start"
AWS_CONFIG = f"""\
[profile legacy-sso]
sso_start_url = {SSO_START}
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = DROperator

[profile session-sso]
sso_session = ops
sso_account_id = 123456789012
sso_role_name = DROperator

[sso-session ops]
sso_start_url = {SSO_START}
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""
COMMANDS = [["status"], ["switchover", "--to", "us-east-2", "--yes"]]


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """An operator's machine: a home with AWS config files and an expired SSO token cache, a stack file,
    and an endpoint that refuses connections (were any request to leave, the test would see an outage)."""
    aws = tmp_path / ".aws"
    (aws / "sso" / "cache").mkdir(parents=True)
    (aws / "config").write_text(AWS_CONFIG)
    (aws / "credentials").write_text("")
    expired = {
        "startUrl": SSO_START,
        "region": "us-east-1",
        "accessToken": "expired",
        "expiresAt": "2020-01-01T00:00:00Z",
    }
    for cache_key in (SSO_START, "ops"):  # legacy profiles hash the start URL, sso-session profiles the session name
        (aws / "sso" / "cache" / f"{hashlib.sha1(cache_key.encode()).hexdigest()}.json").write_text(json.dumps(expired))
    write_config(tmp_path / "Pulumi.qa.yaml", stack_config(("us-east-1", "us-east-2")))
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(aws / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DRCTL_ENDPOINT_URL": dead_endpoint(),
        "DRCTL_PROJECT_DIR": str(tmp_path),
    }


def drctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drctl", "--stack", "qa", "--audit-log", str(Path(env["HOME"]) / "audit.jsonl"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for fragment in fragments:
        assert fragment in line, (fragment, line)


@pytest.mark.parametrize(
    ("variables", "fragments"),
    [
        ({"AWS_PROFILE": "nonexistent"}, ["AWS profile 'nonexistent' not found", "AWS_PROFILE"]),
        (
            {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"},
            ["incomplete AWS credentials", "missing: AWS_SECRET_ACCESS_KEY"],
        ),
        ({"AWS_PROFILE": "legacy-sso"}, ["sign-in session has expired", "aws sso login"]),
        ({"AWS_PROFILE": "session-sso"}, ["sign-in session has expired", "Token has expired", "aws sso login"]),
        ({}, ["no AWS credentials found", "assume the DR operator role"]),
    ],
    ids=["missing-profile", "partial-credentials", "expired-sso", "expired-sso-session", "no-credentials"],
)
def test_each_credential_problem_is_one_line_and_exit_2(
    machine: dict[str, str], variables: dict[str, str], fragments: list[str]
) -> None:
    for command in COMMANDS:
        assert_one_line(drctl(machine | variables, *command), *fragments)


def test_an_unknown_target_is_refused_from_the_stack_file_with_aws_unreachable(machine: dict[str, str]) -> None:
    """Credentials that work, AWS that does not answer: the region is still named as the problem."""
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for command in (["switchover", "--to", "eu-west-1", "--yes"], ["failover", "--to", "eu-west-1"]):
        assert_one_line(
            drctl(machine | keys, *command), "unknown region 'eu-west-1': this stack deploys us-east-1, us-east-2"
        )


@pytest.mark.parametrize(
    "args",
    [
        ["switchover", "--to", "eu-west-1", "--yes"],
        ["switchover", "--to", "eu-west-1", "--if-needed", "--yes"],
        ["failover", "--to", "eu-west-1", "--allow-data-loss", "--yes"],
        ["failover", "--to", "eu-west-1"],
        ["dns", "--to", "eu-west-1", "--yes"],
        ["drill", "--to", "eu-west-1", "--yes"],
    ],
    ids=lambda a: "".join(a).replace("--to", "-").replace("eu-west-1", ""),
)
def test_an_unknown_target_makes_no_aws_call(bare: World, args: list[str]) -> None:
    lost = RecordingClients(bare.url, lost=frozenset(bare.regions))  # every region down: a call would show
    result = bare.invoke(*args, clients=lost)
    assert result.exit_code == 2, result.output
    assert "unknown region 'eu-west-1': this stack deploys us-east-1, us-east-2" in result.stderr
    assert lost.calls == []


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException"])
def test_an_expired_session_token_is_one_line_and_exit_2(bare: World, code: str) -> None:
    # STS is asked in the command's target region, never the profile's default (it may be the lost one).
    sts = bare.clients.stub("sts", "us-east-2")
    sts.add_client_error("get_caller_identity", code, "The security token included in the request is expired")
    result = bare.invoke("switchover", "--to", "us-east-2", "--yes")
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert f"AWS rejected the credentials ({code}: The security token included in the request is expired)" in line
    assert "Traceback" not in result.output
    assert bare.clients.mutations() == []


def test_no_session_is_created_before_a_command_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """boto3.Session() reads the profile: done at start-up it would fail outside any command's error handling."""
    monkeypatch.setenv("AWS_PROFILE", "nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    clients = Clients.from_environment()
    with pytest.raises(UsageError, match="AWS profile 'nonexistent' not found"):
        clients.call("sts", "us-east-1", "get_caller_identity")
