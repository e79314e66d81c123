"""The DR roles (global_resources/dr_iam.py) and the probe's execution role: who may assume them, and
that every statement of every policy they carry is held to this stack's resources."""

from __future__ import annotations

import json
import re

from core import naming, routing
from functions.ledger.ledger_db import POSTER_ROLE
from global_resources import dr_iam, failover
from plan import engine
from plan.engine import Evaluation, ResourceRecord
from region_factory import probe
from region_factory.service import VPC_DESCRIBE_SID
from tests.infra.helpers import as_list, policy_statements, regional_key
from tests.infra.test_failover import OPS_PRINCIPALS, THREE, swapped_with_ops

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ACCOUNT = engine.MOCK_ACCOUNT_ID
# Where a statement may name no ARN of this stack, and why (dr_iam.py and probe.py say it in full):
# no resource-level permissions (ListHealthChecks, GetMetricData, PutMetricData, EC2 Describe*).
UNSCOPED = {*dr_iam.UNSCOPED_SIDS, "PutProbeMetrics", VPC_DESCRIBE_SID}
# Patterns of resources nobody can name in advance: any health check's tags (read-only), a Route 53
# change id, the ENIs Lambda creates in the function's own region.
NAMELESS = ("arn:aws:route53:::healthcheck/*", "arn:aws:route53:::change/*")


def role(evaluation: Evaluation, name: str) -> ResourceRecord:
    return evaluation.one(ROLE, lambda r: r.inputs["name"] == name)


def documents(evaluation: Evaluation, target: ResourceRecord) -> list[dict]:
    """Every policy document a role carries: inline policies and attached managed policies."""
    role_name = target.inputs["name"]
    found = [
        json.loads(p.inputs["policy"])
        for p in evaluation.of_type(ROLE_POLICY)
        if p.inputs["role"] in (role_name, target.outputs["id"])
    ]
    for attachment in evaluation.of_type(ATTACHMENT):
        if attachment.inputs["role"] == role_name:
            managed = evaluation.by_output("arn", attachment.inputs["policyArn"])
            if managed.type == MANAGED_POLICY:
                found.append(json.loads(managed.inputs["policy"]))
    return found


def statements(evaluation: Evaluation, target: ResourceRecord) -> list[dict]:
    return [s for document in documents(evaluation, target) for s in policy_statements(document)]


def allowed(evaluation: Evaluation, target: ResourceRecord, action: str, resource: str) -> bool:
    return any(
        s["Effect"] == "Allow" and action in as_list(s["Action"]) and resource in as_list(s["Resource"])
        for s in statements(evaluation, target)
    )


def stack_ids(evaluation: Evaluation) -> set[str]:
    """Ids and ARNs of resources this stack declares (health checks, zones, keys, ...)."""
    values = set()
    for record in evaluation.managed:
        values.update(str(record.outputs.get(key)) for key in ("id", "arn", "zoneId") if record.outputs.get(key))
    return values


def within_stack(evaluation: Evaluation, arn: str, regions: list[str]) -> bool:
    """An ARN of this stack: one the stack declares (its ARN, or its id in an ARN: health checks and
    zones, the configured public zone included), or in this account (or none, for S3) and one of its
    regions (or none, for global services) and named with the stack's suffix."""
    declared = stack_ids(evaluation) | {f"arn:aws:route53:::hostedzone/{engine.MOCK_ZONE_ID}"}
    if arn in declared or arn in NAMELESS:
        return True
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:2] != ["arn", "aws"]:
        return False
    _, _, service, region, account, resource = parts
    if service == "rds-db":  # a cluster's resource id, known once it exists, and the probe's own user
        clusters = {
            r.outputs.get("clusterResourceId")
            for r in evaluation.of_type("aws:rds/cluster:Cluster")
            if r.region == region
        }
        users = (probe.DB_USER, POSTER_ROLE)  # the probe's login; the ledger poster's, which drctl reconcile uses too
        return account == ACCOUNT and resource.removeprefix("dbuser:").rsplit("/", 1) in [
            [c, u] for c in clusters for u in users
        ]
    if service == "ec2" and resource in ("network-interface/*", "subnet/*", "security-group/*"):
        return region in regions and account == ACCOUNT  # Lambda's ENIs, in the function's own region
    # Route 53 health-check alarms live in us-east-1 (core/providers.py).
    in_place = region in (*regions, "", "us-east-1" if service == "cloudwatch" else "") and account in (ACCOUNT, "")
    return in_place and re.search(r"-dev(?![a-z0-9])", resource) is not None


