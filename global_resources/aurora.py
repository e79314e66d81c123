"""Aurora Global Database for PostgreSQL: one global cluster, a regional cluster in every region.

The cluster in the primary region is created with the master credentials (the password is the one
in the replicated secret) and owns the writer; every secondary joins the global cluster with no credentials
(https://github.com/pulumi/pulumi-aws/issues/3751, https://github.com/hashicorp/terraform-provider-aws/issues/26030),
storage encrypted with its own region's key (https://github.com/hashicorp/terraform-provider-aws/issues/13715), after
the primary exists. docs/data-tier.md explains lag, RPO and the switchover behaviour.

Planned switchover: do it with the API (`switchover-global-cluster`; doing it through IaC fights
the provider, https://github.com/hashicorp/terraform-provider-aws/issues/42919), then swap
primaryRegion/secondaryRegions in config. Logical names carry the region, never the role, and the
role-dependent inputs are ignored after creation, so `pulumi up` then changes tags only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from core import naming
from core.config import StackConfig
from core.providers import Providers
from global_resources.secrets import DATABASE_NAME, MASTER_USERNAME
from region_factory.database import ENGINE, PORT, postgres_ingress
from region_factory.outputs import RegionalOutputs
from region_factory.probe import allow_connect

# A primary needs a writer and a reader (an AZ failure then fails over inside the region), and any
# region can become primary through the config swap, which must neither add nor remove instances
# (docs/CONTRIBUTING-infra.md; tests/infra/test_data_tier_switchover.py). So every regional cluster
# is sized as a primary: max(2, auroraSecondaryInstances) instances. This also means a failed-over
# region carries the load with in-region HA from its first minute. docs/data-tier.md, "Sizing".
MIN_INSTANCES = 2
MONITORING_INTERVAL_SECONDS = 15
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7  # the free tier
FINAL_SNAPSHOT_ID_BYTES = 4

# Inputs that AWS or the provider change under us, or that only the cluster created as primary has.
# The same list on every cluster, so the definitions do not depend on the role.
CLUSTER_IGNORE_CHANGES = [
    # Only the cluster created as primary gets master credentials and the database name (secondaries must not:
    # https://github.com/pulumi/pulumi-aws/issues/3751,
    # https://github.com/hashicorp/terraform-provider-aws/issues/26030). After a switchover and the config swap, the
    # declared primary is a cluster created without them and the old primary still has them: ignored, or `pulumi up`
    # would replace both clusters (master_username and database_name force replacement). The master password therefore
    # changes through Secrets Manager + ModifyDBCluster, not through this program.
    "master_username",
    "master_password",
    "database_name",
    # A secondary reports its replication source; "removing" it promotes the cluster to a standalone one
    # (https://github.com/hashicorp/terraform-provider-aws/issues/14490,
    # https://github.com/hashicorp/terraform-provider-aws/issues/40921,
    # https://github.com/hashicorp/terraform-provider-aws/issues/43214).
    "replication_source_identifier",
    # Reads can come back without the global cluster id; applying "-> null" would detach the cluster from the global
    # database (https://github.com/hashicorp/terraform-provider-aws/issues/40921,
    # https://github.com/hashicorp/terraform-provider-aws/issues/43214).
    "global_cluster_identifier",
    # Engine version drift (https://github.com/pulumi/pulumi-aws/issues/5756): we pin the version in config and turn
    # automatic minor upgrades off on every instance. The global cluster owns the version: changing auroraEngineVersion
    # upgrades every member through the global cluster, secondaries first
    # (https://github.com/hashicorp/terraform-provider-aws/issues/30358,
    # https://github.com/hashicorp/terraform-provider-aws/issues/36107), and the provider's docs ask to ignore
    # engine_version on the member clusters so they do not race it.
    "engine_version",
]


@dataclass(frozen=True, kw_only=True)
class AuroraClusterRef:
    """One region's cluster as the rest of the program uses it."""

    identifier: pulumi.Output[str]
    arn: pulumi.Output[str]
    resource_id: pulumi.Output[str]  # what IAM database authentication names (rds-db:connect)
    endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]


@dataclass(frozen=True, kw_only=True)
class AuroraOutputs:
    """What the global database publishes to the other global components and the exports."""

    global_cluster_identifier: pulumi.Output[str]
    writer_endpoint: pulumi.Output[str]  # the global writer endpoint: Aurora moves it to the new writer
    clusters: Mapping[str, AuroraClusterRef]
    ready_global_cluster: pulumi.Resource
    ready_members: tuple[pulumi.Resource, ...]  # every region's cluster and instances


