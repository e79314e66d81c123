"""What a 3 a.m. run meets besides AWS's happy path: a network blip mid-wait, credentials that expire.

Both use hand-made clients rather than moto: the point is the exact failure (a refused connection
on one call, an ExpiredToken answer), which moto cannot be asked to produce on cue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from rich.console import Console

from drctl import aurora, cli
from drctl.actions import Plan, Step
from drctl.aws import DOWN_MEMO_SECONDS, Clients, Unreachable
from drctl.context import Context
from drctl.errors import OperationFailed
from drctl.notify import Identity
from drctl.stack import Stack, load
from tests.drctl.conftest import ACCOUNT, TWO_REGIONS, FakeClock, World, flat, stack_config, write_config


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return load(None, write_config(tmp_path / "Pulumi.qa.yaml", stack_config(TWO_REGIONS)))


class _Rds:
    """describe_global_clusters that fails `blips` times in all, then shows us-east-2 taking over."""

    def __init__(self, stack: Stack, region: str, shared: dict[str, int]):
        self.stack, self.region, self.shared = stack, region, shared

    def describe_global_clusters(self, **params: Any) -> dict[str, Any]:
        self.shared["calls"] += 1
        if self.shared["blips"] > 0:
            self.shared["blips"] -= 1
            raise EndpointConnectionError(endpoint_url=f"https://rds.{self.region}.amazonaws.com")
        switched = self.shared["calls"] > 4
        members = [
            {
                "DBClusterArn": f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{self.stack.cluster(region)}",
                "IsWriter": (region == "us-east-2") == switched,
            }
            for region in TWO_REGIONS
        ]
        return {
            "GlobalClusters": [
                {
                    "GlobalClusterIdentifier": params["GlobalClusterIdentifier"],
                    "Status": "available",
                    "GlobalClusterMembers": members,
                }
            ]
        }


class _BlippingClients(Clients):
    def __init__(self, stack: Stack, blips: int):
        super().__init__(session=object())
        self.shared = {"blips": blips, "calls": 0}
        self.rds = {region: _Rds(stack, region, self.shared) for region in TWO_REGIONS}

    def __call__(self, service: str, region: str, endpoint_url: str | None = None) -> Any:
        return self.rds[region]


def test_a_blip_in_every_region_does_not_blind_the_rest_of_a_wait(stack: Stack) -> None:
    # One refused connection per region (a VPN drop): both are skipped for a while, then asked again.
    clock, lines = FakeClock(), []
    clients = _BlippingClients(stack, blips=2)
    clients.use_clock(clock.monotonic)
    ctx = Context(stack, clients, clock, say=lines.append)

    topology = aurora.wait_for_writer(ctx, "us-east-2", timeout=900)

    assert topology.writer.region == "us-east-2"
    assert any("skipped" in line for line in lines)  # the memo did its job while it lasted...
    assert clock.now - 1000.0 < 900 and clock.now - 1000.0 >= DOWN_MEMO_SECONDS  # ...and expired
    assert clients.unreachable() == {}


def test_a_region_that_stays_down_is_skipped_and_reported(stack: Stack) -> None:
    clock = FakeClock()
    clients = _BlippingClients(stack, blips=10**6)
    clients.use_clock(clock.monotonic)
    with pytest.raises(Unreachable):
        clients.call("rds", "us-east-1", "describe_global_clusters", GlobalClusterIdentifier="g")
    calls = clients.shared["calls"]
    with pytest.raises(Unreachable, match="us-east-1 skipped: unreachable"):
        clients.call("rds", "us-east-1", "describe_global_clusters", GlobalClusterIdentifier="g")
    assert clients.shared["calls"] == calls  # not asked again within the memo
    clock.sleep(DOWN_MEMO_SECONDS)
    with pytest.raises(Unreachable, match="us-east-1: unreachable"):
        clients.call("rds", "us-east-1", "describe_global_clusters", GlobalClusterIdentifier="g")
    assert clients.shared["calls"] == calls + 1


class _ExpiredClients(Clients):
    """Every call answers ExpiredToken: the operator's session ran out during a long wait."""

    def __init__(self) -> None:
        super().__init__(session=object())

    def __call__(self, service: str, region: str, endpoint_url: str | None = None) -> Any:
        class Expired:
            def __getattr__(self, operation: str) -> Any:
                def call(**_: Any) -> Any:
                    raise ClientError(
                        {
                            "Error": {
                                "Code": "ExpiredToken",
                                "Message": "The security token included in the request is expired",
                            }
                        },
                        operation,
                    )

                return call

        return Expired()


