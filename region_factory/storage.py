"""The region's buckets: audit logs and transaction receipts, each private, versioned and SSE-KMS
encrypted with the region's own key, and the access-log bucket that receives both buckets' S3 server
access logs. Replication between the regions' buckets is linked in
``global_resources/s3_replication.py``; docs/data-tier.md explains the choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from core import iam, naming
from region_factory.context import RegionContext

AUDIT = "audit"
RECEIPTS = "receipts"
KINDS = (AUDIT, RECEIPTS)
NAMES = {AUDIT: naming.AUDIT_BUCKET, RECEIPTS: naming.RECEIPTS_BUCKET}

# Receipts' old versions (a replayed request rewrites the same key) are kept 90 days.
RECEIPTS_NONCURRENT_DAYS = 90
# Audit objects move to cheaper classes as they age (PCI DSS: the last three months immediately
# available, a year in total: Glacier Instant Retrieval is still immediate, Deep Archive is for the rest).
AUDIT_TRANSITIONS = ((30, "STANDARD_IA"), (90, "GLACIER_IR"), (365, "DEEP_ARCHIVE"))
NONCURRENT_TRANSITION = (30, "STANDARD_IA")
# S3's default since 2024, stated so nobody "fixes" it: objects under 128 KiB (the Lambda's one-
# payment JSON records) stay in STANDARD, where they are cheaper than in IA/Glacier (per-object
# transition fees and minimum billable sizes); only larger objects (exports, batches) transition.
MINIMUM_TRANSITION_SIZE = "all_storage_classes_128K"

# S3 server access logging (docs/data-tier.md, "Access trail"). The log bucket's constraints are S3's
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html): same region and
# account as the source; default encryption SSE-S3 only ("SSE-KMS is not supported"); no Object Lock;
# with BucketOwnerEnforced, delivery is granted to logging.s3.amazonaws.com by bucket policy, not by ACL.
LOGGING_SERVICE = "logging.s3.amazonaws.com"
ACCESS_LOG_ALGORITHM = "AES256"
# Log objects are small and many: no storage-class transitions, only expiry. Deleted or overwritten log
# objects stay recoverable (versioning) for as long as the logs themselves are kept.
ABORT_UPLOADS_DAYS = 7


def access_log_prefix(kind: str) -> str:
    return f"{kind}/"


def _deny(sid: str, actions: list[str], resources: list[Any], conditions: dict[str, Any]) -> dict[str, Any]:
    return {**iam.statement(actions, resources, sid=sid, effect="Deny", conditions=conditions), "Principal": "*"}


def bucket_policy(bucket_arn: pulumi.Output[str], key_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Deny-only: same-account access (the Lambda, the replication role) is granted by IAM policies,
    so an Allow here would only widen access. Replication writes over TLS with this region's key."""
    objects = bucket_arn.apply(lambda arn: f"{arn}/*")
    return iam.document(
        _deny("DenyInsecureTransport", ["s3:*"], [bucket_arn, objects], {"Bool": {"aws:SecureTransport": "false"}}),
        # Uploads naming another encryption (SSE-S3, another key) are refused; uploads naming none get
        # the bucket default (this key). Null=false: the condition applies only when the header is sent.
        _deny(
            "DenyOtherEncryption",
            ["s3:PutObject"],
            [objects],
            {
                "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                "Null": {"s3:x-amz-server-side-encryption": "false"},
            },
        ),
        _deny(
            "DenyOtherKmsKey",
            ["s3:PutObject"],
            [objects],
            {
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn},
                "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
            },
        ),
    )