@dataclass(frozen=True, kw_only=True)
class AuroraRegionalClusterArgs:
    cfg: StackConfig
    region: RegionalOutputs
    global_cluster_identifier: pulumi.Input[str]
    # The primary is created with the master credentials; a secondary joins without them (None).
    master_password: pulumi.Input[str] | None
    ready_primary: Sequence[pulumi.Resource] = ()  # a secondary joins once the primary and its instances exist


class AuroraRegionalCluster(pulumi.ComponentResource):
    """One region's member of the global database (its cluster, instances and final-snapshot id), created once
    per DR role by AuroraGlobalDatabase: the primary with the credentials, each secondary joining after it.

    Its children were created directly under the global database before this component existed: each carries
    an alias to that URN (its own parent's), so `pulumi up` moves them without replacing anything
    (docs/CONTRIBUTING-infra.md).
    """

    cluster: aws.rds.Cluster
    instances: list[aws.rds.ClusterInstance]

    def __init__(self, name: str, args: AuroraRegionalClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:AuroraRegionalCluster", name, None, opts)
        self._moved_from = [pulumi.Alias(parent=opts.parent if opts else pulumi.ROOT_STACK_RESOURCE)]
        cfg, stack = args.cfg, args.region
        ctx, region = stack.context, stack.region
        credentials = (
            {}
            if args.master_password is None
            else {
                "master_username": MASTER_USERNAME,
                "master_password": args.master_password,
                "database_name": DATABASE_NAME,
            }
        )
        # A new random id per cluster incarnation: the final snapshot of a destroyed stack never blocks the destroy of a
        # re-created one (https://github.com/pulumi/pulumi-aws/issues/1276). Always set: a destroy with
        # skipFinalSnapshot=false and no identifier fails.
        snapshot_id = random.RandomId(
            f"aurora-{region}-final-snapshot",
            byte_length=FINAL_SNAPSHOT_ID_BYTES,
            opts=self._child(pulumi.ResourceOptions()),
        )
        self.cluster = aws.rds.Cluster(
            f"aurora-{region}",
            cluster_identifier=cfg.namer(naming.DB_CLUSTER, region),
            engine=ENGINE,
            engine_mode="provisioned",
            engine_version=cfg.aurora_engine_version,
            global_cluster_identifier=args.global_cluster_identifier,
            storage_encrypted=True,
            kms_key_id=stack.kms_key_arn,  # this region's key (https://github.com/hashicorp/terraform-provider-aws/issues/13715)
            db_subnet_group_name=stack.db_subnet_group_name,
            vpc_security_group_ids=[stack.db_security_group_id],
            db_cluster_parameter_group_name=stack.db_parameter_group_name,
            port=PORT,
            backup_retention_period=cfg.backup_retention_days,
            preferred_backup_window=cfg.preferred_backup_window,
            copy_tags_to_snapshot=True,
            deletion_protection=cfg.deletion_protection,
            skip_final_snapshot=cfg.skip_final_snapshot,
            final_snapshot_identifier=snapshot_id.hex.apply(
                lambda hex_id: cfg.namer.qualified(naming.DB_FINAL_SNAPSHOT, hex_id, region)
            ),
            enabled_cloudwatch_logs_exports=["postgresql"],
            # Application logins (the probe, the ledger poster) use IAM tokens, never a password: each has
            # its own database role with rds_iam (functions/ledger/migrations). On every cluster, so a
            # promoted secondary takes the same logins. Modifiable in place.
            # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.html
            iam_database_authentication_enabled=True,
            **credentials,
            opts=self._child(
                ctx.opts(
                    self,
                    depends_on=list(args.ready_primary),
                    ignore_changes=CLUSTER_IGNORE_CHANGES,
                    protect=cfg.deletion_protection,
                )
            ),
        )
        count = max(MIN_INSTANCES, cfg.aurora_secondary_instances)
        zones = stack.availability_zones
        self.instances = [
            aws.rds.ClusterInstance(
                f"aurora-{region}-{number}",
                identifier=cfg.namer.qualified(naming.DB_INSTANCE, str(number), region),
                cluster_identifier=self.cluster.cluster_identifier,
                engine=ENGINE,
                instance_class=cfg.aurora_instance_class,
                db_subnet_group_name=stack.db_subnet_group_name,
                availability_zone=zones[(number - 1) % len(zones)],  # writer and readers in different AZs
                publicly_accessible=False,
                auto_minor_version_upgrade=False,  # pinned version (https://github.com/pulumi/pulumi-aws/issues/5756)
                promotion_tier=0 if number == 1 else 1,
                monitoring_interval=MONITORING_INTERVAL_SECONDS,
                monitoring_role_arn=stack.db_monitoring_role_arn,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=stack.kms_key_arn,
                performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
                opts=self._child(ctx.opts(self)),
            )
            for number in range(1, count + 1)
        ]
        self.register_outputs({"clusterIdentifier": self.cluster.cluster_identifier, "endpoint": self.cluster.endpoint})

    def _child(self, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        """A child's options: under this component, known by its URN under the global database."""
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self, aliases=self._moved_from))

    @property
    def resources(self) -> tuple[pulumi.Resource, ...]:
        """The cluster and its instances: what a dependant of this member waits for."""
        return (self.cluster, *self.instances)

    def ref(self) -> AuroraClusterRef:
        cluster = self.cluster
        return AuroraClusterRef(
            identifier=cluster.cluster_identifier,
            arn=cluster.arn,
            resource_id=cluster.cluster_resource_id,
            endpoint=cluster.endpoint,
            reader_endpoint=cluster.reader_endpoint,
        )