def stack_roles(evaluation: Evaluation) -> list[ResourceRecord]:
    return [role(evaluation, "payment-dr-operator-dev"), role(evaluation, "payment-dr-automation-dev")] + [
        r for r in evaluation.of_type(ROLE) if r.inputs["name"].startswith("payment-db-probe-")
    ]


# --- least privilege ------------------------------------------------------------------------------


def test_no_wildcard_actions_and_resource_star_only_where_aws_requires_it(three_regions):
    roles = stack_roles(three_regions)
    assert len(roles) == 2 + len(THREE)
    for target in roles:
        for statement in statements(three_regions, target):
            assert statement["Effect"] == "Allow"
            assert not [a for a in as_list(statement["Action"]) if "*" in a], (target.name, statement)
            if "*" in as_list(statement["Resource"]):
                assert statement.get("Sid") in UNSCOPED and as_list(statement["Resource"]) == ["*"], (
                    target.name,
                    statement,
                )


def test_every_resource_is_one_of_this_stacks_in_one_of_its_regions(three_regions):
    for target in stack_roles(three_regions):
        for statement in statements(three_regions, target):
            if statement.get("Sid") in UNSCOPED:
                continue
            for arn in as_list(statement["Resource"]):
                assert within_stack(three_regions, arn, THREE), (target.name, statement.get("Sid"), arn)


def test_unscoped_statements_are_read_only_or_held_by_a_condition(three_regions):
    for target in stack_roles(three_regions):
        for statement in statements(three_regions, target):
            if as_list(statement["Resource"]) != ["*"]:
                continue
            actions = as_list(statement["Action"])
            writes = [a for a in actions if not a.split(":")[1].startswith(("List", "Get", "Describe"))]
            if writes:
                assert writes == ["cloudwatch:PutMetricData"], writes
                namespace = (
                    routing.ROUTING_NAMESPACE
                    if statement.get("Sid") == "PublishRoutingHolds"
                    else probe.METRIC_NAMESPACE
                )
                assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": namespace}}


def test_the_probe_logs_in_to_its_own_regions_cluster_as_its_own_user_and_reads_no_secret(three_regions):
    for region in THREE:
        target = role(three_regions, f"payment-db-probe-{region}-dev")
        cluster = f"arn:aws:rds:{region}:{ACCOUNT}:cluster:payment-db-{region}-dev"
        assert allowed(three_regions, target, "rds:DescribeDBClusters", cluster)
        assert allowed(
            three_regions,
            target,
            "rds:DescribeGlobalClusters",
            f"arn:aws:rds::{ACCOUNT}:global-cluster:payment-global-dev",
        )
        # rds-db:connect as payment_probe on this region's cluster, named by its resource id, and nothing more.
        aurora = three_regions.one("aws:rds/cluster:Cluster", lambda c: c.region == region)
        assert aurora.inputs["iamDatabaseAuthenticationEnabled"] is True
        db_user = f"arn:aws:rds-db:{region}:{ACCOUNT}:dbuser:{aurora.outputs['clusterResourceId']}/{probe.DB_USER}"
        [connect] = [s for s in statements(three_regions, target) if s.get("Sid") == probe.CONNECT_SID]
        assert (connect["Action"], connect["Resource"]) == (["rds-db:connect"], [db_user])
        granted = {a for s in statements(three_regions, target) for a in as_list(s["Action"])}
        assert not [a for a in granted if a.startswith(("secretsmanager:", "kms:"))], granted
        other_regions = [r for r in THREE if r != region]
        for statement in statements(three_regions, target):
            text = json.dumps(statement["Resource"])
            assert not [r for r in other_regions if r in text], (region, statement)