def access_log_policy(
    bucket_arn: pulumi.Output[str], account_id: str, sources: dict[str, pulumi.Output[str]]
) -> pulumi.Output[str]:
    """The log bucket's policy: S3's logging service may write each source bucket's logs under that
    source's prefix, for this account's bucket only (aws:SourceArn/aws:SourceAccount, as AWS's example);
    everyone else only over TLS. The logging service is exempt from the TLS deny: AWS warns that a Deny
    in the target's policy can stop delivery, and it does not say how the service writes."""
    objects = bucket_arn.apply(lambda arn: f"{arn}/*")
    grants = [
        {
            **iam.statement(
                ["s3:PutObject"],
                [bucket_arn.apply(lambda arn, k=kind: f"{arn}/{access_log_prefix(k)}*")],
                sid=f"ServerAccessLogsFrom{kind.capitalize()}",
                conditions={
                    "ArnLike": {"aws:SourceArn": source_arn},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            ),
            "Principal": {"Service": LOGGING_SERVICE},
        }
        for kind, source_arn in sources.items()
    ]
    return iam.document(
        *grants,
        _deny(
            "DenyInsecureTransport",
            ["s3:*"],
            [bucket_arn, objects],
            {
                "Bool": {"aws:SecureTransport": "false"},
                "StringNotEquals": {"aws:PrincipalServiceName": LOGGING_SERVICE},
            },
        ),
    )


def access_log_lifecycle(ctx: RegionContext) -> list[dict[str, Any]]:
    """Kept as long as the audit records they account for (auditRetentionDays), then gone."""
    days = ctx.cfg.audit_retention_days
    return [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_UPLOADS_DAYS},
        },
        {
            "id": "retention",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": days},
            "noncurrent_version_expiration": {"noncurrent_days": days},
        },
    ]


def lifecycle_rules(ctx: RegionContext, kind: str) -> list[dict[str, Any]]:
    noncurrent_days = ctx.cfg.audit_retention_days if kind == AUDIT else RECEIPTS_NONCURRENT_DAYS
    rules: list[dict[str, Any]] = [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        },
        {
            # Old versions: cheaper storage, then gone. Object Lock keeps locked audit versions
            # until their retention ends whatever this rule says.
            "id": "noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_transitions": [
                {"noncurrent_days": NONCURRENT_TRANSITION[0], "storage_class": NONCURRENT_TRANSITION[1]}
            ],
            "noncurrent_version_expiration": {"noncurrent_days": max(noncurrent_days, NONCURRENT_TRANSITION[0] + 1)},
            "expiration": {"expired_object_delete_marker": True},
        },
    ]
    if kind == AUDIT:
        rules.append(
            {
                "id": "audit-storage-classes",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "transitions": [
                    {"days": days, "storage_class": storage_class} for days, storage_class in AUDIT_TRANSITIONS
                ],
            }
        )
    return rules


