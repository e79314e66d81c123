"""The region's customer-managed KMS key: S3, DynamoDB replicas, Aurora, Secrets Manager replicas,
SNS and log groups in a region are encrypted with a key that lives in that same region, so a
regional outage elsewhere never takes a key this region needs (an encrypted Aurora secondary
must use a key in its own region, https://github.com/hashicorp/terraform-provider-aws/issues/13715)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import iam, naming
from region_factory.context import RegionContext


def key_policy(ctx: RegionContext) -> pulumi.Output[str]:
    account_root = f"arn:aws:iam::{ctx.account_id}:root"
    use = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    return iam.document(
        {
            # The account administers the key through IAM policies (AWS's default key policy);
            # without it the key could become unmanageable.
            "Sid": "AccountAdministersThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": account_root},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            # Encrypted log groups (flow logs, Lambda, API access logs) in this region only.
            "Sid": "CloudWatchLogsInThisRegion",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{ctx.region}.amazonaws.com"},
            "Action": use,
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": ctx.arn("logs", "log-group:*")}},
        },
        {
            # CloudWatch alarms publish to the KMS-encrypted failover topic. AWS's statement for event
            # sources publishing to encrypted topics ("Enable compatibility between event sources from AWS
            # services and encrypted topics",
            # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services;
            # for CloudWatch, knowledge center "cloudwatch-configure-alarm-sns") is this one; the condition is
            # AWS's confused-deputy guard for service principals, aws:SourceAccount
            # (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html,
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourceaccount):
            # only alarms of this account may have CloudWatch use the key. A condition the request did not
            # carry would silence every page, so docs/observability.md makes the first deployment prove
            # delivery with `aws cloudwatch set-alarm-state` (alarm history names a KMS AccessDenied otherwise).
            "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
        },
    )


@dataclass(frozen=True, kw_only=True)
class RegionalKeyArgs:
    context: RegionContext
    alias: naming.NameSpec = naming.KMS_KEY_ALIAS


class RegionalKey(pulumi.ComponentResource):
    key: aws.kms.Key
    alias: aws.kms.Alias

    def __init__(self, name: str, args: RegionalKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:Key", name, None, opts)
        ctx = args.context
        self.key = aws.kms.Key(
            ctx.logical("key"),
            description=f"payment-dr data in {ctx.region} ({ctx.cfg.environment_suffix})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(ctx),
            opts=ctx.child_opts(self),
        )
        self.alias = aws.kms.Alias(
            ctx.logical("key"), name=ctx.name(args.alias), target_key_id=self.key.key_id, opts=ctx.child_opts(self)
        )
        self.register_outputs({"keyArn": self.key.arn})