# --- the DR roles ---------------------------------------------------------------------------------


# What drctl calls (docs/runbook.md, "Permissions of the operator role").
DRCTL_GLOBAL = ("rds:DescribeGlobalClusters", "rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster")
DRCTL_UNSCOPED = (
    "cloudwatch:GetMetricData",
    "route53:ListHealthChecks",
    "route53:ListHostedZonesByName",
    "cloudwatch:PutMetricData",
    "cloudwatch:ListMetrics",
)


def test_dr_roles_can_run_every_drctl_command_in_every_region(three_regions):
    checks = {(r.inputs["tags"]["Name"]): r for r in three_regions.of_type("aws:route53/healthCheck:HealthCheck")}
    global_cluster = f"arn:aws:rds::{ACCOUNT}:global-cluster:payment-global-dev"
    for name in ("payment-dr-operator-dev", "payment-dr-automation-dev"):
        target = role(three_regions, name)
        for action in DRCTL_GLOBAL:
            assert allowed(three_regions, target, action, global_cluster), (name, action)
        for action in DRCTL_UNSCOPED:
            assert allowed(three_regions, target, action, "*"), (name, action)
        assert allowed(three_regions, target, "route53:ListTagsForResources", "arn:aws:route53:::healthcheck/*")
        assert allowed(
            three_regions,
            target,
            "route53:ListResourceRecordSets",
            f"arn:aws:route53:::hostedzone/{engine.MOCK_ZONE_ID}",
        )
        for region in THREE:
            cluster = f"arn:aws:rds:{region}:{ACCOUNT}:cluster:payment-db-{region}-dev"
            for action in ("rds:DescribeDBClusters", "rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster"):
                assert allowed(three_regions, target, action, cluster), (name, region, action)
            topic = f"arn:aws:sns:{region}:{ACCOUNT}:payment-failover-events-dev"
            assert allowed(three_regions, target, "sns:Publish", topic)
            key = regional_key(three_regions, region).outputs["arn"]
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                assert allowed(three_regions, target, action, key)
            for kind in failover.KINDS:
                check_arn = (
                    f"arn:aws:route53:::healthcheck/{checks[f'payment-health-{kind}-{region}-dev'].outputs['id']}"
                )
                for action in ("route53:GetHealthCheckStatus", "route53:UpdateHealthCheck"):
                    assert allowed(three_regions, target, action, check_arn), (name, region, kind, action)
            hold_alarms = f"arn:aws:cloudwatch:{region}:{ACCOUNT}:alarm:payment-routing-hold-*-dev"
            assert allowed(three_regions, target, "cloudwatch:DescribeAlarms", hold_alarms), (name, region)
            for table in ("payment-transactions-dev", "payment-idempotency-dev"):
                assert allowed(
                    three_regions,
                    target,
                    "dynamodb:DescribeTable",
                    f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}",
                )
            for bucket in (f"payment-audit-logs-{region}-dev", f"payment-receipts-{region}-dev"):
                assert allowed(three_regions, target, "s3:GetReplicationConfiguration", f"arn:aws:s3:::{bucket}")
            # drctl reconcile: scan this replica's payments (its key decrypts them), post as ledger_poster.
            for table in ("payment-transactions-dev", "payment-idempotency-dev"):
                assert allowed(
                    three_regions, target, "dynamodb:Scan", f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
                )
            assert not allowed(
                three_regions,
                target,
                "dynamodb:PutItem",
                f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/payment-transactions-dev",
            )
            cluster_id = three_regions.one("aws:rds/cluster:Cluster", lambda r: r.region == region).outputs[
                "clusterResourceId"
            ]
            assert allowed(
                three_regions,
                target,
                "rds-db:connect",
                f"arn:aws:rds-db:{region}:{ACCOUNT}:dbuser:{cluster_id}/{POSTER_ROLE}",
            )
            assert not allowed(
                three_regions,
                target,
                "rds-db:connect",
                f"arn:aws:rds-db:{region}:{ACCOUNT}:dbuser:{cluster_id}/postgres",
            )


