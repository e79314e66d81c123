"""The policy pack's rules (policy/rules.py) on the real program evaluated under the mock engine,
and on deliberately broken copies of it: each rule fails with a message naming the resource and
what is wrong."""

from __future__ import annotations

import copy
import json

import pytest

from plan import engine, policies
from policy import rules
from region_factory.database import PORT
from tests.conftest import example_config
from tests.plan.helpers import broken

SUFFIX = example_config()["environmentSuffix"]
CONFIG = policies.suffix_config(example_config())
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def violations(evaluation: engine.Evaluation, rule: str, config=CONFIG) -> list[policies.Violation]:
    return [v for v in policies.check(evaluation, config) if v.policy == rule]


# --- the real program ------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [r.name for r in rules.RESOURCE_RULES] + [r.name for r in rules.STACK_RULES])
def test_the_real_program_passes(dev, three_regions, rule):
    assert violations(dev, rule) == [] and violations(three_regions, rule) == []


# --- broken variants: each rule fails, naming the resource and what is wrong -------------------


def only(found: list[policies.Violation], *fragments: str) -> str:
    assert len(found) >= 1, "the rule did not fail"
    message = found[0].message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_required_tags_fails_when_a_provider_drops_a_default_tag(dev):
    def drop(provider):
        del provider.inputs["defaultTags"]["tags"]["DR-Role"]

    copied, _ = broken(dev, "pulumi:providers:aws", drop, lambda p: p.name == "aws-us-east-2")
    found = violations(copied, "required-tags")
    only(found, "missing tag(s) DR-Role", "us-east-2")
    assert {v.urn for v in found} == {
        r.urn for r in copied.managed if (r.provider_urn or "").endswith("aws-us-east-2") and policies.taggable(r.type)
    }


def test_required_tags_reads_resource_tags_over_the_defaults(dev):
    copied, vpc = broken(dev, "aws:ec2/vpc:Vpc", lambda r: r.inputs["tags"].update({"Environment": ""}))
    only(violations(copied, "required-tags"), f"'{vpc.name}'", "Environment")


def test_names_carry_suffix_fails_on_a_name_without_it(dev):
    copied, bucket = broken(
        dev, "aws:s3/bucket:Bucket", lambda r: r.inputs.update({"bucket": "payment-receipts-us-east-1"})
    )
    message = only(
        violations(copied, "names-carry-suffix"), f"'{bucket.name}'", "payment-receipts-us-east-1", f"'{SUFFIX}'"
    )
    assert "bucket" in message


def test_names_carry_suffix_matches_whole_words_and_needs_a_suffix(dev):
    assert rules.names_carry_suffix(
        "aws:sns/topic:Topic", {"name": "payment-devices"}, name="t", config={"environmentSuffix": "dev"}
    )
    assert not rules.names_carry_suffix(
        "aws:sns/topic:Topic", {"name": "payment-dev"}, name="t", config={"environmentSuffix": "dev"}
    )
    assert not rules.names_carry_suffix(
        "aws:route53/record:Record", {"name": "api.example.com"}, name="r", config={"environmentSuffix": "dev"}
    )
    assert (
        "environmentSuffix"
        in rules.names_carry_suffix("aws:sns/topic:Topic", {"name": "x-dev"}, name="t", config={})[0]
    )
    everything = violations(dev, "names-carry-suffix", policies.suffix_config({"environmentSuffix": "prod"}))
    assert len(everything) > 50


