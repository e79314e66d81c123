"""DynamoDB global tables, replicated secrets and the data tier's stack outputs."""

from __future__ import annotations

import json

import pytest

from core import tags
from core.config import ConfigError, DrRole, parse
from plan import engine
from plan.engine import Evaluation, ResourceRecord
from tests.infra.test_data_tier_aurora import key_region

TABLE = "aws:dynamodb/table:Table"
SECRET = "aws:secretsmanager/secret:Secret"
THREE = ["us-east-1", "us-east-2", "us-west-2"]


def table(evaluation: Evaluation, name: str) -> ResourceRecord:
    return evaluation.one(TABLE, lambda t: t.inputs["name"] == name)


def test_transactions_table_matches_what_the_function_reads(dev):
    inputs = table(dev, "payment-transactions-dev").inputs
    assert inputs["hashKey"] == "transaction_id" and "rangeKey" not in inputs
    assert inputs["attributes"] == [{"name": n, "type": "S"} for n in ("transaction_id", "merchant_id", "created_at")]
    [index] = inputs["globalSecondaryIndexes"]
    assert index["name"] == "merchant-time-index" and index["projectionType"] == "ALL"
    assert index["keySchemas"] == [
        {"attributeName": "merchant_id", "keyType": "HASH"},
        {"attributeName": "created_at", "keyType": "RANGE"},
    ]
    assert inputs["billingMode"] == "PAY_PER_REQUEST" and "ttl" not in inputs


def test_acceptance_table_is_strong_with_a_witness_in_the_example_stack(dev):
    """Two regions: two MRSC replicas (home table + one replica) and the configured witness; no TTL
    (MRSC has none; acceptances never expire) and no stream (MRSC does not replicate through one)."""
    inputs = table(dev, "payment-idempotency-dev").inputs
    assert inputs["hashKey"] == "id" and inputs["attributes"] == [{"name": "id", "type": "S"}]
    assert "ttl" not in inputs and inputs["streamEnabled"] is False
    assert inputs["globalTableWitness"] == {"regionName": "us-west-2"}
    assert [(r["regionName"], r["consistencyMode"]) for r in inputs["replicas"]] == [("us-east-2", "STRONG")]


def test_transactions_table_stays_eventual_with_its_stream_for_the_ledger(dev, three_regions):
    for evaluation in (dev, three_regions):
        inputs = table(evaluation, "payment-transactions-dev").inputs
        assert inputs["streamEnabled"] is True and inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"
        assert "globalTableWitness" not in inputs
        assert {r["consistencyMode"] for r in inputs["replicas"]} == {"EVENTUAL"}


def test_three_regions_make_three_strong_replicas_and_no_witness(three_regions):
    inputs = table(three_regions, "payment-idempotency-dev").inputs
    assert "globalTableWitness" not in inputs
    assert sorted((r["regionName"], r["consistencyMode"]) for r in inputs["replicas"]) == [
        ("us-east-2", "STRONG"),
        ("us-west-2", "STRONG"),
    ]


def test_eventual_mode_by_config_has_no_witness_and_a_stream(config):
    evaluation = engine.evaluate({**config, "dynamodbConsistency": "eventual", "dynamodbWitnessRegion": ""})
    inputs = table(evaluation, "payment-idempotency-dev").inputs
    assert "globalTableWitness" not in inputs and inputs["streamEnabled"] is True
    assert [(r["regionName"], r["consistencyMode"]) for r in inputs["replicas"]] == [("us-east-2", "EVENTUAL")]


def test_regions_outside_one_region_set_fall_back_to_eventual_only_when_unset(config):
    """Left unset, a stack MRSC cannot serve is eventual (the program warns why); asked for, it is refused."""
    outside = {**config, "secondaryRegions": ["eu-west-1"], "dynamodbWitnessRegion": ""}
    assert parse(outside).dynamodb_consistency.value == "eventual"
    assert "not all in one MRSC region set" in parse(outside).dynamodb_consistency_note
    inputs = table(engine.evaluate(outside), "payment-idempotency-dev").inputs
    assert [r["consistencyMode"] for r in inputs["replicas"]] == ["EVENTUAL"]
    with pytest.raises(
        ConfigError,
        match=r"dynamodbConsistency='strong': multi-Region strong consistency cannot apply: "
        r"the regions us-east-1, eu-west-1 are not all in one MRSC region set",
    ):
        parse({**outside, "dynamodbConsistency": "strong"})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"dynamodbConsistency": "strong", "dynamodbWitnessRegion": ""},
            r"dynamodbConsistency='strong': .*two regions need a witness region: set "
            r"dynamodbWitnessRegion to one of us-west-2",
        ),
        ({"dynamodbWitnessRegion": "us-east-2"}, r"dynamodbWitnessRegion='us-east-2': .*not one of the replicas"),
        (
            {"dynamodbWitnessRegion": "eu-west-1"},
            r"dynamodbWitnessRegion='eu-west-1': .*in the replicas' region set \(US",
        ),
        ({"dynamodbWitnessRegion": "mars-1"}, r"dynamodbWitnessRegion='mars-1': must be an AWS region"),
        (
            {"dynamodbConsistency": "strong", "secondaryRegions": ["us-east-2", "us-west-2"]},
            r"dynamodbWitnessRegion='us-west-2': .*three regions make three replicas, which leaves no place for a witness",
        ),
        (
            {"dynamodbConsistency": "eventual"},
            r"dynamodbWitnessRegion='us-west-2': applies only with dynamodbConsistency 'strong'",
        ),
        (
            {"dynamodbConsistency": "linearizable"},
            r"dynamodbConsistency='linearizable': allowed: 'strong' .* or 'eventual'",
        ),
    ],
)
def test_consistency_config_errors_name_the_key_and_why(config, overrides, message):
    with pytest.raises(ConfigError, match=message):
        parse({**config, **overrides})


