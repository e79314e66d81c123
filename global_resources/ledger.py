"""The ledger's cross-region links and its migrations (docs/data-tier.md, "The ledger").

Per region (the same code for each): the poster's stream mapping on that region's replica of the
transactions table, its PostgreSQL egress to every other region's VPC (over the peering; security
groups cannot be referenced across regions, hence CIDRs), and one login grant per cluster
(`rds-db:connect` as `ledger_poster` on that cluster's resource id, and reading where it is), since
any cluster can become the writer. A new region only adds resources.

The migrator: one function in the data home region's VPC (pinned, so a switchover by config moves
nothing), run by `pulumi up` through `aws.lambda_.Invocation` whenever the migrations change
(triggers: their hash), after every cluster and the peering exist. A failed migration fails the
invocation, and so `pulumi up`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import iam, naming
from core.config import StackConfig
from functions.ledger import ledger_db
from global_resources.aurora import AuroraClusterRef, AuroraOutputs
from global_resources.secrets import DATABASE_NAME
from region_factory import lambda_runtime
from region_factory.database import PORT, postgres_ingress
from region_factory.ledger import egress
from region_factory.outputs import RegionalOutputs
from region_factory.service import vpc_access_statements

ACCEPTED_FILTER = {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": [ledger_db.ACCEPTED]}}}}
BATCH_SIZE = 100
BATCHING_WINDOW_SECONDS = 1
# Retries with bisection isolate a bad record in a 100-record batch in 7 splits; beyond that it goes
# to the on-failure queue (and its alarm) instead of holding up the shard.
MAXIMUM_RETRY_ATTEMPTS = 10
MAXIMUM_RECORD_AGE_SECONDS = 24 * 3600  # the stream's retention: nothing is given up earlier
MIGRATOR_HANDLER = "migrate.lambda_handler"
MIGRATOR_TIMEOUT_SECONDS = 300
MIGRATOR_MEMORY_MB = 256


def replica_stream_arn(cfg: StackConfig, table: aws.dynamodb.Table, region: str) -> pulumi.Output[str]:
    """The stream of `region`'s copy: the table's own in the data home region, else its replica's."""
    if region == cfg.data_home_region:
        return table.stream_arn
    return table.replicas.apply(lambda replicas: next(r.stream_arn for r in replicas or [] if r.region_name == region))


def login_policy(stack: RegionalOutputs, cluster_region: str, cluster: AuroraClusterRef) -> pulumi.Output[str]:
    ctx = stack.context
    cluster_arn = (
        f"arn:aws:rds:{cluster_region}:{ctx.account_id}:cluster:{ctx.cfg.namer(naming.DB_CLUSTER, cluster_region)}"
    )
    # rds-db:connect names the cluster's resource id and the database user (AuroraUserGuide,
    # UsingWithRDS.IAMDBAuth.IAMPolicy.html): this login on this cluster, nothing else.
    db_user = pulumi.Output.concat(
        f"arn:aws:rds-db:{cluster_region}:{ctx.account_id}:dbuser:",
        cluster.resource_id,
        f"/{ledger_db.POSTER_ROLE}",
    )
    return iam.document(
        iam.statement(["rds:DescribeDBClusters"], [cluster_arn], sid="FindTheWriterEndpoint"),
        iam.statement(["rds-db:connect"], [db_user], sid="LogInAsLedgerPoster"),
    )


@dataclass(frozen=True, kw_only=True)
class LedgerLinksArgs:
    cfg: StackConfig
    regions: Mapping[str, RegionalOutputs]
    aurora: AuroraOutputs  # each cluster (login grants), the writer endpoint, the members (migrations wait for them)
    transactions_stream_arns: Mapping[str, pulumi.Input[str]]  # region -> its replica's stream
    db_master_secret_arn: pulumi.Input[str]  # the migrator logs in as the master user
    ready_peerings: Sequence[pulumi.Resource]  # the migrator reaches every region's writer over them


