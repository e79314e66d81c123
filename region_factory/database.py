"""What the region's Aurora cluster needs from the region: the engine check, a DB subnet group on the
private subnets, a security group, the cluster parameter group and the enhanced-monitoring role.

The clusters themselves are linked into the global database in ``global_resources/aurora.py``, which
also opens PostgreSQL to the peered regions' VPCs (``postgres_ingress`` on the published security group id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import iam, naming
from core.config import ConfigError
from region_factory.context import RegionContext

ENGINE = "aurora-postgresql"
PORT = 5432
# Changing the database name replaces the global cluster
# (https://github.com/hashicorp/terraform-provider-aws/issues/28187): a constant, not a setting.
DATABASE_NAME = "payments"
# The engine's error when DescribeDBEngineVersions lists nothing for the version (the version is
# deprecated, unknown, or not offered in the region).
VERSION_NOT_FOUND = "no RDS engine versions"
# The latest 13.x AWS still offers for new clusters (cfn-lint's engine data, 2026-08: 13.9 and 13.23).
SUGGESTED_VERSION = "13.23"
ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


def check_engine_version(ctx: RegionContext) -> aws.rds.GetEngineVersionResult:
    """Asks AWS (in this region) whether the configured version can still be created and joined to a
    global database, so that `pulumi preview`/`up` stops before any database resource with a message
    naming the setting, instead of failing half way through creating the clusters."""
    version = ctx.cfg.aurora_engine_version
    try:
        # include_all stays false: deprecated versions are then not listed, which is the point.
        found = aws.rds.get_engine_version(
            engine=ENGINE, version=version, opts=pulumi.InvokeOptions(provider=ctx.provider)
        )
    except Exception as error:  # the invoke raises a plain Exception carrying the provider's message
        if VERSION_NOT_FOUND not in str(error):
            raise
        raise ConfigError(
            [
                f"auroraEngineVersion={version!r}: Aurora PostgreSQL {version} cannot be used for new clusters in "
                f"{ctx.region} (AWS lists no such available version; minor versions are deprecated over time). "
                f"Choose a supported one, e.g. {SUGGESTED_VERSION}; list them with `aws rds describe-db-engine-versions "
                f"--engine {ENGINE} --region {ctx.region} --query 'DBEngineVersions[].EngineVersion'` "
                '(docs/data-tier.md, "Engine version")'
            ]
        ) from error
    if found.supports_global_databases is False:
        raise ConfigError(
            [
                f"auroraEngineVersion={version!r}: Aurora PostgreSQL {version} does not support Aurora Global Database "
                f"in {ctx.region}; choose another version, e.g. {SUGGESTED_VERSION}"
            ]
        )
    return found


@dataclass(frozen=True, kw_only=True)
class DatabaseAccessArgs:
    context: RegionContext
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]  # the subnet group's, one per AZ


class DatabaseAccess(pulumi.ComponentResource):
    subnet_group: aws.rds.SubnetGroup
    security_group: aws.ec2.SecurityGroup
    parameter_group: aws.rds.ClusterParameterGroup
    monitoring_role: aws.iam.Role

    def __init__(self, name: str, args: DatabaseAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:DatabaseAccess", name, None, opts)
        ctx = self.ctx = args.context
        engine = check_engine_version(ctx)
        self.subnet_group = aws.rds.SubnetGroup(
            ctx.logical("db-subnets"),
            name=ctx.name(naming.DB_SUBNET_GROUP),
            description="payment-dr Aurora: private subnets in three AZs",
            subnet_ids=list(args.private_subnet_ids),
            opts=ctx.child_opts(self),
        )
        self.security_group = aws.ec2.SecurityGroup(
            ctx.logical("db"),
            name=ctx.name(naming.DB_SECURITY_GROUP),
            description="payment-dr Aurora: PostgreSQL from peered VPCs and allowed app security groups only",
            vpc_id=args.vpc_id,
            # No egress: Aurora answers connections (stateful) and replicates at the storage layer,
            # outside this security group. Ingress rules are separate resources (postgres_ingress).
            egress=[],
            tags={"Name": ctx.name(naming.DB_SECURITY_GROUP)},
            opts=ctx.child_opts(self),
        )
        self.parameter_group = aws.rds.ClusterParameterGroup(
            ctx.logical("db-params"),
            name=ctx.name(naming.DB_PARAMETER_GROUP),
            family=engine.parameter_group_family,
            description="payment-dr Aurora PostgreSQL cluster parameters",
            parameters=cluster_parameters(ctx),
            opts=ctx.child_opts(self),
        )
        self.monitoring_role = aws.iam.Role(
            ctx.logical("rds-monitoring"),
            name=ctx.name(naming.DB_MONITORING_ROLE),
            assume_role_policy=iam.service_trust(
                "monitoring.rds.amazonaws.com", ctx.account_id, ctx.arn("rds", "db:*")
            ),
            opts=ctx.child_opts(self),
        )
        aws.iam.RolePolicyAttachment(
            ctx.logical("rds-monitoring"),
            role=self.monitoring_role.name,
            policy_arn=ENHANCED_MONITORING_POLICY,
            opts=ctx.child_opts(self),
        )
        self.register_outputs({"securityGroupId": self.security_group.id, "subnetGroup": self.subnet_group.name})

    def allow_postgres_from(self, label: str, source_security_group_id: pulumi.Input[str]) -> None:
        """Lets an app security group of this region (same VPC) reach PostgreSQL. The regional stack calls it
        with its other components' group ids, so no component needs this one to be built."""
        postgres_ingress(
            self.ctx,
            self.ctx.logical(f"db-from-{label}"),
            self.security_group.id,
            self,
            description=f"PostgreSQL from {label}",
            referenced_security_group_id=source_security_group_id,
        )


def postgres_ingress(
    ctx: RegionContext,
    logical: str,
    security_group_id: pulumi.Input[str],
    parent: pulumi.Resource,
    *,
    description: str,
    **source: pulumi.Input[str],
) -> aws.vpc.SecurityGroupIngressRule:
    """PostgreSQL into a region's database security group, built from its id: the global layer uses it for its
    links (a peered VPC's CIDR, the migrator's group) under its own components, so a new region only adds rules."""
    return aws.vpc.SecurityGroupIngressRule(
        logical,
        security_group_id=security_group_id,
        ip_protocol="tcp",
        from_port=PORT,
        to_port=PORT,
        description=description,
        opts=ctx.opts(parent),
        **source,
    )


def cluster_parameters(ctx: RegionContext) -> list[aws.rds.ClusterParameterGroupParameterArgs]:
    parameters = [
        # Card-holder data environment: TLS on every connection, refused without it.
        aws.rds.ClusterParameterGroupParameterArgs(name="rds.force_ssl", value="1", apply_method="immediate"),
    ]
    rpo = ctx.cfg.aurora_global_db_rpo_seconds
    if rpo:
        # Managed RPO (off by default, docs/data-tier.md): when every secondary lags more than this,
        # the primary blocks commits. Set in every region: it only acts on the current primary.
        parameters.append(
            aws.rds.ClusterParameterGroupParameterArgs(
                name="rds.global_db_rpo", value=str(rpo), apply_method="immediate"
            )
        )
    return parameters
