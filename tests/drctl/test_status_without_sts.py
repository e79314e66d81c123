"""`drctl status` when STS cannot be reached: it prints what it can read, says the operator is unknown,
exits 0 as documented (docs/runbook.md) and still writes its audit line. No credentials stay exit 2."""

from __future__ import annotations

import json

import boto3

from drctl.errors import USAGE_EXIT
from tests.drctl.conftest import RecordingClients, World, dead_endpoint, flat


class StsDown(RecordingClients):
    """STS does not answer in any region; Route 53 (a global service) still does."""

    def endpoint(self, service: str, region: str) -> str | None:
        return dead_endpoint() if service == "sts" else self.endpoint_url


def test_status_prints_what_it_can_and_audits_when_sts_is_unreachable(world: World) -> None:
    result = world.invoke("status", clients=StsDown(world.url))
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "operator unknown (STS unreachable)" in out
    assert "operator unknown: could not ask STS who you are in any region" in out
    # Route 53 answers: the health checks and where traffic goes are still shown.
    assert "Route 53 health checks" in out and "api.payments.example.com →" in out
    assert "Verdict: degraded" in out
    [line] = world.audit()
    assert line["command"] == "status" and line["outcome"] == "ok" and line["operator"] == "unknown (STS unreachable)"
    assert line["details"]["verdict"] == "degraded" and line["notified"] == {}
    assert world.messages("us-east-1") == []  # status never notifies


def test_status_json_stays_machine_readable_and_audits(world: World) -> None:
    result = world.invoke("status", "--json", clients=StsDown(world.url))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["operator"] == "unknown (STS unreachable)" and report["verdict"] == "degraded"
    assert report["reasons"][0].startswith("operator unknown: could not ask STS")
    assert world.audit()[-1]["details"]["reasons"] == report["reasons"]


def test_a_healthy_status_audits_who_looked(world: World) -> None:
    result = world.invoke("status")
    assert result.exit_code == 0, result.output
    [line] = world.audit()
    assert (
        line["operator"].startswith("arn:aws:")
        and line["details"]["verdict"] == result.stdout.split("Verdict: ")[1].split()[0]
    )
    assert f"audit: {world.audit_log}" in flat(result.stdout)


def test_missing_credentials_still_stop_status(world: World, monkeypatch) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(world.config_file.parent / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(world.config_file.parent / "no-config"))
    clients = RecordingClients(world.url, session=boto3.Session())
    result = world.invoke("status", clients=clients)
    assert result.exit_code == USAGE_EXIT and "no AWS credentials" in result.output
    assert world.audit() == []
