"""Property tests: for any valid suffix and region set, every region gets the same stack.

Regions differ only in their region name and CIDR blocks; the DR role shows in provider
tags, never in a regional resource's inputs, so a role swap replaces nothing.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from core import config as stack_config
from core import naming
from plan import engine
from policy.rules import NAME_EXEMPT_TYPES
from tests.conftest import deployed_in, example_config
from tests.infra.helpers import regional, regional_signature

# Regions with at least three default-opt-in AZs, long and short names mixed.
REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
]
suffixes = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5})?", fullmatch=True).filter(
    lambda s: naming.suffix_problem(s, REGIONS) is None
)
region_sets = st.lists(st.sampled_from(REGIONS), min_size=2, max_size=3, unique=True)
# Each example evaluates the whole program: few examples, and no shrinking (a failure reports
# the generated suffix and regions as they are; shrinking would re-evaluate dozens of times).
EVALUATIONS = settings(
    max_examples=8,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


# Data-tier links that list every region in one resource (secret and table replicas, a bucket's
# replication rules): a new region extends their inputs. tests/infra/test_data_tier_switchover.py
# checks that the change only adds the new region.
GROWS_WITH_REGIONS = {
    "aws:secretsmanager/secret:Secret",
    "aws:dynamodb/table:Table",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
}


HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"


def grows_with_regions(before: engine.ResourceRecord, after: engine.ResourceRecord) -> bool:
    """Two link resources list every region in their inputs, and a new region may only ADD to them:
    a region's CALCULATED routing check has one hold child per other region (global_resources/failover.py;
    the threshold stays "every child"), and each region's canary lists the chain and every target in its
    environment (global_resources/canary.py), and its role may describe every other region's probe alarm.
    Nothing else of either may change."""
    if json.dumps(before.inputs, sort_keys=True) == json.dumps(after.inputs, sort_keys=True):
        return False  # unchanged (no region was added)
    if before.type == "aws:lambda/function:Function" and before.inputs["name"].startswith("payment-canary-"):
        old_env, new_env = before.inputs["environment"]["variables"], after.inputs["environment"]["variables"]
        assert new_env["CHAIN"].startswith(old_env["CHAIN"] + ","), "the chain may only grow at its end"
        growing = ("CHAIN", "TARGETS", "CLOUDWATCH_ALARMS")
        for name in growing[1:]:
            assert json.loads(old_env[name]).items() < json.loads(new_env[name]).items(), name
        assert {k: v for k, v in old_env.items() if k not in growing} == {
            k: v for k, v in new_env.items() if k not in growing
        }
        assert {k: v for k, v in before.inputs.items() if k != "environment"} == {
            k: v for k, v in after.inputs.items() if k != "environment"
        }
        return True
    if before.type == "aws:iam/rolePolicy:RolePolicy" and before.inputs["role"].endswith("-canary-role-id"):
        old, new = (json.loads(r.inputs["policy"])["Statement"] for r in (before, after))
        assert [s for s in old if s["Sid"] != "AskOtherRegionsCloudWatch"] == [
            s for s in new if s["Sid"] != "AskOtherRegionsCloudWatch"
        ]
        [old_describe], [new_describe] = (
            [s["Resource"] for s in x if s["Sid"] == "AskOtherRegionsCloudWatch"] for x in (old, new)
        )
        assert set(old_describe) < set(new_describe) and len(new_describe) == len(old_describe) + 1
        return True
    if before.type != HEALTH_CHECK or before.inputs.get("type") != "CALCULATED":
        return False
    old, new = before.inputs["childHealthchecks"], after.inputs["childHealthchecks"]
    assert set(old) <= set(new), f"{before.urn}: a new region must only add children"
    assert after.inputs["childHealthThreshold"] == len(new) and before.inputs["childHealthThreshold"] == len(old)
    unchanged = {k: v for k, v in before.inputs.items() if k not in ("childHealthchecks", "childHealthThreshold")}
    assert unchanged == {
        k: v for k, v in after.inputs.items() if k not in ("childHealthchecks", "childHealthThreshold")
    }
    return True


def stack(suffix: str, regions: list[str]) -> engine.Evaluation:
    return engine.evaluate(deployed_in(regions, environmentSuffix=suffix))


@EVALUATIONS
@given(suffix=suffixes, regions=region_sets)
def test_every_region_gets_an_identical_stack(suffix, regions):
    evaluation = stack(suffix, regions)
    signatures = {region: regional_signature(evaluation, region) for region in regions}
    reference = signatures[regions[0]]
    assert reference, "the factory built nothing"
    for region in regions[1:]:
        assert signatures[region] == reference, f"{region} differs from {regions[0]}"


@EVALUATIONS
@given(suffix=suffixes, regions=region_sets)
def test_every_name_carries_the_suffix_and_fits(suffix, regions):
    evaluation = stack(suffix, regions)
    for record in evaluation.managed:
        if record.type in NAME_EXEMPT_TYPES:
            continue  # DNS names come from domainName, ACM and the private zone, not the naming catalog
        for key in (
            "name",
            "bucket",
            "functionName",
            "clusterIdentifier",
            "identifier",
            "globalClusterIdentifier",
            "alarmName",
            "dashboardName",
        ):
            value = record.inputs.get(key)
            if isinstance(value, str):
                assert value.endswith(f"-{suffix}"), (record.type, key, value)
                assert len(value) <= 255
        name_tag = (record.inputs.get("tags") or {}).get("Name")
        if name_tag:
            assert name_tag.endswith(f"-{suffix}")
    for spec in naming.all_specs():
        for region in regions:
            assert len(spec.render(suffix, region)) <= spec.limit


@EVALUATIONS
@given(regions=region_sets)
# Adding us-east-1, home of Route 53's metrics, once moved the health alarms to another topic.
@example(regions=["us-east-2", "eu-west-1", "us-east-1"])
def test_a_third_region_is_one_more_config_entry(regions):
    """Adding a region adds its regional stack and its links, and changes nothing that existed."""
    before = stack("dr", regions[:2])
    after = stack("dr", regions)
    before_urns = {r.urn: r for r in before.managed}
    after_urns = {r.urn: r for r in after.managed}
    assert set(before_urns) <= set(after_urns)
    for urn, record in before_urns.items():
        if record.type in GROWS_WITH_REGIONS or grows_with_regions(record, after_urns[urn]):
            continue
        assert json.dumps(after_urns[urn].inputs, sort_keys=True) == json.dumps(record.inputs, sort_keys=True), urn
    for region in regions[2:]:
        assert regional_signature(after, region) == regional_signature(after, regions[0])
    # Each existing region's routing check gains one hold child per added region, and nothing else.
    for region in regions[:2]:
        [old, new] = [e.one(HEALTH_CHECK, lambda c: c.name == f"health-region-{region}") for e in (before, after)]
        assert len(new.inputs["childHealthchecks"]) - len(old.inputs["childHealthchecks"]) == len(regions) - 2


@settings(max_examples=40)
@given(value=st.text(min_size=1, max_size=12))
def test_invalid_suffixes_are_refused_naming_the_key(value):
    problem = naming.suffix_problem(value, ["us-east-1", "us-east-2"])
    raw = {**example_config(), "environmentSuffix": value}
    if problem is None:
        stack_config.parse(raw)
    else:
        try:
            stack_config.parse(raw)
        except stack_config.ConfigError as error:
            assert f"environmentSuffix={value!r}" in str(error)
        else:
            raise AssertionError(f"{value!r} was accepted")


@settings(max_examples=30)
@given(region=st.text(min_size=1, max_size=15).filter(lambda r: r not in stack_config.KNOWN_REGIONS))
def test_unknown_regions_are_refused_naming_the_key(region):
    raw = {**example_config(), "secondaryRegions": [region]}
    try:
        stack_config.parse(raw)
    except stack_config.ConfigError as error:
        assert "secondaryRegions=" in str(error)
    else:
        raise AssertionError(f"{region!r} was accepted")


def test_regional_resources_exist_in_every_region(three_regions):
    counts = {region: len(regional(three_regions, region)) for region in ("us-east-1", "us-east-2", "us-west-2")}
    assert len(set(counts.values())) == 1 and counts["us-east-1"] > 0