def test_dr_roles_hold_no_action_drctl_does_not_call(three_regions):
    """drctl moves traffic with health-check overrides, never by editing records, and reads no more; the
    one addition is what `drctl failover` tells the operator to run first: keep the lost writes."""
    calls = {
        *DRCTL_GLOBAL,
        *DRCTL_UNSCOPED,
        "rds:DescribeDBClusters",
        "route53:ListTagsForResources",
        "route53:ListResourceRecordSets",
        "route53:GetHealthCheckStatus",
        "route53:UpdateHealthCheck",
        "dynamodb:DescribeTable",
        "s3:GetReplicationConfiguration",
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "cloudwatch:DescribeAlarms",
        *KEEP_LOST_WRITES,
        "dynamodb:Scan",
        "rds-db:connect",
    }
    for name in ("payment-dr-operator-dev", "payment-dr-automation-dev"):
        granted = {a for s in statements(three_regions, role(three_regions, name)) for a in as_list(s["Action"])}
        expected = calls | ({"sts:AssumeRole"} if name == "payment-dr-operator-dev" else set())
        assert granted == expected, (name, sorted(granted ^ expected))


def test_operator_role_needs_mfa_lasts_an_hour_and_defaults_to_the_account(dev):
    target = role(dev, "payment-dr-operator-dev")
    [trust] = policy_statements(target.inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert target.inputs["maxSessionDuration"] == 3600


def test_operator_role_trusts_only_the_configured_principals_and_still_needs_mfa():
    evaluation = swapped_with_ops()
    [trust] = policy_statements(role(evaluation, "payment-dr-operator-dev").inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"AWS": OPS_PRINCIPALS}
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_automation_role_is_reached_only_from_the_operator_role(dev):
    operator, automation = role(dev, "payment-dr-operator-dev"), role(dev, "payment-dr-automation-dev")
    [trust] = policy_statements(automation.inputs["assumeRolePolicy"])
    assert trust["Principal"] == {"AWS": operator.outputs["arn"]} and "Condition" not in trust
    assert automation.inputs["maxSessionDuration"] == 3600
    assert allowed(dev, operator, "sts:AssumeRole", automation.outputs["arn"])
    assert not allowed(dev, automation, "sts:AssumeRole", operator.outputs["arn"])


def test_dr_roles_and_policies_are_global_and_survive_a_role_swap(dev):
    swapped = swapped_with_ops()
    for record in dev.in_component("payment-dr:global:DrIam"):
        assert record.provider_urn.endswith("::aws-global"), record.name
        after = swapped.by_urn(record.urn)
        if record.type != ROLE:  # the operator's principals differ in that evaluation, by config
            assert json.dumps(record.inputs, sort_keys=True) == json.dumps(after.inputs, sort_keys=True), record.name


def test_a_new_region_adds_a_policy_and_changes_none(dev, three_regions):
    before = {r.urn: r for r in dev.in_component("payment-dr:global:DrIam")}
    after = {r.urn: r for r in three_regions.in_component("payment-dr:global:DrIam")}
    for urn, record in before.items():
        assert json.dumps(after[urn].inputs, sort_keys=True) == json.dumps(record.inputs, sort_keys=True), record.name
    added = [after[urn] for urn in set(after) - set(before)]
    assert sorted(r.type for r in added) == sorted([MANAGED_POLICY, ATTACHMENT, ATTACHMENT])
    assert all("us-west-2" in r.name for r in added)


# --- after an unplanned failover: the lost writes (drctl/failback.py, docs/runbook.md "Failing back") ------


KEEP_LOST_WRITES = ("rds:DescribeDBClusterSnapshots", "rds:CopyDBClusterSnapshot", "kms:CreateGrant", "kms:DescribeKey")


def grants(evaluation: Evaluation, target: ResourceRecord, action: str, resource: str) -> list[dict]:
    """The Allow statements that match `resource` as IAM does: `*` any run of characters, `?` one."""

    def matches(pattern: str) -> bool:
        return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), resource) is not None

    return [
        s
        for s in statements(evaluation, target)
        if s["Effect"] == "Allow" and action in as_list(s["Action"]) and any(matches(p) for p in as_list(s["Resource"]))
    ]