@dataclass(frozen=True, kw_only=True)
class AuroraGlobalDatabaseArgs:
    cfg: StackConfig
    providers: Providers  # the global cluster's API region (providers.global_)
    regions: Mapping[str, RegionalOutputs]
    master_password: pulumi.Input[str]  # the replicated secret's (global_resources/secrets.py)


class AuroraGlobalDatabase(pulumi.ComponentResource):
    global_cluster: aws.rds.GlobalCluster
    members: dict[str, AuroraRegionalCluster]
    outputs: AuroraOutputs

    def __init__(self, name: str, args: AuroraGlobalDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:AuroraGlobalDatabase", name, None, opts)
        cfg = self.cfg = args.cfg
        self.regions = args.regions
        self.global_cluster = aws.rds.GlobalCluster(
            "aurora-global",
            global_cluster_identifier=cfg.namer(naming.GLOBAL_CLUSTER),
            engine=ENGINE,
            engine_version=cfg.aurora_engine_version,
            # Changing it replaces the global cluster: https://github.com/hashicorp/terraform-provider-aws/issues/28187
            database_name=DATABASE_NAME,
            storage_encrypted=True,
            deletion_protection=cfg.deletion_protection,
            # The global provider follows primaryRegion; the global cluster must not (its API region
            # moving would replace it), so its region is pinned to the data home region.
            region=cfg.data_home_region,
            opts=pulumi.ResourceOptions(parent=self, provider=args.providers.global_, protect=cfg.deletion_protection),
        )
        self.members = {}
        primary = cfg.primary.name
        self._member(primary, args.master_password, ready_primary=())
        # Secondaries join once the primary and its instances exist; the same edges make `pulumi destroy` delete the
        # secondaries first: a primary cannot be deleted while members remain
        # (https://github.com/hashicorp/terraform-provider-aws/issues/12499).
        for spec in cfg.secondaries:
            self._member(spec.name, None, ready_primary=self.members[primary].resources)
        self._peer_access()
        self.outputs = AuroraOutputs(
            global_cluster_identifier=self.global_cluster.global_cluster_identifier,
            writer_endpoint=self.global_cluster.endpoint,
            clusters={region: member.ref() for region, member in self.members.items()},
            ready_global_cluster=self.global_cluster,
            ready_members=tuple(resource for member in self.members.values() for resource in member.resources),
        )
        self.register_outputs(
            {
                "globalClusterIdentifier": self.global_cluster.global_cluster_identifier,
                "clusterEndpoints": {region: member.cluster.endpoint for region, member in self.members.items()},
            }
        )

    def _member(
        self, region: str, master_password: pulumi.Input[str] | None, ready_primary: tuple[pulumi.Resource, ...]
    ) -> None:
        stack = self.regions[region]
        member = AuroraRegionalCluster(
            f"aurora-{region}",
            AuroraRegionalClusterArgs(
                cfg=self.cfg,
                region=stack,
                global_cluster_identifier=self.global_cluster.global_cluster_identifier,
                master_password=master_password,
                ready_primary=ready_primary,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.members[region] = member
        # The probe's login on its own region's cluster: known once the cluster exists (region_factory/probe.py).
        allow_connect(stack.context, stack.probe_role_id, member.cluster, self)

    def _peer_access(self) -> None:
        """PostgreSQL from every other region's VPC (over the peering mesh), in every region: a cross-region
        link, so a resource of this layer on the region's published security group. Security groups cannot be
        referenced across regions, hence the peer's CIDR; a new region only adds rules."""
        for local in sorted(self.cfg.region_names):
            stack = self.regions[local]
            for peer in self.cfg.regions:
                if peer.name != local:
                    postgres_ingress(
                        stack.context,
                        f"db-{local}-from-{peer.name}",
                        stack.db_security_group_id,
                        self,
                        description=f"PostgreSQL from {peer.name} over VPC peering",
                        cidr_ipv4=peer.cidr,
                    )
