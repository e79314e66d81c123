"""policy/__main__.py wires every rule into the PolicyPack, mandatory, and adapts pulumi-policy's
arguments (proxies with unknown values, provider default tags, stack config) to the rules."""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi
import pulumi_policy
import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy import rules

PACK = Path(__file__).resolve().parents[2] / "policy"


@pytest.fixture(scope="module")
def pack(monkeypatch_module):
    captured = {}

    def fake_pack(**kwargs):  # the real PolicyPack starts a gRPC server and never returns
        captured.update(kwargs)

    monkeypatch_module.setattr(pulumi_policy, "PolicyPack", fake_pack)
    runpy.run_path(str(PACK), run_name="__main__")
    return captured


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def policy(pack, name):
    return next(p for p in pack["policies"] if p.name == name)


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], None, [], None)


def run_resource(pack, name, type_, props, provider_props=None, config=None):
    reported = []
    provider = PolicyProviderResource(
        "pulumi:providers:aws", unknown_checking_proxy(provider_props or {}), "urn:p", "aws-us-east-1"
    )
    args = ResourceValidationArgs(type_, unknown_checking_proxy(props), "urn:r", "r", options(), provider, config)
    policy(pack, name).validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_every_rule_is_a_mandatory_policy(pack):
    assert pack["name"] == "payment-dr" and pack["enforcement_level"] == EnforcementLevel.MANDATORY
    names = [p.name for p in pack["policies"]]
    assert names == [r.name for r in rules.RESOURCE_RULES] + [r.name for r in rules.STACK_RULES]
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in pack["policies"])
    schema = policy(pack, "names-carry-suffix").config_schema
    assert schema.properties == {rules.SUFFIX_CONFIG: rules.SUFFIX_SCHEMA}


def test_unknown_values_during_preview_do_not_break_a_rule(pack):
    props = {
        "name": "payment-failover-events-dev",
        "kmsMasterKeyId": UNKNOWN_STRING_VALUE,
        "tagsAll": UNKNOWN_STRING_VALUE,
    }
    assert run_resource(pack, "kms-encryption", "aws:sns/topic:Topic", props) == []
    assert run_resource(pack, "required-tags", "aws:sns/topic:Topic", props) == []
    assert run_resource(pack, "kms-encryption", "aws:sns/topic:Topic", {"name": "x"}) == [
        "Topic 'r': kmsMasterKeyId is not set: the topic must be encrypted with the region's KMS key"
    ]


def test_provider_default_tags_count_when_the_provider_did_not_fill_tagsAll(pack):
    provider = {"defaultTags": '{"tags": {"Environment": "dev", "Region": "us-east-1", "DR-Role": "primary"}}'}
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    assert run_resource(pack, "required-tags", rule, {"tags": {"Name": "x"}}, provider) == []
    assert "DR-Role" in run_resource(pack, "required-tags", rule, {"tags": {"Name": "x"}}, {})[0]
    # What pulumi-aws computed wins: a tagsAll without the tags fails even if the provider has them.
    assert run_resource(pack, "required-tags", "aws:s3/bucket:Bucket", {"tags": {}, "tagsAll": {"Name": "x"}}, provider)


def test_the_suffix_comes_from_policy_config_then_the_stack_config(pack):
    topic = {"name": "payment-failover-events-dev"}
    assert (
        run_resource(pack, "names-carry-suffix", "aws:sns/topic:Topic", topic, config={"environmentSuffix": "dev"})
        == []
    )
    assert run_resource(pack, "names-carry-suffix", "aws:sns/topic:Topic", topic, config={"environmentSuffix": "prod"})
    pulumi.runtime.set_config("payment-dr:environmentSuffix", "dev")
    try:
        assert run_resource(pack, "names-carry-suffix", "aws:sns/topic:Topic", topic) == []
    finally:
        pulumi.runtime.set_config("payment-dr:environmentSuffix", "")


def test_stack_rules_see_dependencies_and_property_dependencies(pack):
    def resource(type_, name, props, deps=(), prop_deps=None):
        r = PolicyResource(type_, unknown_checking_proxy(props), f"urn:{name}", name, options(), None, None, [], {})
        r.dependencies = list(deps)
        r.property_dependencies = prop_deps or {}
        return r

    bucket = resource(rules.BUCKET, "b", {"bucket": UNKNOWN_STRING_VALUE})
    versioning = resource(
        "aws:s3/bucketVersioning:BucketVersioning",
        "v",
        {"bucket": UNKNOWN_STRING_VALUE, "versioningConfiguration": {"status": "Enabled"}},
        [bucket],
        {"bucket": [bucket]},
    )
    good = resource(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "r",
        {"bucket": UNKNOWN_STRING_VALUE},
        [bucket, versioning],
        {"bucket": [bucket]},
    )
    bad = resource(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "r2",
        {"bucket": UNKNOWN_STRING_VALUE},
        [bucket],
        {"bucket": [bucket]},
    )
    reported = []
    args = StackValidationArgs([bucket, versioning, good, bad], {})
    policy(pack, "versioning-before-replication").validate(
        args, lambda message, urn=None: reported.append((urn, message))
    )
    assert [urn for urn, _ in reported] == ["urn:r2"] and "does not depend on the versioning" in reported[0][1]