def test_the_operator_can_find_and_copy_the_snapshot_of_the_lost_writes_in_every_region(three_regions):
    operator = role(three_regions, "payment-dr-operator-dev")
    for region in THREE:
        rds = f"arn:aws:rds:{region}:{ACCOUNT}"
        cluster = f"{rds}:cluster:payment-db-{region}-dev"
        # Aurora's automated snapshot keeps its "rds:" prefix in the ARN; the copy is named as drctl prints it.
        lost = f"{rds}:cluster-snapshot:rds:unplanned-global-failover-payment-db-{region}-dev-2031-12-31-09-30"
        copy = (
            f"{rds}:cluster-snapshot:{naming.Namer('dev').qualified(naming.LOST_WRITES_SNAPSHOT, '20311231', region)}"
        )
        for resource in (cluster, lost, copy):
            assert grants(three_regions, operator, "rds:DescribeDBClusterSnapshots", resource), (region, resource)
        for resource in (lost, copy):
            assert grants(three_regions, operator, "rds:CopyDBClusterSnapshot", resource), (region, resource)
        # Nothing else: not another stack's snapshots, not the cluster's other (manual or automated) ones.
        for other in (
            f"{rds}:cluster-snapshot:rds:unplanned-global-failover-payment-db-{region}-prod-2031-12-31-09-30",
            f"{rds}:cluster-snapshot:rds:payment-db-{region}-dev-2031-12-31-09-30",
            f"{rds}:cluster-snapshot:payment-db-final-0a1b2c3d-{region}-dev",
            f"{rds}:cluster-snapshot:lost-writes-20311231-{region}-prod",
            f"{rds}:cluster:payment-db-{region}-prod",
        ):
            for action in ("rds:DescribeDBClusterSnapshots", "rds:CopyDBClusterSnapshot"):
                assert not grants(three_regions, operator, action, other), (action, other)
        # The copy is encrypted with the region's key, as the source: RDS creates a grant on it for the caller.
        key = regional_key(three_regions, region).outputs["arn"]
        [kms] = [
            s
            for s in statements(three_regions, operator)
            if "kms:CreateGrant" in as_list(s["Action"]) and key in s["Resource"]
        ]
        assert sorted(as_list(kms["Action"])) == ["kms:CreateGrant", "kms:DescribeKey"] and kms["Resource"] == [key]
        assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"rds.{region}.amazonaws.com"}}


def test_with_arc_the_dr_roles_may_set_routing_controls_and_nothing_else_of_arc(config, dev):
    """drctl/arc.py asks the cluster for its endpoints, lists the routing controls and sets their states."""
    from tests.infra.test_failover import ARC_CLUSTER

    arc = engine.evaluate({**config, "routingControl": "arc", "arcClusterArn": ARC_CLUSTER})
    panels = f"arn:aws:route53-recovery-control::{ACCOUNT}:controlpanel/*"
    expected = {
        "route53-recovery-control-config:DescribeCluster": ARC_CLUSTER,
        "route53-recovery-cluster:ListRoutingControls": panels,
        "route53-recovery-cluster:UpdateRoutingControlStates": f"{panels}/routingcontrol/*",
    }
    for name in ("payment-dr-operator-dev", "payment-dr-automation-dev"):
        for action, resource in expected.items():
            assert allowed(arc, role(arc, name), action, resource), (name, action)
        # Without ARC the roles hold none of it.
        granted = {a for s in statements(dev, role(dev, name)) for a in as_list(s["Action"])}
        assert not {a for a in granted if a.startswith("route53-recovery")}, name
