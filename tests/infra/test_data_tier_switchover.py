"""The data tier under region changes: a switchover by config and adding a region.

Switchover (docs/data-tier.md): the switch itself is done with the API; the config swap that
follows (primaryRegion <-> a secondary, dataHomeRegion pinned) must then replace nothing and change
only ignored inputs and tags.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from core import config as stack_config
from plan import engine
from plan.engine import Evaluation, ResourceRecord
from tests import conftest
from tests.conftest import deployed_in, example_config
from tests.infra.test_data_tier_aurora import CLUSTER, CREDENTIALS, GLOBAL, INSTANCE
from tests.infra.test_symmetry import GROWS_WITH_REGIONS, REGIONS

DATA_TYPES = (
    CLUSTER,
    INSTANCE,
    GLOBAL,
    "aws:dynamodb/table:Table",
    "aws:s3/bucket:Bucket",
    "aws:secretsmanager/secret:Secret",
)
# The data tier's components. Other pieces change on a switchover by design (DNS failover records
# follow the primary); their own tests say how.
DATA_COMPONENTS = (
    "payment-dr:region:Storage",
    "payment-dr:region:DatabaseAccess",
    "payment-dr:global:ReplicatedSecrets",
    "payment-dr:global:AuroraGlobalDatabase",
    "payment-dr:global:GlobalTables",
    "payment-dr:global:BucketReplication",
)
# The config swap after an API switchover. dataHomeRegion is pinned (see the last test below), and so
# are the VPC CIDRs the example stack leaves to defaults: default CIDRs are handed out in region order,
# primary first, so an unpinned swap would exchange the two VPCs' CIDRs (replacing both VPCs).
SWAPPED = {
    "primaryRegion": "us-east-2",
    "secondaryRegions": ["us-east-1"],
    "dataHomeRegion": "us-east-1",
    "vpcCidrs": {r.name: r.cidr for r in stack_config.parse(example_config()).regions},
}


@pytest.fixture(scope="module")
def swapped() -> Evaluation:
    return engine.evaluate({**example_config(), **SWAPPED})


def data_tier(evaluation: Evaluation) -> list[ResourceRecord]:
    return [r for component in DATA_COMPONENTS for r in evaluation.in_component(component)]


def changed_inputs(before: ResourceRecord, after: ResourceRecord) -> set[str]:
    keys = set(before.inputs) | set(after.inputs)
    return {
        k
        for k in keys
        if json.dumps(before.inputs.get(k), sort_keys=True) != json.dumps(after.inputs.get(k), sort_keys=True)
    }


def test_pinning_the_data_home_to_the_primary_changes_nothing(config):
    assert stack_config.parse(config) == stack_config.parse({**config, "dataHomeRegion": config["primaryRegion"]})


def test_switchover_by_config_keeps_every_urn_and_region(dev, swapped):
    before = {r.urn: r for r in data_tier(dev)}
    after = {r.urn: r for r in data_tier(swapped)}
    assert set(before) == set(after)
    for type_ in DATA_TYPES:
        assert {u for u in before if before[u].type == type_} == {u for u in after if after[u].type == type_}, type_
        assert dev.of_type(type_), type_
    assert {u: r.region for u, r in before.items()} == {u: r.region for u, r in after.items()}


def test_switchover_by_config_changes_only_ignored_inputs_and_role_tags(dev, swapped):
    after = {r.urn: r for r in data_tier(swapped)}
    changed = {}
    for record in data_tier(dev):
        keys = changed_inputs(record, after[record.urn])
        if keys:
            changed[record.name] = keys
            assert keys <= set(record.ignore_changes) | (
                {"value"} if record.type == "aws:dynamodb/tag:Tag" else set()
            ), record.name
    # Exactly: the master credentials move between the clusters' declarations (ignored after creation),
    # and the replicas' DR-Role tag takes the new role.
    assert changed == {
        "aurora-us-east-1": CREDENTIALS,
        "aurora-us-east-2": CREDENTIALS,
        "dynamodb-transactions-us-east-2-tag-DR-Role": {"value"},
        "dynamodb-idempotency-us-east-2-tag-DR-Role": {"value"},
    }
    # Only the creation order flips: the old primary now depends on the new one (not an input).
    new_primary = swapped.one(CLUSTER, lambda c: c.region == "us-east-2")
    assert new_primary.urn in swapped.one(CLUSTER, lambda c: c.region == "us-east-1").dependencies


def test_switchover_by_config_changes_provider_tags_only(dev, swapped):
    before = {r.name: r.inputs for r in dev.resources if r.type == "pulumi:providers:aws"}
    after = {r.name: r.inputs for r in swapped.resources if r.type == "pulumi:providers:aws"}
    for name in ("aws-us-east-1", "aws-us-east-2"):
        assert {k for k in before[name] if before[name][k] != after[name][k]} == {"defaultTags"}
    # The global provider follows the primary; the global cluster it manages is pinned to the data home.
    assert after["aws-global"]["region"] == "us-east-2"
    assert swapped.one(GLOBAL).inputs["region"] == dev.one(GLOBAL).inputs["region"] == "us-east-1"


def test_an_unpinned_swap_would_move_the_data_home(config):
    """Why the switchover procedure pins dataHomeRegion: left to default it follows primaryRegion,
    and the tables, the secrets and the global cluster would be re-created elsewhere."""
    unpinned = {**config, **SWAPPED}
    del unpinned["dataHomeRegion"]
    assert stack_config.parse(unpinned).data_home_region == "us-east-2"


# --- adding a region -----------------------------------------------------------------------------


def stack(regions: list[str]) -> Evaluation:
    return engine.evaluate(deployed_in(regions))


def grown(regions: list[str]) -> tuple[Evaluation, Evaluation]:
    """The stack in regions[:2], then with regions[2] added and the same dynamodbConsistency: strong where MRSC fits
    the three regions, eventual otherwise. A strong pair cannot take a region outside its MRSC region set: the
    program refuses that config, naming the key, rather than turn the acceptance table eventual behind the
    operator's back (changing the mode is a new table, docs/data-tier.md)."""
    consistency = conftest.fitting_consistency(regions)
    if consistency["dynamodbConsistency"] == "eventual":
        pair = conftest.fitting_consistency(regions[:2])
        if pair["dynamodbConsistency"] == "strong":
            with pytest.raises(stack_config.ConfigError, match=r"dynamodbConsistency='strong': .*cannot apply"):
                stack_config.parse(deployed_in(regions, dynamodbConsistency="strong", dynamodbWitnessRegion=""))
        return engine.evaluate(deployed_in(regions[:2], **consistency)), engine.evaluate(deployed_in(regions))
    return stack(regions[:2]), stack(regions)


