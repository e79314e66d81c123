"""IAM roles for disaster-recovery operations: what drctl (the DR CLI, docs/runbook.md) runs as.

- ``payment-dr-operator-<suffix>``: for people. Assumable by ``opsPrincipalArns`` (when empty, by the
  account, i.e. any IAM principal of this account that its own policies allow to assume it), only with
  MFA (``aws:MultiFactorAuthPresent``), for at most one hour.
- ``payment-dr-automation-<suffix>``: for non-interactive tooling (scheduled drills, scripted runbooks),
  which cannot present MFA. Its only principal is the operator role (role chaining, also at most one
  hour): no automation principal exists in this stack yet, and trusting a service principal such as
  Lambda would let any function a deployer may pass the role to act as it. Add the tooling's own
  principal here, with aws:SourceAccount/aws:SourceArn conditions, when such tooling lands.

Both carry the same permissions: exactly what drctl calls (docs/runbook.md, "Permissions of the
operator role"; drctl/aurora.py, dns.py, status.py, notify.py), and what `drctl failover` tells the
operator to run first (drctl/failback.py), on this stack's resources in every region. IAM is global,
so either role works from any region, including when the primary region is down; the ARNs name each
region explicitly. Why each action is there:

- ``rds:DescribeGlobalClusters`` (the global cluster: writer, members) and ``rds:DescribeDBClusters``
  (each member cluster: status, endpoints), called with identifiers, so scoped to their ARNs.
- ``rds:SwitchoverGlobalCluster`` and ``rds:FailoverGlobalCluster`` (drctl switchover, failover,
  drill): authorised on the global cluster and on the member clusters (the target can be a member in
  any region), as AWS's Region switch sample policy scopes them.
- ``rds:DescribeDBClusterSnapshots`` and ``rds:CopyDBClusterSnapshot``: after an unplanned failover,
  the first thing to run once the old primary's region is back (docs/runbook.md, "Failing back"): find
  the snapshot Aurora takes of the old volume, ``rds:unplanned-global-failover-<old cluster>-<timestamp>``
  (the writes the failover lost; an automated snapshot, which the cluster's backup retention removes),
  and copy it to a manual ``lost-writes-<YYYYMMDD>-<region>-<suffix>``. The copy's one resource type is
  ``cluster-snapshot`` (Service Authorization Reference, Amazon RDS): the ARNs of those two names only
  (an automated snapshot's ARN keeps the ``rds:`` prefix; AWS does not document the timestamp's format,
  hence ``-*``; the date of the copy's name is 8 digits, ``????????``). The describe may be authorised on
  the cluster it names or on the snapshots: both. No tags are copied, so no ``rds:AddTagsToResource``
  (the copy's dependent action, for tags). The copy stays in the region, encrypted with the source's key,
  the region's customer managed key; creating an RDS resource with such a key takes the caller's
  ``kms:CreateGrant`` and ``kms:DescribeKey`` on it (RDS User Guide, Overview.Encryption.Keys.html),
  granted through RDS only (``kms:ViaService``, as AWS advises). No copy goes to another key, so no other
  key is needed. The automation role gets them too: the operator role is its only principal, so nobody
  gains anything, and one policy keeps serving both. Restoring the copy to compare it with the new
  primary is a database administrator's task, not these roles'.
- ``cloudwatch:GetMetricData``: Aurora lag, DynamoDB and S3 replication metrics, and the CALCULATED
  checks' status (AWS/Route53 in us-east-1). It has no resource-level permissions: Resource "*" is
  required by AWS.
- ``dynamodb:DescribeTable`` (each region's table replicas) and ``s3:GetReplicationConfiguration``
  (each region's buckets): drctl status.
- ``route53:ListHealthChecks`` and ``route53:ListHostedZonesByName`` (finding the checks and the
  public zone): no resource-level permissions, "*". ``route53:ListTagsForResources`` reads the Name
  tags of every check the listing returns, whose ids the stack cannot know: ``healthcheck/*``, tags only.
- ``route53:GetHealthCheckStatus`` and ``route53:UpdateHealthCheck`` (drctl dns: the Disabled/Inverted
  override of a check forces traffic without touching records) on the stack's checks;
  ``route53:ListResourceRecordSets`` on the public zone (resolving the failover chain). drctl never
  changes records, so there is no ``route53:ChangeResourceRecordSets``.
- Routing holds (drctl dns --to, failback, dns --release; core/routing.py): ``cloudwatch:PutMetricData``,
  which has no resource-level permissions, so "*" held by the condition ``cloudwatch:namespace`` =
  PaymentDR/Routing (the only namespace it can write); ``cloudwatch:DescribeAlarms`` on each region's hold
  alarms (``payment-routing-hold-*-<suffix>``); ``cloudwatch:ListMetrics`` ("*", no resource-level
  permissions) to find the ledger poster's OldestUnpostedSeconds for the fail-back gate.
- ``sns:Publish`` on each region's failover topic, and ``kms:GenerateDataKey``/``kms:Decrypt`` on that
  region's key through SNS only (the topics are encrypted with it; the topic policies already admit
  these two roles by ARN, region_factory/alerting.py). ``sts:GetCallerIdentity`` needs no permission.

The operator role may also assume the automation role. What is global is an inline policy of each role;
what is regional is one managed policy per region (``payment-dr-ops-<region>-<suffix>``) attached to both
roles. So a new region adds a policy and changes none (tests/infra/test_symmetry.py), one policy serves
both roles, and no role nears IAM's 10,240-character limit on its inline policies (a region's part is
about 2,300 characters, a managed policy may hold 6,144); the limit that remains is 10 managed policies
per role (an adjustable quota): nine regions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from core import iam, naming, routing
from core.config import StackConfig
from core.providers import Providers
from functions.ledger.ledger_db import POSTER_ROLE
from global_resources.failover import KINDS
from region_factory import SharedInputs
from region_factory.outputs import RegionalOutputs

MAX_SESSION_SECONDS = 3600
# Statements whose resource cannot be this stack's ARNs (tests/infra/test_dr_iam.py holds the others to them).
UNSCOPED_SIDS = (
    "FindHealthChecksAndZone",
    "ReadMetrics",
    "ReadHealthCheckTags",
    "PublishRoutingHolds",
    "FindLedgerMetrics",
)


def account_root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def operator_trust(cfg: StackConfig, account_id: str) -> pulumi.Output[str]:
    # Without opsPrincipalArns, the account root: the account's own IAM policies then decide who may
    # assume the role (grant sts:AssumeRole on it to the on-call group), and MFA is still required.
    principals = list(cfg.ops_principal_arns) or [account_root(account_id)]
    return iam.document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": principals},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )


def automation_trust(operator_arn: pulumi.Output[str]) -> pulumi.Output[str]:
    return iam.document({"Effect": "Allow", "Principal": {"AWS": operator_arn}, "Action": "sts:AssumeRole"})


def zone_arn(zone_id: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:aws:route53:::hostedzone/", zone_id)


def health_check_arn(check_id: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("arn:aws:route53:::healthcheck/", check_id)


def global_statements(cfg: StackConfig, account_id: str, public_zone_id: pulumi.Input[str]) -> list[dict[str, Any]]:
    global_cluster = f"arn:aws:rds::{account_id}:global-cluster:{cfg.namer(naming.GLOBAL_CLUSTER)}"
    return [
        iam.statement(
            ["rds:DescribeGlobalClusters", "rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster"],
            [global_cluster],
            sid="GlobalDatabase",
        ),
        iam.statement(
            ["route53:ListHealthChecks", "route53:ListHostedZonesByName"], ["*"], sid="FindHealthChecksAndZone"
        ),
        iam.statement(["route53:ListTagsForResources"], ["arn:aws:route53:::healthcheck/*"], sid="ReadHealthCheckTags"),
        iam.statement(["route53:ListResourceRecordSets"], [zone_arn(public_zone_id)], sid="ReadFailoverRecords"),
        iam.statement(["cloudwatch:GetMetricData"], ["*"], sid="ReadMetrics"),
        iam.put_metrics("PublishRoutingHolds", routing.ROUTING_NAMESPACE),
        iam.statement(["cloudwatch:ListMetrics"], ["*"], sid="FindLedgerMetrics"),
    ]


def arc_statements(cfg: StackConfig, account_id: str) -> list[dict[str, Any]]:
    """routingControl "arc" only: what drctl/arc.py calls: the cluster's endpoints, this stack's routing controls."""
    panels = f"arn:aws:route53-recovery-control::{account_id}:controlpanel/*"
    return [
        iam.statement(
            ["route53-recovery-control-config:DescribeCluster"], [cfg.arc_cluster_arn], sid="ArcClusterEndpoints"
        ),
        iam.statement(["route53-recovery-cluster:ListRoutingControls"], [panels], sid="ArcFindRoutingControls"),
        iam.statement(
            ["route53-recovery-cluster:UpdateRoutingControlStates"],
            [f"{panels}/routingcontrol/*"],
            sid="ArcSetRoutingControls",
        ),
    ]


def regional_statements(
    cfg: StackConfig,
    account_id: str,
    stack: RegionalOutputs,
    health_check_ids: Mapping[tuple[str, str], pulumi.Input[str]],
    cluster_resource_id: pulumi.Input[str],
) -> list[dict[str, Any]]:
    region = stack.region

    def arn(service: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{account_id}:{resource}"

    tables = [
        arn("dynamodb", f"table/{cfg.namer(spec)}") for spec in (naming.TRANSACTIONS_TABLE, naming.IDEMPOTENCY_TABLE)
    ]
    buckets = [f"arn:aws:s3:::{cfg.namer(spec, region)}" for spec in (naming.AUDIT_BUCKET, naming.RECEIPTS_BUCKET)]
    checks = [health_check_arn(health_check_ids[(region, kind)]) for kind in KINDS]
    cluster_name = cfg.namer(naming.DB_CLUSTER, region)
    cluster = arn("rds", f"cluster:{cluster_name}")
    lost_writes = [  # the snapshot Aurora takes after an unplanned failover, and its manual copy (drctl/failback.py)
        arn("rds", f"cluster-snapshot:{naming.UNPLANNED_FAILOVER_SNAPSHOT_PREFIX}{cluster_name}-*"),
        arn("rds", f"cluster-snapshot:{cfg.namer.qualified(naming.LOST_WRITES_SNAPSHOT, '????????', region)}"),
    ]
    return [
        iam.statement(
            ["rds:DescribeDBClusters", "rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster"],
            [cluster],
            sid="MemberCluster",
        ),
        iam.statement(["rds:DescribeDBClusterSnapshots"], [cluster, *lost_writes], sid="FindLostWrites"),
        iam.statement(["rds:CopyDBClusterSnapshot"], lost_writes, sid="KeepLostWrites"),
        iam.statement(
            ["kms:CreateGrant", "kms:DescribeKey"],
            [stack.kms_key_arn],
            sid="LostWritesKey",
            conditions={"StringEquals": {"kms:ViaService": f"rds.{region}.amazonaws.com"}},
        ),
        iam.statement(["route53:GetHealthCheckStatus", "route53:UpdateHealthCheck"], checks, sid="HealthChecks"),
        iam.statement(
            ["cloudwatch:DescribeAlarms"],
            [arn("cloudwatch", f"alarm:{cfg.namer.qualified(naming.ROUTING_HOLD_ALARM, routing.hold_qualifier('*'))}")],
            sid="ReadRoutingHolds",
        ),
        iam.statement(["dynamodb:DescribeTable"], tables, sid="TableReplicas"),
        # drctl reconcile: read the accepted payments of this region's replicas (acceptance records and
        # transactions), post the missing ones as the poster's own database user (IAM token; the writer may be
        # any region's cluster).
        iam.statement(["dynamodb:Scan"], tables, sid="ReconcileReadPayments"),
        iam.statement(
            ["kms:Decrypt"],
            [stack.kms_key_arn],
            sid="ReconcileTableKey",
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
        ),
        iam.statement(
            ["rds-db:connect"],
            [pulumi.Output.concat(arn("rds-db", "dbuser:"), cluster_resource_id, f"/{POSTER_ROLE}")],
            sid="ReconcileLedgerLogin",
        ),
        iam.statement(["s3:GetReplicationConfiguration"], buckets, sid="BucketReplication"),
        iam.statement(["sns:Publish"], [arn("sns", cfg.namer(naming.FAILOVER_TOPIC))], sid="FailoverTopic"),
        iam.statement(
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [stack.kms_key_arn],
            sid="FailoverTopicKey",
            conditions={"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}},
        ),
    ]


@dataclass(frozen=True, kw_only=True)
class DrIamArgs:
    cfg: StackConfig
    providers: Providers  # IAM is global: providers.global_
    regions: Mapping[str, RegionalOutputs]
    shared: SharedInputs  # the account and the public hosted zone
    health_check_ids: Mapping[tuple[str, str], pulumi.Input[str]]  # (region, kind) -> the check drctl reads/overrides
    cluster_resource_ids: Mapping[str, pulumi.Input[str]]  # region -> its cluster's (drctl reconcile's login)


class DrIam(pulumi.ComponentResource):
    operator_role: aws.iam.Role
    automation_role: aws.iam.Role
    regional_policies: dict[str, aws.iam.Policy]

    def __init__(self, name: str, args: DrIamArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:DrIam", name, None, opts)
        cfg, regions, shared = args.cfg, args.regions, args.shared
        opts = pulumi.ResourceOptions(parent=self, provider=args.providers.global_)
        account_id = shared.account_id
        self.operator_role = aws.iam.Role(
            "dr-operator",
            name=cfg.namer(naming.DR_OPERATOR_ROLE),
            description="payment-dr DR operations by people (MFA): drctl status, switchover, failover, dns (docs/failover.md)",
            assume_role_policy=operator_trust(cfg, account_id),
            max_session_duration=MAX_SESSION_SECONDS,
            opts=opts,
        )
        self.automation_role = aws.iam.Role(
            "dr-automation",
            name=cfg.namer(naming.DR_AUTOMATION_ROLE),
            description="payment-dr DR operations by tooling, reached from the operator role (docs/failover.md)",
            assume_role_policy=automation_trust(self.operator_role.arn),
            max_session_duration=MAX_SESSION_SECONDS,
            opts=opts,
        )
        roles = {"dr-operator": self.operator_role, "dr-automation": self.automation_role}
        shared_global = global_statements(cfg, account_id, shared.hosted_zone_id)
        if cfg.routing_control == "arc":
            shared_global += arc_statements(cfg, account_id)
        assume_automation = iam.statement(["sts:AssumeRole"], [self.automation_role.arn], sid="AssumeAutomationRole")
        for key, role in roles.items():
            extra = [assume_automation] if role is self.operator_role else []
            aws.iam.RolePolicy(f"{key}-global", role=role.id, policy=iam.document(*shared_global, *extra), opts=opts)
        self.regional_policies = {}
        for region in sorted(regions):
            policy = aws.iam.Policy(
                f"dr-ops-{region}",
                name=cfg.namer(naming.DR_REGION_POLICY, region),
                description=f"payment-dr DR operations on the stack's resources in {region} (docs/failover.md)",
                policy=iam.document(
                    *regional_statements(
                        cfg,
                        account_id,
                        regions[region],
                        args.health_check_ids,
                        args.cluster_resource_ids[region],
                    )
                ),
                opts=opts,
            )
            self.regional_policies[region] = policy
            for key, role in roles.items():
                aws.iam.RolePolicyAttachment(f"{key}-{region}", role=role.name, policy_arn=policy.arn, opts=opts)
        self.register_outputs(
            {"operatorRoleArn": self.operator_role.arn, "automationRoleArn": self.automation_role.arn}
        )
