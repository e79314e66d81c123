"""Route 53 ARC routing controls (config routingControl "arc"), set beside the CloudWatch holds.

Each region has a routing control ``payment-serve-<region>-<suffix>`` (core/naming.py): On lets traffic
reach the region, Off keeps it away (a RECOVERY_CONTROL health check under the region's routing check).
The states live in the ARC cluster and are read and changed through its five regional endpoints, the
data plane; AWS asks callers to try them in turn, since endpoints cycle through maintenance, and keeps
at least three of them answering (r53recovery/latest/dg/routing-control.update.api.html). The endpoint
list comes from DescribeCluster, a control-configuration API served only in us-west-2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import routing
from drctl.aws import Rejected, Unreachable
from drctl.context import Context
from drctl.errors import UsageError

CONTROL_CONFIG_REGION = "us-west-2"  # route53-recovery-control-config's only endpoint region
ON, OFF = "On", "Off"


@dataclass(frozen=True)
class Endpoint:
    region: str
    url: str


@dataclass(frozen=True)
class RoutingControl:
    region: str  # the stack region it routes
    name: str
    arn: str
    state: str | None


def enabled(ctx: Context) -> bool:
    return ctx.stack.cfg.routing_control == routing.ROUTING_CONTROL_ARC


def endpoints(ctx: Context) -> list[Endpoint]:
    arn = ctx.stack.cfg.arc_cluster_arn
    if not arn:
        raise UsageError("routingControl is 'arc' but arcClusterArn is not set")
    answer = ctx.clients.call(
        "route53-recovery-control-config", CONTROL_CONFIG_REGION, "describe_cluster", ClusterArn=arn
    )
    found = [Endpoint(e["Region"], e["Endpoint"]) for e in answer["Cluster"].get("ClusterEndpoints", [])]
    if not found:
        raise Unreachable(f"ARC cluster {arn} lists no endpoints (status {answer['Cluster'].get('Status')})")
    return found


def on_cluster(ctx: Context, cluster: list[Endpoint], operation: str, **params: Any) -> Any:
    """One call on the first cluster endpoint that answers; a refusal (4xx) is final, not retried elsewhere."""
    reasons = []
    for endpoint in cluster:
        try:
            return ctx.clients.call(
                "route53-recovery-cluster", endpoint.region, operation, endpoint_url=endpoint.url, **params
            )
        except Rejected:
            raise
        except Unreachable as error:
            reasons.append(f"{endpoint.url}: {error}")
    raise Unreachable("no ARC cluster endpoint answered: " + "; ".join(reasons))


def controls(ctx: Context, cluster: list[Endpoint]) -> dict[str, RoutingControl]:
    """The stack's routing controls by region, with their states (ListRoutingControls, paginated)."""
    wanted = {ctx.stack.routing_control(region): region for region in ctx.stack.regions}
    found: dict[str, RoutingControl] = {}
    params: dict[str, Any] = {}
    while True:
        answer = on_cluster(ctx, cluster, "list_routing_controls", **params)
        for control in answer.get("RoutingControls", []):
            region = wanted.get(control.get("RoutingControlName", ""))
            if region:
                found[region] = RoutingControl(
                    region,
                    control["RoutingControlName"],
                    control["RoutingControlArn"],
                    control.get("RoutingControlState"),
                )
        if not answer.get("NextToken"):
            break
        params = {"NextToken": answer["NextToken"]}
    missing = [name for name, region in wanted.items() if region not in found]
    if missing:
        raise Unreachable(f"ARC routing controls not found in the cluster: {', '.join(missing)}")
    return found


def set_states(ctx: Context, wanted: Mapping[str, str]) -> str:
    """Sets every region in `wanted` (region -> On/Off) in one UpdateRoutingControlStates call: ARC applies
    them together, so a safety rule such as "at least one On" judges the end state, not a half-way one."""
    cluster = endpoints(ctx)
    found = controls(ctx, cluster)
    entries = [
        {"RoutingControlArn": found[region].arn, "RoutingControlState": state} for region, state in wanted.items()
    ]
    on_cluster(ctx, cluster, "update_routing_control_states", UpdateRoutingControlStateEntries=entries)
    return ", ".join(f"{found[region].name} {state}" for region, state in wanted.items())


def describe(wanted: Mapping[str, str], ctx: Context) -> str:
    return ", ".join(f"{ctx.stack.routing_control(region)} {state}" for region, state in wanted.items())