def test_credentials_expiring_mid_operation_keep_the_failure_its_state_and_the_audit_line(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = tmp_path / "audit.jsonl"
    runtime = cli.Runtime(
        _ExpiredClients(), FakeClock(), Console(width=250), Console(stderr=True, width=250), audit_log=audit
    )
    ctx = Context(stack, runtime.clients, runtime.clock, say=lambda line: None)
    monkeypatch.setattr(
        cli, "whoami", lambda ctx: Identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/dr-operator/me", ACCOUNT)
    )

    def wait_that_fails() -> None:
        raise OperationFailed(
            "timed out after 900 s waiting for us-east-2 to be the writer",
            state="global cluster modifying, operation switching-over, writer us-east-1",
            next_steps=("watch: drctl status",),
        )

    # Reading the state for the report meets the same expired credentials: the wait's last state stands.
    def state_now() -> str:
        return str(ctx.clients.call("rds", "us-east-1", "describe_global_clusters"))

    plan = Plan("switchover", [], [Step("wait", wait_that_fails, changes=True)], state_now, ())

    with pytest.raises(OperationFailed) as raised:
        cli._act(runtime, ctx, "switchover", {"to": "us-east-2"}, lambda: plan, dry_run=False, confirm=lambda: True)

    assert raised.value.exit_code == 1 and "writer us-east-1" in (raised.value.state or "")
    [line] = [json.loads(text) for text in audit.read_text().splitlines()]
    assert line["outcome"] == "failed" and "writer us-east-1" in line["details"]["state"]
    assert set(line["notified"]) == set(TWO_REGIONS)
    assert all(
        result.startswith("not published: AWS rejected the credentials (ExpiredToken")
        for result in line["notified"].values()
    )


def _switchover_answered(world: World, code: str, status: int) -> Any:
    rds = world.clients.stub("rds", "us-east-2")
    name = {"GlobalClusterIdentifier": world.stack.global_cluster}
    rds.add_response("describe_global_clusters", world.global_clusters("us-east-1"), name)
    rds.add_response(
        "describe_db_clusters", world.db_cluster("us-east-2"), {"DBClusterIdentifier": world.stack.cluster("us-east-2")}
    )
    rds.add_client_error(
        "switchover_global_cluster",
        service_error_code=code,
        http_status_code=status,
        service_message="The global cluster is in an invalid state",
        expected_params={**name, "TargetDbClusterIdentifier": world.arn("us-east-2")},
    )
    # Whatever the answer, the report reads the state again.
    rds.add_response("describe_global_clusters", world.global_clusters("us-east-1"), name)
    return world.invoke("switchover", "--to", "us-east-2", "--yes")


def test_aws_refusing_the_switchover_itself_is_a_refusal_not_a_failed_change(world: World) -> None:
    # Stubber: moto has no SwitchoverGlobalCluster (test_moto_gaps.py).
    result = _switchover_answered(world, "InvalidGlobalClusterStateFault", 400)
    assert result.exit_code == 1
    errors = flat(result.stderr)
    assert "AWS refused" in errors and "InvalidGlobalClusterStateFault" in errors and "nothing was changed" in errors
    assert "roll back" not in errors  # there is nothing to roll back
    assert world.audit()[-1]["outcome"] == "refused" and world.messages("us-east-1") == []


def test_a_server_error_on_the_switchover_may_have_applied_and_is_reported_as_failed(world: World) -> None:
    result = _switchover_answered(world, "InternalFailure", 500)
    assert result.exit_code == 1
    assert "state now: global cluster available, writer us-east-1" in flat(result.stderr)
    assert world.audit()[-1]["outcome"] == "failed"
