"""DynamoDB global tables, replicated secrets and the data tier's stack outputs."""

from __future__ import annotations

import json

from core import tags
from core.config import DrRole, parse
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
    assert index["keySchemas"] == [{"attributeName": "merchant_id", "keyType": "HASH"}, {"attributeName": "created_at", "keyType": "RANGE"}]
    assert inputs["billingMode"] == "PAY_PER_REQUEST" and "ttl" not in inputs


def test_idempotency_table_has_the_powertools_key_and_ttl(dev):
    inputs = table(dev, "payment-idempotency-dev").inputs
    assert inputs["hashKey"] == "id" and inputs["attributes"] == [{"name": "id", "type": "S"}]
    assert inputs["ttl"] == {"attributeName": "expiration", "enabled": True}


def test_tables_replicate_to_every_other_region_with_pitr_and_that_regions_key(three_regions):
    for record in three_regions.of_type(TABLE):
        inputs = record.inputs
        assert record.region == "us-east-1" and record.protect  # the data home (primary by default)
        assert inputs["streamEnabled"] is True and inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"
        assert inputs["pointInTimeRecovery"] == {"enabled": True}
        assert inputs["deletionProtectionEnabled"] is True
        assert inputs["serverSideEncryption"]["enabled"] is True
        assert key_region(three_regions, inputs["serverSideEncryption"]["kmsKeyArn"]) == "us-east-1"
        replicas = {r["regionName"]: r for r in inputs["replicas"]}
        assert sorted(replicas) == ["us-east-2", "us-west-2"]
        for region, replica in replicas.items():
            assert replica["pointInTimeRecovery"] is True and replica["deletionProtectionEnabled"] is True
            assert key_region(three_regions, replica["kmsKeyArn"]) == region  # tf#29102
            assert replica["propagateTags"] is False


def test_every_replica_is_tagged_in_its_own_region_with_its_role(three_regions, config):
    cfg = parse({**config, "secondaryRegions": THREE[1:]})
    for name in ("payment-transactions-dev", "payment-idempotency-dev"):
        home = table(three_regions, name)
        for region in THREE[1:]:
            arn = f"arn:aws:dynamodb:{region}:{engine.MOCK_ACCOUNT_ID}:table/{name}"
            records = [t for t in three_regions.of_type("aws:dynamodb/tag:Tag") if t.inputs["resourceArn"] == arn]
            assert {t.region for t in records} == {region}
            assert all(home.urn in t.dependencies for t in records)
            assert {t.inputs["key"]: t.inputs["value"] for t in records} == tags.for_region(cfg, region, DrRole.SECONDARY)
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
    assert not set("/@\" ") & set(passwords["db-master-password"]["overrideSpecial"])  # RDS refuses these


def test_outputs_give_endpoints_names_and_arns_but_no_secret_values(dev):
    outputs = dev.outputs
    assert outputs["auroraGlobalClusterId"] == "payment-global-dev"
    assert set(outputs["auroraClusters"]) == {"us-east-1", "us-east-2"}
    assert all(set(c) == {"identifier", "arn", "endpoint", "readerEndpoint"} for c in outputs["auroraClusters"].values())
    assert outputs["dynamodbTables"]["transactions"]["name"] == "payment-transactions-dev"
    assert outputs["buckets"]["us-east-2"] == {"audit": "payment-audit-logs-us-east-2-dev", "receipts": "payment-receipts-us-east-2-dev"}
    assert all(set(s) == {"name", "arn"} for s in outputs["secrets"].values())
    assert "password" not in json.dumps(outputs).lower()
