"""The region's customer-managed KMS key: S3, DynamoDB replicas, Aurora, Secrets Manager replicas,
SNS and log groups in a region are encrypted with a key that lives in that same region, so a
regional outage elsewhere never takes a key this region needs (an encrypted Aurora secondary
must use a key in its own region, tf#13715)."""

from __future__ import annotations

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
            # CloudWatch alarms publish to the KMS-encrypted failover topic. AWS's documented statement
            # (knowledge center "cloudwatch-configure-alarm-sns") has no condition, and alarms reportedly
            # fail to publish under conditions SNS's KMS calls do not carry: a lost page is the worst
            # failure here. Other accounts' alarms are kept out by the topic policy (aws:SourceAccount).
            "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    )


class RegionalKey(pulumi.ComponentResource):
    def __init__(self, ctx: RegionContext, parent: pulumi.Resource, alias: naming.NameSpec = naming.KMS_KEY_ALIAS):
        super().__init__("payment-dr:region:Key", ctx.logical("key"), None, pulumi.ResourceOptions(parent=parent))
        self.key = aws.kms.Key(
            ctx.logical("key"),
            description=f"payment-dr data in {ctx.region} ({ctx.cfg.environment_suffix})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(ctx),
            opts=ctx.opts(self),
        )
        self.alias = aws.kms.Alias(
            ctx.logical("key"), name=ctx.name(alias), target_key_id=self.key.key_id, opts=ctx.opts(self)
        )
        self.register_outputs({"keyArn": self.key.arn})
