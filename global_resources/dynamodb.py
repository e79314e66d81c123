"""DynamoDB global tables (version 2019.11.21): transactions and acceptance (idempotency) records.

Every region holds a full, writable replica. The table resource lives in the data home region, with a
replica in every other region; none of it depends on the DR role, so a change of primaryRegion
changes nothing here but the replicas' DR-Role tag values.

- `transactions`: multi-Region eventual consistency (MREC: last writer wins, replication typically
  within a second). Its stream feeds the ledger; it holds copies, never the deciding write.
- `idempotency`: the acceptance records, the one write that decides whether a payment is new. With
  `dynamodbConsistency: strong` it is multi-Region strongly consistent (MRSC): conditional writes see
  the latest item in every region, RPO 0. MRSC's limits shape it (docs/data-tier.md, "Exactly-once";
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html):
  exactly three regions of one region set (a witness with two), no TTL (acceptances never expire
  anyway), no transactions (so the transaction item cannot be written in one transaction with it),
  no LSI, no stream needed (MRSC does not replicate through streams; nothing consumes this one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import naming, tags
from core.config import Consistency, StackConfig
from global_resources.secrets import replica_regions
from region_factory.outputs import RegionalOutputs


@dataclass(frozen=True)
class TableDesign:
    kind: str
    name: naming.NameSpec
    hash_key: str
    attributes: tuple[str, ...]
    indexes: tuple[aws.dynamodb.TableGlobalSecondaryIndexArgs, ...] = ()
    # Whether the table may be multi-Region strongly consistent (dynamodbConsistency decides).
    strong: bool = False


# What functions/payment_validation expects (docs/payment-validation.md, "Configuration").
TRANSACTIONS = TableDesign(
    kind="transactions",
    name=naming.TRANSACTIONS_TABLE,
    hash_key="transaction_id",
    attributes=("transaction_id", "merchant_id", "created_at"),
    indexes=(
        aws.dynamodb.TableGlobalSecondaryIndexArgs(
            name="merchant-time-index",
            key_schemas=[
                aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name="merchant_id", key_type="HASH"),
                aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name="created_at", key_type="RANGE"),
            ],
            projection_type="ALL",
        ),
    ),
)
# Acceptance records (functions/payment_validation/payment_store.py): key `id`, never expire, no TTL.
IDEMPOTENCY = TableDesign(
    kind="idempotency", name=naming.IDEMPOTENCY_TABLE, hash_key="id", attributes=("id",), strong=True
)


@dataclass(frozen=True, kw_only=True)
class GlobalTablesArgs:
    cfg: StackConfig
    regions: Mapping[str, RegionalOutputs]  # each region's key encrypts its replica


class GlobalTables(pulumi.ComponentResource):
    transactions: aws.dynamodb.Table
    idempotency: aws.dynamodb.Table

    def __init__(self, name: str, args: GlobalTablesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:GlobalTables", name, None, opts)
        self.cfg = args.cfg
        self.regions = args.regions
        self.transactions = self._table(TRANSACTIONS)
        self.idempotency = self._table(IDEMPOTENCY)
        self.register_outputs({"transactionsTable": self.transactions.name, "idempotencyTable": self.idempotency.name})

    def _table(self, design: TableDesign) -> aws.dynamodb.Table:
        cfg = self.cfg
        home = self.regions[cfg.data_home_region]
        name = cfg.namer(design.name)
        strong = design.strong and cfg.dynamodb_consistency is Consistency.STRONG
        if design.strong and cfg.dynamodb_consistency_note:
            pulumi.log.warn(f'{name}: {cfg.dynamodb_consistency_note} (docs/data-tier.md, "Exactly-once")')
        table = aws.dynamodb.Table(
            f"dynamodb-{design.kind}",
            name=name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=design.hash_key,
            attributes=[aws.dynamodb.TableAttributeArgs(name=attribute, type="S") for attribute in design.attributes],
            global_secondary_indexes=list(design.indexes) or None,
            # MREC global tables replicate through streams (always on for them); NEW_AND_OLD_IMAGES also
            # serves the ledger. MRSC replicates without streams and nothing reads this one's.
            stream_enabled=not strong,
            stream_view_type=None if strong else "NEW_AND_OLD_IMAGES",
            # Two replicas and a witness (two regions), or three replicas and none.
            global_table_witness=(
                aws.dynamodb.TableGlobalTableWitnessArgs(region_name=cfg.dynamodb_witness_region)
                if strong and cfg.dynamodb_witness_region
                else None
            ),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            # The home region's key on the table, each region's own key on its replica. Every replica needs its key from
            # the start ("KMSMasterKeyId must be specified for each replica"), and changing a replica's key or PITR
            # later recreates that replica (https://github.com/hashicorp/terraform-provider-aws/issues/29102,
            # https://github.com/hashicorp/terraform-provider-aws/issues/29222): both are set at creation and never
            # toggled.
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=home.kms_key_arn
            ),
            deletion_protection_enabled=cfg.deletion_protection,
            replicas=[
                aws.dynamodb.TableReplicaArgs(
                    region_name=region,
                    kms_key_arn=self.regions[region].kms_key_arn,
                    point_in_time_recovery=True,
                    deletion_protection_enabled=cfg.deletion_protection,
                    consistency_mode="STRONG" if strong else "EVENTUAL",
                    # Propagating would copy the home table's Region/DR-Role tags to every replica;
                    # each replica is tagged in its own region below instead.
                    propagate_tags=False,
                )
                for region in replica_regions(cfg)
            ],
            opts=home.context.opts(self, protect=cfg.deletion_protection),
        )
        for region in replica_regions(cfg):
            self._tag_replica(table, name, region, design.kind)
        return table

    def _tag_replica(self, table: aws.dynamodb.Table, name: str, region: str, kind: str) -> None:
        """Provider default_tags reach the home table only; replicas are tagged through their own
        region's API, with that region's Environment/Region/DR-Role."""
        stack = self.regions[region]
        replica_arn = stack.context.arn("dynamodb", f"table/{name}")
        for key, value in tags.for_region(self.cfg, region, self.cfg.region(region).role).items():
            aws.dynamodb.Tag(
                f"dynamodb-{kind}-{region}-tag-{key}",
                resource_arn=replica_arn,
                key=key,
                value=value,
                opts=stack.context.opts(self, depends_on=[table]),
            )