class LedgerLinks(pulumi.ComponentResource):
    mappings: dict[str, aws.lambda_.EventSourceMapping]
    migrator: aws.lambda_.Function
    migration: aws.lambda_.Invocation

    def __init__(self, name: str, args: LedgerLinksArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:LedgerLinks", name, None, opts)
        self.cfg = args.cfg
        self.regions = args.regions
        self.mappings = {}
        network: list[pulumi.Resource] = list(args.ready_peerings)
        for region in self.cfg.region_names:
            network += self._poster_links(region, args.aurora, args.transactions_stream_arns[region])
        self._migrator(args.aurora, args.db_master_secret_arn, network)
        self.register_outputs({"migrations": [m.label for m in ledger_db.load_migrations()]})

    def _poster_links(self, region: str, aurora: AuroraOutputs, stream_arn: pulumi.Input[str]) -> list[pulumi.Resource]:
        stack = self.regions[region]
        ctx = stack.context
        rules: list[pulumi.Resource] = []
        for peer in self.cfg.regions:
            if peer.name != region:
                rules.append(
                    egress(
                        ctx,
                        f"ledger-{region}-to-{peer.name}-db",
                        stack.ledger_security_group_id,
                        self,
                        port=PORT,
                        cidr=peer.cidr,
                        description=f"PostgreSQL to {peer.name} over VPC peering (when its cluster is the writer)",
                    )
                )
        grants = [
            aws.iam.RolePolicy(
                f"ledger-{region}-login-{cluster_region}",
                role=stack.ledger_role_id,
                policy=login_policy(stack, cluster_region, cluster),
                opts=ctx.opts(self),
            )
            for cluster_region, cluster in aurora.clusters.items()
        ]
        self.mappings[region] = aws.lambda_.EventSourceMapping(
            f"ledger-{region}-stream",
            event_source_arn=stream_arn,
            function_name=stack.ledger_function_arn,
            # The whole retained stream on creation: posting is idempotent, and nothing accepted before
            # the mapping existed is skipped.
            starting_position="TRIM_HORIZON",
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=BATCHING_WINDOW_SECONDS,
            filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                filters=[
                    aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(
                        pattern=json.dumps(ACCEPTED_FILTER, sort_keys=True)
                    )
                ]
            ),
            function_response_types=["ReportBatchItemFailures"],
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=MAXIMUM_RETRY_ATTEMPTS,
            maximum_record_age_in_seconds=MAXIMUM_RECORD_AGE_SECONDS,
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=stack.ledger_failure_queue_arn
                )
            ),
            opts=ctx.opts(self, depends_on=[stack.ready_ledger_role_policy]),
        )
        return [*rules, *grants]

    def _migrator(
        self, aurora: AuroraOutputs, db_master_secret_arn: pulumi.Input[str], network: list[pulumi.Resource]
    ) -> None:
        cfg = self.cfg
        home = self.regions[cfg.data_home_region]
        ctx = home.context
        name = ctx.name(naming.LEDGER_MIGRATOR_FUNCTION)
        group = aws.ec2.SecurityGroup(
            f"ledger-migrator-{ctx.region}",
            name=ctx.name(naming.LEDGER_MIGRATOR_SG),
            description="payment-dr ledger migrator: no inbound; PostgreSQL to the writer (any region's VPC), HTTPS out",
            vpc_id=home.vpc_id,
            tags={"Name": ctx.name(naming.LEDGER_MIGRATOR_SG)},
            opts=ctx.opts(self),
        )
        rules: list[pulumi.Resource] = [
            egress(
                ctx,
                "ledger-migrator-https",
                group.id,
                self,
                port=lambda_runtime.HTTPS,
                cidr="0.0.0.0/0",
                description="Secrets Manager over HTTPS",
            )
        ]
        rules += [
            egress(
                ctx,
                f"ledger-migrator-to-{spec.name}-db",
                group.id,
                self,
                port=PORT,
                cidr=spec.cidr,
                description=f"PostgreSQL to {spec.name} (when its cluster is the writer)",
            )
            for spec in cfg.regions
        ]
        postgres_ingress(
            ctx,
            ctx.logical("db-from-ledger-migrator"),
            home.db_security_group_id,
            self,
            description="PostgreSQL from ledger-migrator",
            referenced_security_group_id=group.id,
        )
        log_group = ctx.log_group("ledger-migrator", f"/aws/lambda/{name}", home.kms_key_arn, self)
        role, policy = lambda_runtime.execution_role(
            f"ledger-migrator-{ctx.region}",
            name=ctx.name(naming.LEDGER_MIGRATOR_ROLE),
            policy=iam.document(
                iam.own_log_group(log_group.arn),
                # The master secret's primary copy: the migrator is its only user besides the database probe.
                iam.statement(["secretsmanager:GetSecretValue"], [db_master_secret_arn], sid="MasterSecret"),
                iam.statement(
                    ["kms:Decrypt"],
                    [home.kms_key_arn],
                    sid="HomeKeyThroughSecretsManager",
                    conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{ctx.region}.amazonaws.com"}},
                ),
                *vpc_access_statements(ctx),
            ),
            opts=ctx.opts(self),
        )
        self.migrator = lambda_runtime.function_in_vpc(
            ctx,
            f"ledger-migrator-{ctx.region}",
            self,
            name=name,
            description="payment-dr ledger migrator: applies functions/ledger/migrations to the writer (run by pulumi up)",
            role=role,
            code=home.ledger_bundle,
            handler=MIGRATOR_HANDLER,
            memory_mb=MIGRATOR_MEMORY_MB,
            timeout_seconds=MIGRATOR_TIMEOUT_SECONDS,
            reserved_concurrency=1,
            variables={
                "DB_SECRET_NAME": cfg.namer(naming.DB_MASTER_SECRET),
                "DB_HOST": aurora.writer_endpoint,
                "DB_PORT": str(PORT),
                "DB_NAME": DATABASE_NAME,
                "DB_SSL_MODE": "require",
            },
            subnet_ids=list(home.private_subnet_ids),
            security_group=group,
            log_group=log_group,
            role_policy=policy,
        )
        migrations = ledger_db.load_migrations()
        self.migration = aws.lambda_.Invocation(
            f"ledger-migrations-{ctx.region}",
            function_name=self.migrator.name,
            input=json.dumps({"migrations": [m.label for m in migrations]}),
            # Re-run (a replacement of this resource invokes again) exactly when a migration is added or changed.
            triggers={"migrations": ledger_db.migrations_hash(migrations)},
            opts=ctx.opts(self, depends_on=[*aurora.ready_members, *rules, *network]),
        )
