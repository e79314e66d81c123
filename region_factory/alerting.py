"""The region's failover-notification topic: every alarm and every DR action reports here."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from core import iam, naming
from region_factory.context import RegionContext


def topic_policy(ctx: RegionContext, topic_arn: pulumi.Output[str]) -> pulumi.Output[str]:
    dr_roles = [
        f"arn:aws:iam::{ctx.account_id}:role/{ctx.cfg.namer(spec)}"
        for spec in (naming.DR_OPERATOR_ROLE, naming.DR_AUTOMATION_ROLE)
    ]
    return iam.document(
        {
            # CloudWatch alarms of this account, Route 53 health-check alarms included.
            "Sid": "CloudWatchAlarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ctx.account_id},
                "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:*:{ctx.account_id}:alarm:*"},
            },
        },
        {
            # The DR tooling's roles. Matched by aws:PrincipalArn so the topic can exist before the roles.
            "Sid": "DrTooling",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ctx.account_id}:root"},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": dr_roles}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


class Alerts(pulumi.ComponentResource):
    def __init__(
        self,
        ctx: RegionContext,
        key: aws.kms.Key,
        parent: pulumi.Resource,
        topic: naming.NameSpec = naming.FAILOVER_TOPIC,
    ):
        super().__init__("payment-dr:region:Alerts", ctx.logical("alerts"), None, ctx.component_opts(parent))
        self.topic = aws.sns.Topic(
            ctx.logical("failover-events"),
            name=ctx.name(topic),
            kms_master_key_id=key.arn,
            opts=ctx.child_opts(self),
        )
        aws.sns.TopicPolicy(
            ctx.logical("failover-events"),
            arn=self.topic.arn,
            policy=topic_policy(ctx, self.topic.arn),
            opts=ctx.child_opts(self),
        )
        # E-mail subscriptions stay pending until each address confirms (an AWS rule).
        for index, email in enumerate(ctx.cfg.alert_emails):
            aws.sns.TopicSubscription(
                ctx.logical(f"failover-events-email-{index}"),
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=ctx.child_opts(self),
            )
        self.register_outputs({"topicArn": self.topic.arn})
