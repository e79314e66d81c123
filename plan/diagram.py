"""The architecture diagram (Mermaid), generated from the evaluated resource graph.

One subgraph per region (by the DR-Role of its provider), side by side, holding the key resources
(VPC, Lambda functions, APIs and their custom domains, the Aurora cluster, the DynamoDB table or
replica, buckets, SNS topics, dashboards), and one subgraph for what is global (Aurora global
cluster, Route 53 health checks and failover records). The links between regions are read from the
resources, never drawn by hand: global cluster membership, DynamoDB replicas, S3 replication rules
(source -> destination), VPC peering (requester <-> accepter), failover records -> what they point
at, health checks -> records and what they watch. A value is followed back to its resource through
the mocked outputs or the dependencies (``plan.budget.references``), as the budget does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from plan.budget import (
    CLUSTER,
    DOMAINS,
    GLOBAL_CLUSTER,
    HEALTH_CHECK,
    RECORD,
    REPLICATION,
    TABLE,
    alarms_of,
    dr_role,
    known,
    references,
)
from plan.engine import Evaluation, ResourceRecord
from policy.rules import BUCKET, TOPIC

VPC = "aws:ec2/vpc:Vpc"
FUNCTION = "aws:lambda/function:Function"
REST_API = "aws:apigateway/restApi:RestApi"
HTTP_API = "aws:apigatewayv2/api:Api"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
PEERING = "aws:ec2/vpcPeeringConnection:VpcPeeringConnection"

# type -> (label prefix, the input holding the physical name, Mermaid shape)
KEY_TYPES: dict[str, tuple[str, str, str]] = {
    VPC: ("VPC", "cidrBlock", "rect"),
    FUNCTION: ("λ", "name", "round"),
    REST_API: ("API", "name", "rect"),
    HTTP_API: ("API", "name", "rect"),
    **{domain: ("custom domain", "domainName", "rect") for domain in DOMAINS},
    CLUSTER: ("Aurora cluster", "clusterIdentifier", "db"),
    TABLE: ("DynamoDB table", "name", "db"),
    TABLE_REPLICA: ("DynamoDB replica", "globalTableArn", "db"),
    BUCKET: ("bucket", "bucket", "db"),
    TOPIC: ("SNS", "name", "rect"),
    DASHBOARD: ("dashboard", "dashboardName", "rect"),
    GLOBAL_CLUSTER: ("Aurora global cluster", "globalClusterIdentifier", "db"),
    HEALTH_CHECK: ("health check", "tags.Name", "hex"),
    RECORD: ("DNS", "name", "flag"),
}
SHAPES = {"rect": '["{}"]', "round": '(["{}"])', "db": '[("{}")]', "hex": '{{{{"{}"}}}}', "flag": '>"{}"]'}
GLOBAL = "global"


@dataclass
class Diagram:
    regions: dict[str, str] = field(default_factory=dict)  # region -> subgraph title
    nodes: dict[str, list[str]] = field(default_factory=dict)  # subgraph -> node lines
    node_ids: dict[str, str] = field(default_factory=dict)  # urn (or urn#region) -> node id
    links: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = ["flowchart LR"]
        for key in [GLOBAL, *sorted(k for k in self.nodes if k != GLOBAL)]:
            if key not in self.nodes:
                continue
            title = (
                "global layer (Route 53, Aurora global cluster, health-check alerts in us-east-1)"
                if key == GLOBAL
                else self.regions.get(key, key)
            )
            lines.append(f'  subgraph {_id(key)}["{_escape(title)}"]')
            lines.append("    direction TB")
            lines += [f"    {line}" for line in self.nodes[key]]
            lines.append("  end")
        lines += [f"  {link}" for link in sorted(self.links)]  # registration order varies between runs
        return "\n".join(lines) + "\n"


def _id(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _escape(text: str) -> str:
    return str(text).replace('"', "#quot;")


def _lookup(inputs: dict[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        value = (value or {}).get(part) if isinstance(value, dict) else None
    return value


class _Builder:
    def __init__(self, evaluation: Evaluation):
        self.evaluation = evaluation
        self.diagram = Diagram()

    def add_node(self, record: ResourceRecord, group: str, label: str, shape: str, key: str | None = None) -> str:
        node_id = _id(f"{record.type.rsplit(':', 1)[-1]}_{record.name}" + (f"_{group}" if key else ""))
        self.diagram.node_ids[key or record.urn] = node_id
        self.diagram.nodes.setdefault(group, []).append(node_id + SHAPES[shape].format(_escape(label)))
        return node_id

    def node(self, record: ResourceRecord, region: str | None = None) -> str | None:
        return self.diagram.node_ids.get(f"{record.urn}#{region}" if region else record.urn)

    def link(self, a: str | None, arrow: str, b: str | None, label: str = "") -> None:
        if a and b:
            text = f'{a} {arrow}|"{_escape(label)}"| {b}' if label else f"{a} {arrow} {b}"
            if text not in self.diagram.links:
                self.diagram.links.append(text)

    def build(self) -> Diagram:
        evaluation = self.evaluation
        for record in evaluation.resources:
            role = dr_role(evaluation, record) if record.type == "pulumi:providers:aws" else None
            if role in ("primary", "secondary") and record.region:
                self.diagram.regions[record.region] = f"{record.region} · {role}"
        ordered = sorted(
            evaluation.managed, key=lambda r: (list(KEY_TYPES).index(r.type) if r.type in KEY_TYPES else 99, r.name)
        )
        for record in ordered:
            if record.type not in KEY_TYPES or (
                record.type == RECORD and not record.inputs.get("failoverRoutingPolicies")
            ):
                continue
            prefix, name_input, shape = KEY_TYPES[record.type]
            name = _lookup(record.inputs, name_input)
            name = name if isinstance(name, str) and known(name) else record.name
            group = GLOBAL if dr_role(evaluation, record) == "global" or record.region is None else record.region
            label = f"{prefix} {name}"
            if record.type == RECORD:
                label = f"{prefix} {name} ({record.inputs['failoverRoutingPolicies'][0].get('type')})"
            if record.type == TABLE and record.inputs.get("replicas"):
                label = f"{prefix} {name} (home)"
            self.add_node(record, group, label, shape)
            if record.type == TABLE:
                for replica in record.inputs.get("replicas") or []:
                    region = replica.get("regionName")
                    if region:
                        self.add_node(record, region, f"DynamoDB replica {name}", "db", key=f"{record.urn}#{region}")
        self._links()
        return self.diagram

    def _links(self) -> None:
        evaluation = self.evaluation
        for cluster in evaluation.of_type(CLUSTER):
            members = references(
                evaluation,
                cluster,
                [cluster.inputs.get("globalClusterIdentifier")],
                ["globalClusterIdentifier", "id"],
                [GLOBAL_CLUSTER],
            )
            for global_cluster in members:
                self.link(
                    self.node(global_cluster), "---", self.node(cluster), f"member ({dr_role(evaluation, cluster)})"
                )
        for table in evaluation.of_type(TABLE):
            for replica in table.inputs.get("replicas") or []:
                self.link(self.node(table), "<==>", self.node(table, replica.get("regionName")), "global table replica")
        for replication in evaluation.of_type(REPLICATION):
            sources = references(
                evaluation, replication, [replication.inputs.get("bucket")], ["bucket", "id"], [BUCKET]
            )
            for rule in replication.inputs.get("rules") or []:
                destination = rule.get("destination") or {}
                minutes = ((destination.get("replicationTime") or {}).get("time") or {}).get("minutes")
                label = (
                    f"S3 replication, RTC {minutes:g} min" if isinstance(minutes, (int, float)) else "S3 replication"
                )
                for target in references(evaluation, replication, [destination.get("bucket")], ["arn"], [BUCKET]):
                    for source in sources:
                        self.link(self.node(source), "-->", self.node(target), label)
        for peering in evaluation.of_type(PEERING):
            requester = references(evaluation, peering, [peering.inputs.get("vpcId")], ["id"], [VPC])
            accepter = references(evaluation, peering, [peering.inputs.get("peerVpcId")], ["id"], [VPC])
            for a in requester:
                for b in accepter:
                    if a is not b:
                        self.link(self.node(a), "<-.->", self.node(b), "VPC peering")
        for record in evaluation.of_type(RECORD):
            policies = record.inputs.get("failoverRoutingPolicies")
            if not policies:
                continue
            kind = policies[0].get("type", "")
            aliases = record.inputs.get("aliases") or []
            targets = references(
                evaluation,
                record,
                [a.get("name") for a in aliases],
                ["regionalDomainName", "targetDomainName", "domainName"],
                DOMAINS,
            )
            # An alias to another name of the zone (a failover chain) points at that name's failover records.
            names = {a.get("name") for a in aliases if known(a.get("name"))}
            targets += [
                r
                for r in evaluation.of_type(RECORD)
                if r is not record and r.inputs.get("name") in names and r.inputs.get("failoverRoutingPolicies")
            ]
            targets += references(
                evaluation, record, record.inputs.get("records") or [], ["endpoint", "readerEndpoint"], [CLUSTER]
            )
            for target in targets:
                self.link(self.node(record), "-->", self.node(target), kind)
            checks = references(evaluation, record, [record.inputs.get("healthCheckId")], ["id"], [HEALTH_CHECK])
            for check in checks:
                self.link(self.node(check), "-.->", self.node(record), "health")
        for check in evaluation.of_type(HEALTH_CHECK):
            children = references(
                evaluation, check, check.inputs.get("childHealthchecks") or [], ["id"], [HEALTH_CHECK]
            )
            for child in children:
                self.link(self.node(child), "-.->", self.node(check), "child")
            watched = [
                r
                for r in evaluation.resources
                if r.urn in check.dependencies and r.type in KEY_TYPES and r.type != HEALTH_CHECK
            ]
            for alarm in alarms_of(evaluation, check):
                # What the alarm measures: the resources its dimensions name, in its region.
                dimensions = [v for v in (alarm.inputs.get("dimensions") or {}).values() if known(v)]
                watched += [
                    r
                    for r in evaluation.managed
                    if r.type in KEY_TYPES
                    and r.type != HEALTH_CHECK
                    and r.region == alarm.region
                    and any(r.outputs.get(key) in dimensions for key in ("clusterIdentifier", "name", "id"))
                ]
            for target in watched:
                self.link(self.node(check), "-.->", self.node(target), "watches")


def build(evaluation: Evaluation) -> Diagram:
    return _Builder(evaluation).build()


def mermaid(evaluation: Evaluation) -> str:
    return build(evaluation).text()


def regenerate_command(stack: str, stack_file: str | None, target: str) -> str:
    """The command that writes this page; the test that keeps the page current runs the same."""
    source = f"--stack-file {stack_file}" if stack_file else f"--stack {stack}"
    return f"python -m plan {source} --diagram {target}"


def document(evaluation: Evaluation, stack: str, command: str | None = None) -> str:
    """A Markdown page holding the diagram (GitHub renders ```mermaid blocks)."""
    built = build(evaluation)
    nodes = sum(len(lines) for lines in built.nodes.values())
    shown = sorted({prefix for prefix, _, _ in KEY_TYPES.values()})
    return (
        "# Architecture (generated)\n\n"
        f"Generated from the evaluated `{stack}` stack by `{command or regenerate_command(stack, None, 'docs/architecture.md')}`; "
        "a test regenerates it and fails when it differs. Every node and link is read from the resources the program "
        "declares (the offline plan's mock engine), not drawn by hand. It shows the key resources only: "
        f"{nodes} nodes for the {len(evaluation.managed)} resources the stack creates ({', '.join(shown)}); "
        "subnets, routes, security groups, roles, policies, alarms, log groups and the like are left out, and "
        "`python -m plan` lists every resource. Solid arrows: S3 replication, cluster membership and failover "
        "routing; thick: DynamoDB global table replicas; dotted: health checks and VPC peering.\n\n"
        f"```mermaid\n{built.text()}```\n"
    )