def assert_data_tier(evaluation: Evaluation, regions: list[str]) -> None:
    """Every region has its cluster (credentials only on the primary), buckets and replication to
    every other region; every secondary has its table replicas and secret replicas."""
    primary, secondaries = regions[0], regions[1:]
    clusters = {c.region: c for c in evaluation.of_type(CLUSTER)}
    assert sorted(clusters) == sorted(regions)
    assert all(c.inputs["globalClusterIdentifier"] == "payment-global-dev" for c in clusters.values())
    assert set(clusters[primary].inputs) >= CREDENTIALS
    for region in secondaries:
        assert not CREDENTIALS & set(clusters[region].inputs) and clusters[primary].urn in clusters[region].dependencies
    for record in evaluation.of_type("aws:dynamodb/table:Table") + evaluation.of_type(
        "aws:secretsmanager/secret:Secret"
    ):
        replicas = record.inputs["replicas"]
        assert record.region == primary and sorted(r.get("regionName") or r.get("region") for r in replicas) == sorted(
            secondaries
        )
    for config in evaluation.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        assert sorted(r["id"] for r in config.inputs["rules"]) == sorted(
            f"to-{r}" for r in regions if r != config.region
        )
    assert len(evaluation.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")) == 2 * len(regions)


def assert_only_grew(before: ResourceRecord, after: ResourceRecord, new_region: str) -> None:
    """A cross-region list gained the new region's entries; nothing else in the resource changed."""
    for key in changed_inputs(before, after):
        assert key in ("replicas", "rules"), (before.name, key)
        old, new = before.inputs[key], after.inputs[key]
        assert all(item in new for item in old), (before.name, key)
        added = [item for item in new if item not in old]
        assert added and all(new_region in json.dumps(item) for item in added), (before.name, key)


def assert_witness_became_a_replica(before: ResourceRecord, after: ResourceRecord, new_region: str) -> None:
    """A strong (MRSC) table of two regions has a witness; with three it has three replicas and none.
    The program says so, but AWS cannot apply it in place ("You cannot add additional replicas to an
    existing MRSC global table"): a third region for a deployed strong stack is a new acceptance
    table (docs/data-tier.md, "Adding a region")."""
    assert set(changed_inputs(before, after)) == {"replicas", "globalTableWitness"}, before.name
    assert "globalTableWitness" not in after.inputs
    added = [r for r in after.inputs["replicas"] if r not in before.inputs["replicas"]]
    assert [(r["regionName"], r["consistencyMode"]) for r in added] == [(new_region, "STRONG")]


EXAMPLE_REGIONS = ["us-east-1", "us-east-2", "us-west-2"]  # the session fixtures dev and three_regions


# Each generated example evaluates the program twice: few examples, no shrinking (as test_symmetry).
@settings(
    max_examples=2, suppress_health_check=[HealthCheck.too_slow], phases=[Phase.explicit, Phase.reuse, Phase.generate]
)
@example(regions=EXAMPLE_REGIONS)
# A strong pair (EU) and a third region outside its MRSC region set: found by this test's generator.
@example(regions=["eu-west-1", "eu-central-1", "ca-central-1"])
@given(regions=st.lists(st.sampled_from(REGIONS), min_size=3, max_size=3, unique=True))
def test_a_new_region_gets_its_data_tier_and_only_extends_the_links(regions, dev, three_regions):
    before, after = (dev, three_regions) if regions == EXAMPLE_REGIONS else grown(regions)
    assert_data_tier(before, regions[:2])
    assert_data_tier(after, regions)
    after_urns = {r.urn: r for r in data_tier(after)}
    for record in data_tier(before):
        if record.inputs.get("globalTableWitness"):
            assert_witness_became_a_replica(record, after_urns[record.urn], regions[2])
        elif record.type in GROWS_WITH_REGIONS:
            assert_only_grew(record, after_urns[record.urn], regions[2])
        else:
            assert not changed_inputs(record, after_urns[record.urn]), record.name