def test_unset_consistency_is_strong_where_it_fits_and_a_third_region_keeps_it(config):
    """The example leaves dynamodbConsistency unset: strong with its witness; adding us-west-2 as a
    third region is still strong (three replicas), the witness left over from two regions ignored."""
    assert "dynamodbConsistency" not in config
    two = parse(config)
    assert (two.dynamodb_consistency.value, two.dynamodb_witness_region) == ("strong", "us-west-2")
    three = parse({**config, "secondaryRegions": ["us-east-2", "us-west-2"]})
    assert (three.dynamodb_consistency.value, three.dynamodb_witness_region) == ("strong", None)
    assert parse({**config, "dynamodbWitnessRegion": ""}).dynamodb_consistency.value == "eventual"


def test_tables_replicate_to_every_other_region_with_pitr_and_that_regions_key(three_regions):
    for record in three_regions.of_type(TABLE):
        inputs = record.inputs
        assert record.region == "us-east-1" and record.protect  # the data home (primary by default)
        # Streams: the eventual table's replicate it and feed the ledger; MRSC needs none (tests above).
        assert inputs["streamEnabled"] is (inputs["name"] == "payment-transactions-dev")
        assert inputs["pointInTimeRecovery"] == {"enabled": True}
        assert inputs["deletionProtectionEnabled"] is True
        assert inputs["serverSideEncryption"]["enabled"] is True
        assert key_region(three_regions, inputs["serverSideEncryption"]["kmsKeyArn"]) == "us-east-1"
        replicas = {r["regionName"]: r for r in inputs["replicas"]}
        assert sorted(replicas) == ["us-east-2", "us-west-2"]
        for region, replica in replicas.items():
            assert replica["pointInTimeRecovery"] is True and replica["deletionProtectionEnabled"] is True
            # https://github.com/hashicorp/terraform-provider-aws/issues/29102
            assert key_region(three_regions, replica["kmsKeyArn"]) == region
            assert replica["propagateTags"] is False


def test_every_replica_is_tagged_in_its_own_region_with_its_role(three_regions, config):
    cfg = parse({**config, "secondaryRegions": THREE[1:], "dynamodbWitnessRegion": ""})
    for name in ("payment-transactions-dev", "payment-idempotency-dev"):
        home = table(three_regions, name)
        for region in THREE[1:]:
            arn = f"arn:aws:dynamodb:{region}:{engine.MOCK_ACCOUNT_ID}:table/{name}"
            records = [t for t in three_regions.of_type("aws:dynamodb/tag:Tag") if t.inputs["resourceArn"] == arn]
            assert {t.region for t in records} == {region}
            assert all(home.urn in t.dependencies for t in records)
            assert {t.inputs["key"]: t.inputs["value"] for t in records} == tags.for_region(
                cfg, region, DrRole.SECONDARY
            )
            assert {"Environment", "Region", "DR-Role"} <= {t.inputs["key"] for t in records}


def test_secrets_live_in_the_home_region_and_replicate_with_each_regions_key(three_regions):
    secrets = {s.inputs["name"]: s for s in three_regions.of_type(SECRET)}
    assert sorted(secrets) == ["payment-card-hash-key-dev", "payment-db-master-dev"]
    for secret in secrets.values():
        assert secret.region == "us-east-1" and key_region(three_regions, secret.inputs["kmsKeyId"]) == "us-east-1"
        replicas = {r["region"]: r["kmsKeyId"] for r in secret.inputs["replicas"]}
        assert sorted(replicas) == ["us-east-2", "us-west-2"]
        assert all(key_region(three_regions, arn) == region for region, arn in replicas.items())


def test_secret_values_are_random_and_never_plain(dev):
    versions = dev.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert len(versions) == 2
    for version in versions:
        value = version.inputs["secretString"]
        # A Pulumi secret wrapping a value only known at apply (RandomPassword.result).
        assert isinstance(value, dict) and value["value"] == engine.COMPUTED
        assert any(d.endswith(("::db-master-password", "::card-hash-key")) for d in version.dependencies)
    passwords = {p.name: p.inputs for p in dev.of_type("random:index/randomPassword:RandomPassword")}
    assert passwords["card-hash-key"]["length"] == 64 and passwords["card-hash-key"]["special"] is False
    assert passwords["db-master-password"]["length"] >= 32
    assert not set('/@" ') & set(passwords["db-master-password"]["overrideSpecial"])  # RDS refuses these


def test_outputs_give_endpoints_names_and_arns_but_no_secret_values(dev):
    outputs = dev.outputs
    assert outputs["auroraGlobalClusterId"] == "payment-global-dev"
    assert set(outputs["auroraClusters"]) == {"us-east-1", "us-east-2"}
    assert all(
        set(c) == {"identifier", "arn", "endpoint", "readerEndpoint"} for c in outputs["auroraClusters"].values()
    )
    assert outputs["dynamodbTables"]["transactions"]["name"] == "payment-transactions-dev"
    assert outputs["buckets"]["us-east-2"] == {
        "audit": "payment-audit-logs-us-east-2-dev",
        "receipts": "payment-receipts-us-east-2-dev",
    }
    assert all(set(s) == {"name", "arn"} for s in outputs["secrets"].values())
    assert "password" not in json.dumps(outputs).lower()