@pytest.mark.parametrize(
    "type_,change,fragments",
    [
        ("aws:sns/topic:Topic", lambda r: r.inputs.pop("kmsMasterKeyId"), ["kmsMasterKeyId is not set"]),
        (
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            lambda r: r.inputs["rules"][0]["applyServerSideEncryptionByDefault"].update(
                {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": None}
            ),
            ["no kmsMasterKeyId"],
        ),
        (
            "aws:dynamodb/table:Table",
            lambda r: r.inputs["replicas"][0].pop("kmsKeyArn"),
            ["replica in us-east-2", "kmsKeyArn"],
        ),
        (
            "aws:rds/cluster:Cluster",
            lambda r: r.inputs.update({"storageEncrypted": False}),
            ["storageEncrypted is not true"],
        ),
        (
            "aws:rds/cluster:Cluster",
            lambda r: r.inputs.pop("kmsKeyId"),
            ["kmsKeyId is not set", "https://github.com/hashicorp/terraform-provider-aws/issues/13715"],
        ),
        (
            "aws:secretsmanager/secret:Secret",
            lambda r: r.inputs["replicas"][0].pop("kmsKeyId"),
            ["replica in us-east-2"],
        ),
        (LOG_GROUP, lambda r: r.inputs.pop("kmsKeyId", None), ["kmsKeyId is not set"]),
    ],
)
def test_kms_encryption_fails_on_unencrypted_storage(dev, type_, change, fragments):
    copied, target = broken(dev, type_, change)
    found = [v for v in violations(copied, "kms-encryption") if v.urn == target.urn]
    only(found, f"'{target.name}'", *fragments)


def test_buckets_need_a_kms_default_encryption_configuration(dev):
    copied = copy.deepcopy(dev)
    sse = next(r for r in copied.resources if r.type in rules.SSE_TYPES)
    copied.resources.remove(sse)
    bucket = next(r for r in copied.of_type(rules.BUCKET) if r.outputs["bucket"] == sse.inputs["bucket"])
    found = violations(copied, "buckets-encrypted-with-kms")
    assert [v.urn for v in found] == [bucket.urn]
    only(found, f"'{bucket.name}'", "no BucketServerSideEncryptionConfiguration")


SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"


def log_bucket_name(evaluation: engine.Evaluation, region: str) -> str:
    return evaluation.one(
        rules.BUCKET, lambda b: b.region == region and b.inputs["bucket"].startswith("payment-s3-logs-")
    ).inputs["bucket"]


def algorithm(sse, value):
    sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"].update({"sseAlgorithm": value})


def test_data_buckets_must_use_kms_and_log_buckets_sse_s3(dev):
    copied, sse = broken(
        dev, SSE, lambda r: algorithm(r, "AES256"), lambda r: not r.inputs["bucket"].startswith("payment-s3-logs-")
    )
    only(
        [v for v in violations(copied, "buckets-encrypted-with-kms") if v.urn == sse.urn],
        f"'{sse.name}'",
        "'AES256'",
        "not aws:kms",
    )
    # S3 delivers no access log into an SSE-KMS bucket: a "stronger" key would silently end the trail.
    copied, sse = broken(
        dev, SSE, lambda r: algorithm(r, "aws:kms"), lambda r: r.inputs["bucket"].startswith("payment-s3-logs-")
    )
    only(
        [v for v in violations(copied, "buckets-encrypted-with-kms") if v.urn == sse.urn],
        "'aws:kms'",
        "receives server access logs",
        "AES256",
    )


def test_bucket_access_logging_fails_on_a_bucket_without_logging(dev):
    copied = copy.deepcopy(dev)
    logging = next(r for r in copied.resources if r.type == LOGGING)
    copied.resources.remove(logging)
    bucket = next(b for b in copied.of_type(rules.BUCKET) if b.outputs["bucket"] == logging.inputs["bucket"])
    found = violations(copied, "bucket-access-logging")
    assert [v.urn for v in found] == [bucket.urn]
    only(found, f"'{bucket.name}'", "has no BucketLogging")


@pytest.mark.parametrize(
    "change,fragments",
    [
        (lambda r, other: r.inputs.update({"targetBucket": other}), ["us-east-2", "only within a region"]),
        (lambda r, other: r.inputs.update({"targetPrefix": ""}), ["no targetPrefix"]),
        (lambda r, other: r.inputs.update({"targetBucket": "someone-elses-bucket"}), ["not a bucket of this stack"]),
    ],
)
def test_bucket_access_logging_fails_on_a_bad_target(dev, change, fragments):
    other = log_bucket_name(dev, "us-east-2")
    copied, logging = broken(dev, LOGGING, lambda r: change(r, other), lambda r: r.region == "us-east-1")
    only(
        [v for v in violations(copied, "bucket-access-logging") if v.urn == logging.urn],
        f"'{logging.name}'",
        *fragments,
    )


def test_a_log_bucket_must_not_log_itself(dev):
    copied = copy.deepcopy(dev)
    template = next(r for r in copied.resources if r.type == LOGGING and r.region == "us-east-1")
    loop = copy.deepcopy(template)
    loop.urn, loop.name = template.urn + "-loop", template.name + "-loop"
    loop.inputs["bucket"] = loop.outputs["bucket"] = log_bucket_name(dev, "us-east-1")
    copied.resources.append(loop)
    only(violations(copied, "bucket-access-logging"), "receives server access logs and logs its own requests")


def test_aurora_iam_auth_fails_on_a_cluster_without_it(dev):
    for value in (False, None):
        copied, cluster = broken(
            dev, rules.RDS_CLUSTER, lambda r, v=value: r.inputs.update({"iamDatabaseAuthenticationEnabled": v})
        )
        only(
            violations(copied, "aurora-iam-auth"),
            f"'{cluster.name}'",
            "iamDatabaseAuthenticationEnabled",
            "IAM database authentication",
        )
    assert not rules.aurora_iam_auth(rules.RDS_CLUSTER, {"iamDatabaseAuthenticationEnabled": rules.UNKNOWN}, name="c")


def test_pitr_fails_on_a_replica_without_it(dev):
    copied, table = broken(
        dev, "aws:dynamodb/table:Table", lambda r: r.inputs["replicas"][0].update({"pointInTimeRecovery": False})
    )
    only(
        violations(copied, "pitr-on-every-replica"),
        f"'{table.name}'",
        "replica in us-east-2",
        "pointInTimeRecovery off",
    )
    copied, table = broken(
        dev, "aws:dynamodb/table:Table", lambda r: r.inputs.update({"pointInTimeRecovery": {"enabled": False}})
    )
    only(violations(copied, "pitr-on-every-replica"), f"'{table.name}'", "pointInTimeRecovery.enabled")


def test_no_public_database(dev):
    copied, instance = broken(
        dev, "aws:rds/clusterInstance:ClusterInstance", lambda r: r.inputs.update({"publiclyAccessible": True})
    )
    only(violations(copied, "no-public-database"), f"'{instance.name}'", "publiclyAccessible is true")
    copied, rule = broken(
        dev,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        lambda r: r.inputs.update({"cidrIpv4": "0.0.0.0/0"}),
        lambda r: r.inputs.get("fromPort") == PORT,
    )
    only(violations(copied, "no-public-database"), f"'{rule.name}'", "0.0.0.0/0", str(PORT))
    assert rules.POSTGRES_PORT == PORT


@pytest.mark.parametrize(
    "ingress,open_",
    [
        ({"protocol": "tcp", "fromPort": 5000, "toPort": 6000, "cidrBlocks": ["0.0.0.0/0"]}, True),
        ({"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}, True),
        ({"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}, False),
        ({"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"]}, False),
    ],
)
def test_inline_security_group_ingress(ingress, open_):
    found = rules.no_public_database("aws:ec2/securityGroup:SecurityGroup", {"ingress": [ingress]}, name="sg")
    assert bool(found) is open_


def test_no_wildcard_iam(dev):
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": ["*"]}],
    }
    copied, policy = broken(
        dev, "aws:iam/rolePolicy:RolePolicy", lambda r: r.inputs.update({"policy": json.dumps(document)})
    )
    only(violations(copied, "no-wildcard-iam"), f"'{policy.name}'", "Everything", 'Action "*" on Resource "*"')
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
    scoped = {"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    assert not rules.no_wildcard_iam("aws:iam/rolePolicy:RolePolicy", {"policy": json.dumps(deny)}, name="p")
    assert not rules.no_wildcard_iam("aws:kms/key:Key", {"policy": json.dumps(scoped)}, name="k")


def test_versioning_before_replication(dev):
    def forget_versioning(replication):
        replication.dependencies[:] = [d for d in replication.dependencies if "BucketVersioning" not in d]

    copied, replication = broken(dev, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", forget_versioning)
    found = [v for v in violations(copied, "versioning-before-replication") if v.urn == replication.urn]
    assert {v.message.split(" bucket ")[0].rsplit(" ", 1)[-1] for v in found} == {"source", "destination"}
    only(found, f"'{replication.name}'", "does not depend on the versioning", "depends_on")
    # The versioning of that replication's source bucket: the stack also versions buckets nothing replicates.
    copied, _ = broken(
        dev,
        "aws:s3/bucketVersioning:BucketVersioning",
        lambda r: r.inputs["versioningConfiguration"].update({"status": "Suspended"}),
        lambda r: r.inputs["bucket"] == replication.inputs["bucket"],
    )
    only(violations(copied, "versioning-before-replication"), "has no enabled BucketVersioning")


@pytest.mark.parametrize(
    "change,fragment",
    [
        (lambda a: a.inputs.update({"threshold": 5000}), "threshold is 5000"),
        (lambda a: a.inputs.update({"alarmActions": []}), "no alarmActions publish to an SNS topic"),
        (lambda a: a.inputs.update({"comparisonOperator": "LessThanThreshold"}), "comparisonOperator"),
    ],
)
def test_the_lag_alarm_rule_fails_on_a_bad_alarm(dev, change, fragment):
    copied, alarm = broken(dev, ALARM, change, lambda a: rules.LAG_METRIC in rules.metric_names(a.inputs))
    found = violations(copied, "replication-lag-alarm")
    only([v for v in found if v.urn == alarm.urn], f"'{alarm.name}'", fragment)
    # The region is then left without a good alarm, which is reported too.
    assert any(v.urn is None and alarm.region in v.message for v in found)


def test_a_stack_without_any_lag_alarm_or_cluster_fails():
    assert rules.lag_alarm([], {}) == [
        (None, f"the stack has no alarm on {rules.LAG_METRIC} (threshold <= {rules.MAX_LAG_MS} ms, SNS action)")
    ]


# --- details the adapters rely on ----------------------------------------------------------------


def test_unknown_values_are_not_violations_but_count_as_set():
    assert not rules.kms_encryption("aws:sns/topic:Topic", {"kmsMasterKeyId": rules.UNKNOWN}, name="t")
    assert not rules.required_tags("aws:sns/topic:Topic", {"tagsAll": rules.UNKNOWN}, name="t")
    assert not rules.pitr_on_every_replica(
        "aws:dynamodb/table:Table", {"pointInTimeRecovery": {"enabled": rules.UNKNOWN}}, name="t"
    )


def test_default_tags_merge_like_the_provider():
    provider = {
        "defaultTags": json.dumps(
            {"tags": {"Environment": "dev", "Region": "us-east-1", "DR-Role": "primary", "Team": "x"}}
        ),
        "ignoreTags": {"keys": ["Team"], "keyPrefixes": ["aws:"]},
    }
    merged = rules.merge_default_tags(
        {"tags": {"Name": "n", "Region": "override", "aws:cloudformation": "y"}}, provider
    )
    assert merged["tagsAll"] == {"Environment": "dev", "Region": "override", "DR-Role": "primary", "Name": "n"}
    assert rules.merge_default_tags({"tags": {"Name": rules.UNKNOWN}}, provider)["tagsAll"] == rules.UNKNOWN


def test_taggable_types_come_from_the_pulumi_aws_sdk():
    assert policies.taggable("aws:s3/bucket:Bucket") and policies.taggable(
        "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter"
    )
    assert not policies.taggable("aws:s3/bucketVersioning:BucketVersioning") and not policies.taggable(
        "aws:ec2/route:Route"
    )
    assert not policies.taggable("random:index/randomId:RandomId")


def test_the_offline_unknown_marker_is_the_engines():
    assert rules.UNKNOWN == engine.COMPUTED
