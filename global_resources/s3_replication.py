"""S3 cross-region replication of the audit and receipts buckets, every region to every other one.

The brief asks primary -> each secondary and each secondary -> primary. With two regions that is
exactly what this builds; with more, a full mesh is the version of it that does not depend on the
DR role: S3 never re-replicates a replica, so a secondary -> primary -> other-secondary chain would
strand a failed-over region's writes in the primary, and role-based rules would change on every
switchover. Every rule: Replication Time Control (15 minutes, the only value) with replication
metrics, SSE-KMS objects re-encrypted with the destination region's key, replica modification
sync (two-way metadata), no delete-marker replication (docs/data-tier.md, "S3").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from core import alarms, iam, naming
from core.config import KNOWN_REGIONS
from region_factory.outputs import RegionalOutputs
from region_factory.storage import AUDIT, KINDS

RTC_MINUTES = 15  # S3 Replication Time Control accepts only 15
# Rule priorities must differ within a configuration; deriving them from a fixed region order keeps
# a rule's priority unchanged when regions are added.
REGION_ORDER = sorted(KNOWN_REGIONS)


def replication_rule(destination: RegionalOutputs, kind: str) -> aws.s3.BucketReplicationConfigRuleArgs:
    return aws.s3.BucketReplicationConfigRuleArgs(
        id=alarms.replication_rule_id(destination.region),
        status="Enabled",
        priority=REGION_ORDER.index(destination.region) + 1,
        # Every object. A filter makes this a V2 rule (needed for RTC and delete-marker settings); an empty one can be
        # dropped on the way and the request fails as MalformedXML
        # (https://github.com/pulumi/pulumi-aws-native/issues/187,
        # https://github.com/hashicorp/terraform-provider-aws/issues/23206), so it says prefix "" explicitly.
        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
        # Not replicated: a delete (a mistake, or stolen credentials) in one region must not hide the
        # object everywhere; the other regions' copies are the protection. Lifecycle expirations and
        # version deletes are never replicated anyway.
        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Disabled"),
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                status="Enabled"
            ),
            # Two-way replication: metadata/tag/lock changes made on a replica flow back.
            replica_modifications=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaReplicaModificationsArgs(
                status="Enabled"
            ),
        ),
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=destination.bucket_arns[kind],
            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=destination.kms_key_arn,
            ),
            replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status="Enabled",
                time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=RTC_MINUTES),
            ),
            metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                status="Enabled",
                event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                    minutes=RTC_MINUTES
                ),
            ),
        ),
    )


def _objects(arn: pulumi.Output[str]) -> pulumi.Output[str]:
    return arn.apply(lambda value: f"{value}/*")


def _bucket_context(stack: RegionalOutputs) -> list[Any]:
    """SSE-KMS encryption context of a region's buckets: the bucket ARN when S3 Bucket Keys are on
    (they are), the object ARN otherwise."""
    arns = [stack.bucket_arns[kind] for kind in KINDS]
    return [*arns, *(_objects(arn) for arn in arns)]


def source_policy(source: RegionalOutputs) -> pulumi.Output[str]:
    """Reading what to replicate: exactly the source region's two buckets and its key."""
    buckets = source.bucket_arns
    return iam.document(
        iam.statement(
            ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            [buckets[kind] for kind in KINDS],
            sid="ReadSourceConfiguration",
        ),
        iam.statement(
            ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            [_objects(buckets[kind]) for kind in KINDS],
            sid="ReadSourceVersions",
        ),
        # Object Lock retention and legal holds travel with the audit objects.
        iam.statement(
            ["s3:GetObjectRetention", "s3:GetObjectLegalHold"], [_objects(buckets[AUDIT])], sid="ReadSourceLocks"
        ),
        iam.statement(
            ["kms:Decrypt"],
            [source.kms_key_arn],
            sid="DecryptSource",
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{source.region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": _bucket_context(source)},
            },
        ),
    )


def destination_policy(destination: RegionalOutputs) -> pulumi.Output[str]:
    """Writing replicas: exactly one destination region's two buckets and its key. One policy per
    destination, so that a new region adds a policy instead of changing the existing ones."""
    return iam.document(
        # No s3:ReplicateDelete: delete markers are not replicated.
        iam.statement(
            ["s3:ReplicateObject", "s3:ReplicateTags"],
            [_objects(destination.bucket_arns[kind]) for kind in KINDS],
            sid="WriteReplicas",
        ),
        iam.statement(
            ["kms:Encrypt", "kms:GenerateDataKey"],
            [destination.kms_key_arn],
            sid="EncryptReplicas",
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{destination.region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": _bucket_context(destination)},
            },
        ),
    )


@dataclass(frozen=True, kw_only=True)
class BucketReplicationArgs:
    regions: Mapping[str, RegionalOutputs]  # every region's buckets replicate to every other region's


class BucketReplication(pulumi.ComponentResource):
    roles: dict[str, aws.iam.Role]
    configs: dict[tuple[str, str], aws.s3.BucketReplicationConfig]

    def __init__(self, name: str, args: BucketReplicationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:BucketReplication", name, None, opts)
        regions = args.regions
        self.roles = {}
        self.configs = {}
        for source in sorted(regions):
            destinations = [regions[name] for name in sorted(regions) if name != source]
            self._replicate(regions[source], destinations)
        self.register_outputs({"roleArns": {region: role.arn for region, role in self.roles.items()}})

    def _replicate(self, source: RegionalOutputs, destinations: list[RegionalOutputs]) -> None:
        ctx = source.context
        role = aws.iam.Role(
            f"s3-replication-{source.region}",
            name=ctx.name(naming.S3_REPLICATION_ROLE),
            assume_role_policy=iam.service_trust("s3.amazonaws.com", ctx.account_id),
            opts=ctx.opts(self),
        )
        policies = [
            aws.iam.RolePolicy(
                f"s3-replication-{source.region}", role=role.id, policy=source_policy(source), opts=ctx.opts(self)
            ),
            *(
                aws.iam.RolePolicy(
                    f"s3-replication-{source.region}-to-{stack.region}",
                    role=role.id,
                    policy=destination_policy(stack),
                    opts=ctx.opts(self),
                )
                for stack in destinations
            ),
        ]
        self.roles[source.region] = role
        for index, kind in enumerate(KINDS):
            # S3 refuses a replication configuration until both sides are versioned.
            versionings = [
                source.ready_bucket_versionings[index],
                *(stack.ready_bucket_versionings[index] for stack in destinations),
            ]
            self.configs[(source.region, kind)] = aws.s3.BucketReplicationConfig(
                f"s3-replication-{kind}-{source.region}",
                bucket=source.bucket_names[kind],
                role=role.arn,
                rules=[replication_rule(stack, kind) for stack in destinations],
                opts=ctx.opts(self, depends_on=[*versionings, *policies]),
            )
