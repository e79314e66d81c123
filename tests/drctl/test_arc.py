"""routingControl "arc": drctl sets the ARC routing controls beside the CloudWatch holds.

moto implements neither route53-recovery-control-config (DescribeCluster) nor route53-recovery-cluster
(ListRoutingControls, UpdateRoutingControlStates): those clients are botocore Stubbers that check the
exact requests. The CloudWatch holds, SNS and the rest are moto_server as everywhere else.
"""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

from tests.drctl.conftest import ACCOUNT, TWO_REGIONS, World, flat, stack_config, write_config

CLUSTER = f"arn:aws:route53-recovery-control::{ACCOUNT}:cluster/abc123"
PANEL = f"arn:aws:route53-recovery-control::{ACCOUNT}:controlpanel/p1"
ENDPOINTS = [("us-east-1", "https://host-1.example.com/v1"), ("ap-northeast-1", "https://host-2.example.com/v1")]
E1, E2 = TWO_REGIONS


def arc_world(world: World) -> World:
    write_config(world.config_file, {**stack_config(TWO_REGIONS), "routingControl": "arc", "arcClusterArn": CLUSTER})
    return world


def control_arn(region: str) -> str:
    return f"{PANEL}/routingcontrol/{region}"


def stub_cluster(world: World) -> tuple[Stubber, Stubber, Stubber]:
    config = Stubber(world.clients("route53-recovery-control-config", "us-west-2"))
    config.add_response(
        "describe_cluster",
        {
            "Cluster": {
                "ClusterArn": CLUSTER,
                "Status": "DEPLOYED",
                "ClusterEndpoints": [{"Region": region, "Endpoint": url} for region, url in ENDPOINTS],
            }
        },
        {"ClusterArn": CLUSTER},
    )
    first, second = (Stubber(world.clients("route53-recovery-cluster", region, url)) for region, url in ENDPOINTS)
    for stub in (config, first, second):
        stub.activate()
    return config, first, second


def listing(world: World) -> dict[str, Any]:
    return {
        "RoutingControls": [
            {
                "ControlPanelArn": PANEL,
                "ControlPanelName": "payment-dr-qa",
                "RoutingControlArn": control_arn(r),
                "RoutingControlName": world.stack.routing_control(r),
                "RoutingControlState": "On",
            }
            for r in TWO_REGIONS
        ]
        + [
            {
                "ControlPanelArn": PANEL,
                "ControlPanelName": "other",
                "RoutingControlArn": f"{PANEL}/routingcontrol/x",
                "RoutingControlName": "someone-elses",
                "RoutingControlState": "Off",
            }
        ]
    }


def test_dns_to_sets_the_routing_controls_on_the_first_endpoint_that_answers(world: World) -> None:
    arc_world(world)
    config, first, second = stub_cluster(world)
    # The first endpoint is in maintenance (AWS: try the endpoints in turn); the second answers both calls.
    first.add_client_error(
        "list_routing_controls", "ServiceUnavailable", "endpoint in maintenance", http_status_code=503
    )
    second.add_response("list_routing_controls", listing(world), {})
    first.add_client_error(
        "update_routing_control_states", "ServiceUnavailable", "endpoint in maintenance", http_status_code=503
    )
    second.add_response(
        "update_routing_control_states",
        {},
        {
            "UpdateRoutingControlStateEntries": [
                {"RoutingControlArn": control_arn(E2), "RoutingControlState": "On"},
                {"RoutingControlArn": control_arn(E1), "RoutingControlState": "Off"},
            ]
        },
    )
    result = world.invoke("dns", "--to", E2, "--yes")
    assert result.exit_code == 0, result.output
    for stub in (config, first, second):
        stub.assert_no_pending_responses()
    assert world.held_out(E1, E2) == [1.0]  # the CloudWatch hold too
    out = flat(result.stdout)
    assert "ARC: set payment-serve-us-east-2-qa On, payment-serve-us-east-1-qa Off (UpdateRoutingControlStates)" in out
    assert "mechanism: CloudWatch holds and ARC routing controls" in out
    assert world.messages(E2)[0]["details"]["mechanism"] == ["CloudWatch holds", "ARC routing controls"]


def test_failback_turns_the_target_on(world: World) -> None:
    arc_world(world)
    world.set_hold(E1, E2, "ALARM")
    world.put_metric(E2, "PaymentDR/Canary", "TargetHealthy", {"Target": E1}, 1)
    config, first, second = stub_cluster(world)
    first.add_response("list_routing_controls", listing(world), {})
    first.add_response(
        "update_routing_control_states",
        {},
        {"UpdateRoutingControlStateEntries": [{"RoutingControlArn": control_arn(E1), "RoutingControlState": "On"}]},
    )
    result = world.invoke("failback", "--yes")
    assert result.exit_code == 0, result.output
    for stub in (config, first, second):
        stub.assert_no_pending_responses()
    assert set(world.held_out(E1, E2)) == {0.0}


def test_a_refusal_by_arc_is_not_retried_elsewhere_and_the_holds_stand(world: World) -> None:
    arc_world(world)
    _, first, second = stub_cluster(world)
    first.add_response("list_routing_controls", listing(world), {})
    # A safety rule blocks the change: a 4xx is ARC's answer, not an endpoint problem.
    first.add_client_error(
        "update_routing_control_states", "ConflictException", "blocked by safety rule", http_status_code=409
    )
    result = world.invoke("dns", "--to", E2, "--yes")
    assert result.exit_code == 1
    second.assert_no_pending_responses()
    errors = flat(result.stderr)
    assert (
        "ARC: set payment-serve-us-east-2-qa On, payment-serve-us-east-1-qa Off" in errors
        and "blocked by safety rule" in errors
    )
    assert world.held_out(E1, E2) == [1.0]  # the hold made before stays: traffic still leaves us-east-1
    assert world.audit()[-1]["outcome"] == "failed"


def test_arc_needs_the_cluster_arn(world: World) -> None:
    write_config(world.config_file, {**stack_config(TWO_REGIONS), "routingControl": "arc"})
    result = world.invoke("dns", "--to", E2, "--yes")
    assert result.exit_code == 2
    assert "arcClusterArn is required with routingControl=arc" in flat(result.stderr)