@dataclass(frozen=True, kw_only=True)
class BucketRef:
    """A bucket as another component uses it: its name (SDK calls) and ARN (policies)."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class RegionalStorageArgs:
    context: RegionContext
    kms_key_arn: pulumi.Input[str]  # the data buckets' default encryption (SSE-KMS)


class RegionalStorage(pulumi.ComponentResource):
    buckets: dict[str, aws.s3.Bucket]  # by kind (KINDS)
    audit_bucket: aws.s3.Bucket
    receipts_bucket: aws.s3.Bucket
    access_log_bucket: aws.s3.Bucket
    # In KINDS order; replication depends on both sides' versioning.
    versionings: list[aws.s3.BucketVersioning]

    def __init__(self, name: str, args: RegionalStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:Storage", name, None, opts)
        self.ctx = args.context
        self.buckets = {}
        self.versionings = []
        for kind in KINDS:
            bucket, versioning = self._bucket(kind, args.kms_key_arn)
            self.buckets[kind] = bucket
            self.versionings.append(versioning)
        self.audit_bucket = self.buckets[AUDIT]
        self.receipts_bucket = self.buckets[RECEIPTS]
        self.access_log_bucket = self._access_logs()
        self.register_outputs(
            {
                **{f"{kind}Bucket": bucket.bucket for kind, bucket in self.buckets.items()},
                "accessLogBucket": self.access_log_bucket.bucket,
            }
        )

    def _private_and_versioned(
        self, name: str, bucket: aws.s3.Bucket
    ) -> tuple[aws.s3.BucketPublicAccessBlock, aws.s3.BucketVersioning]:
        """What every bucket of the stack has: no public access, no ACLs (the bucket owner owns every object),
        versioning."""
        ctx = self.ctx
        opts = ctx.child_opts(self)
        access = aws.s3.BucketPublicAccessBlock(
            ctx.logical(name),
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=opts,
        )
        aws.s3.BucketOwnershipControls(
            ctx.logical(name),
            bucket=bucket.bucket,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=opts,
        )
        versioning = aws.s3.BucketVersioning(
            ctx.logical(name),
            bucket=bucket.bucket,
            versioning_configuration={"status": "Enabled"},
            opts=opts,
        )
        return access, versioning

    def _access_logs(self) -> aws.s3.Bucket:
        """The region's access-log bucket, and server access logging of every data bucket into it."""
        ctx = self.ctx
        name = "access-log-bucket"
        bucket = aws.s3.Bucket(
            ctx.logical(name),
            bucket=ctx.name(naming.ACCESS_LOG_BUCKET),
            force_destroy=not ctx.cfg.deletion_protection,
            opts=ctx.child_opts(self, protect=ctx.cfg.deletion_protection),
        )
        opts = ctx.child_opts(self)
        access, versioning = self._private_and_versioned(name, bucket)
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            ctx.logical(name),
            bucket=bucket.bucket,
            # SSE-S3: the only default encryption S3 delivers server access logs into (LOGGING_SERVICE above).
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": ACCESS_LOG_ALGORITHM}}],
            opts=opts,
        )
        policy = aws.s3.BucketPolicy(
            ctx.logical(name),
            bucket=bucket.bucket,
            policy=access_log_policy(
                bucket.arn, ctx.account_id, {kind: source.arn for kind, source in self.buckets.items()}
            ),
            opts=ctx.child_opts(self, depends_on=[access]),
        )
        aws.s3.BucketLifecycleConfiguration(
            ctx.logical(name),
            bucket=bucket.bucket,
            rules=access_log_lifecycle(ctx),
            opts=ctx.child_opts(self, depends_on=[versioning]),
        )
        for kind, source in self.buckets.items():
            aws.s3.BucketLogging(
                ctx.logical(f"{kind}-bucket"),
                bucket=source.bucket,
                target_bucket=bucket.bucket,
                target_prefix=access_log_prefix(kind),
                # <prefix><account>/<region>/<bucket>/YYYY/MM/DD/...: partitioned by the request's time, for Athena.
                target_object_key_format={"partitioned_prefix": {"partition_date_source": "EventTime"}},
                # Logging starts once delivery is allowed and the objects will be encrypted as S3 requires.
                opts=ctx.child_opts(self, depends_on=[policy, encryption]),
            )
        return bucket

    def ref(self, kind: str) -> BucketRef:
        bucket = self.buckets[kind]
        return BucketRef(name=bucket.bucket, arn=bucket.arn)

    def _bucket(self, kind: str, kms_key_arn: pulumi.Input[str]) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        ctx = self.ctx
        cfg = ctx.cfg
        name = f"{kind}-bucket"
        locked = kind == AUDIT
        bucket = aws.s3.Bucket(
            ctx.logical(name),
            bucket=ctx.name(NAMES[kind]),
            # Object Lock is set at creation (the provider replaces the bucket to change it); every
            # region's audit bucket has it, as S3 requires of a replication destination when the
            # source has it. docs/data-tier.md, "Object Lock".
            object_lock_enabled=locked,
            # Test stacks (deletionProtection=false) can be torn down with their objects; production
            # buckets cannot be deleted while they hold anything.
            force_destroy=not cfg.deletion_protection,
            opts=ctx.child_opts(self, protect=cfg.deletion_protection),
        )
        opts = ctx.child_opts(self)
        access, versioning = self._private_and_versioned(name, bucket)
        aws.s3.BucketServerSideEncryptionConfiguration(
            ctx.logical(name),
            bucket=bucket.bucket,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": kms_key_arn,
                    },
                    # One KMS request per bucket-level key instead of one per object: cheaper, fewer throttles.
                    "bucket_key_enabled": True,
                }
            ],
            opts=opts,
        )
        aws.s3.BucketPolicy(
            ctx.logical(name),
            bucket=bucket.bucket,
            policy=bucket_policy(bucket.arn, kms_key_arn),
            opts=ctx.child_opts(self, depends_on=[access]),
        )
        aws.s3.BucketLifecycleConfiguration(
            ctx.logical(name),
            bucket=bucket.bucket,
            rules=lifecycle_rules(ctx, kind),
            transition_default_minimum_object_size=MINIMUM_TRANSITION_SIZE,
            opts=ctx.child_opts(self, depends_on=[versioning]),
        )
        if locked:
            aws.s3.BucketObjectLockConfiguration(
                ctx.logical(name),
                bucket=bucket.bucket,
                rule={
                    "default_retention": {"mode": cfg.audit_object_lock_mode.value, "days": cfg.audit_retention_days}
                },
                opts=ctx.child_opts(self, depends_on=[versioning]),
            )
        return bucket, versioning
