"""The region's failover-notification topic: every alarm and every DR action reports here."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, kw_only=True)
class AlertsArgs:
    context: RegionContext
    kms_key_arn: pulumi.Input[str]
    topic: naming.NameSpec = naming.FAILOVER_TOPIC


class Alerts(pulumi.ComponentResource):
    topic: aws.sns.Topic

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:Alerts", name, None, opts)
        ctx = args.context
        self.topic = aws.sns.Topic(
            ctx.logical("failover-events"),
            name=ctx.name(args.topic),
            kms_master_key_id=args.kms_key_arn,
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
