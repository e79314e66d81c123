"""Regional KMS keys, the failover topics, and the hosted zone the API domain lives in."""

from __future__ import annotations

import json

from plan import engine
from tests.infra.helpers import policy_statements, regional, regional_key


def test_every_region_has_its_own_rotating_key_with_an_alias(dev):
    keys = [regional_key(dev, region) for region in ("us-east-1", "us-east-2")]
    assert sorted(k.region for k in keys) == ["us-east-1", "us-east-2"]
    assert all(k.inputs["enableKeyRotation"] for k in keys)
    for alias in [a for a in dev.of_type("aws:kms/alias:Alias") if a in regional(dev, a.region)]:
        key = dev.by_output("keyId", alias.inputs["targetKeyId"])
        assert key.region == alias.region and alias.inputs["name"] == "alias/payment-dr-dev"


def test_key_policy_lets_services_use_the_key_only_in_this_region_and_account(dev):
    for key in dev.of_type("aws:kms/key:Key"):
        statements = {s["Sid"]: s for s in policy_statements(key.inputs["policy"])}
        assert statements["AccountAdministersThroughIam"]["Principal"] == {
            "AWS": f"arn:aws:iam::{engine.MOCK_ACCOUNT_ID}:root"
        }
        logs = statements["CloudWatchLogsInThisRegion"]
        assert logs["Principal"] == {"Service": f"logs.{key.region}.amazonaws.com"}
        assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].startswith(
            f"arn:aws:logs:{key.region}:"
        )
        # AWS's grant for alarms publishing to an encrypted topic, held to this account's alarms by the
        # confused-deputy key AWS documents for service principals, and nothing else that could stop the pages.
        assert statements["CloudWatchAlarmsPublishToEncryptedTopics"] == {
            "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": engine.MOCK_ACCOUNT_ID}},
        }


def test_failover_topic_per_region_encrypted_with_that_regions_key(dev):
    for topic in [t for t in dev.of_type("aws:sns/topic:Topic") if t in regional(dev, t.region)]:
        key = dev.by_output("arn", topic.inputs["kmsMasterKeyId"])
        assert key.type == "aws:kms/key:Key" and key.region == topic.region
        assert topic.inputs["name"] == "payment-failover-events-dev"


def test_topic_policy_allows_exactly_alarms_and_dr_roles_to_publish(dev):
    for policy in dev.of_type("aws:sns/topicPolicy:TopicPolicy"):
        topic = dev.by_output("arn", policy.inputs["arn"])
        assert topic.region == policy.region
        statements = policy_statements(policy.inputs["policy"])
        allows = [s for s in statements if s["Effect"] == "Allow"]
        assert {json.dumps(s["Principal"], sort_keys=True) for s in allows} == {
            '{"Service": "cloudwatch.amazonaws.com"}',
            f'{{"AWS": "arn:aws:iam::{engine.MOCK_ACCOUNT_ID}:root"}}',
        }
        # Only this account's alarms: the key policy relies on this (it grants CloudWatch without conditions).
        alarms = next(s for s in allows if s["Sid"] == "CloudWatchAlarms")["Condition"]
        assert alarms["StringEquals"]["aws:SourceAccount"] == engine.MOCK_ACCOUNT_ID
        assert alarms["ArnLike"]["aws:SourceArn"] == f"arn:aws:cloudwatch:*:{engine.MOCK_ACCOUNT_ID}:alarm:*"
        roles = next(s for s in allows if s["Sid"] == "DrTooling")["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        assert sorted(r.rsplit("/", 1)[1] for r in roles) == ["payment-dr-automation-dev", "payment-dr-operator-dev"]
        assert all(s["Action"] == "sns:Publish" and s["Resource"] == topic.outputs["arn"] for s in statements)
        assert any(
            s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in statements
        )


def test_every_alert_email_is_subscribed_in_every_region(config):
    config["alertEmails"] = ["a@example.com", "b@example.com"]
    evaluation = engine.evaluate(config)
    topics = {t.outputs["arn"]: t.inputs["name"] for t in evaluation.of_type("aws:sns/topic:Topic")}
    subscriptions = evaluation.of_type("aws:sns/topicSubscription:TopicSubscription")
    health = sorted(
        s.inputs["endpoint"] for s in subscriptions if topics[s.inputs["topic"]] == "payment-health-check-events-dev"
    )
    assert health == ["a@example.com", "b@example.com"]
    subscriptions = [s for s in subscriptions if topics[s.inputs["topic"]] == "payment-failover-events-dev"]
    assert sorted((s.region, s.inputs["endpoint"]) for s in subscriptions) == [
        ("us-east-1", "a@example.com"),
        ("us-east-1", "b@example.com"),
        ("us-east-2", "a@example.com"),
        ("us-east-2", "b@example.com"),
    ]
    for subscription in subscriptions:
        assert subscription.inputs["protocol"] == "email"
        assert evaluation.by_output("arn", subscription.inputs["topic"]).region == subscription.region


def test_zone_is_looked_up_by_name_by_default(dev):
    lookups = [args for token, args in dev.invokes if token == "aws:route53/getZone:getZone"]
    assert lookups == [{"name": "payments.example.com", "privateZone": False}]
    assert not [z for z in dev.of_type("aws:route53/zone:Zone") if not z.inputs.get("vpcs")]


def test_zone_id_from_config_skips_the_lookup(config):
    del config["hostedZoneName"]
    config["hostedZoneId"] = "Z0123456789ABCDEFGHIJ"
    evaluation = engine.evaluate(config)
    assert not [t for t, _ in evaluation.invokes if t == "aws:route53/getZone:getZone"]


def test_zone_is_created_and_protected_only_when_asked(config):
    config["createHostedZone"] = True
    evaluation = engine.evaluate(config)
    zone = evaluation.one("aws:route53/zone:Zone", lambda z: not z.inputs.get("vpcs"))
    assert zone.inputs["name"] == "payments.example.com" and zone.protect
    assert zone.region == "us-east-1"
