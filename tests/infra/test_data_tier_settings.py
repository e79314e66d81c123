"""Data-tier settings: every knob changes what it should (one evaluation with all of them turned),
the engine-version check stops the program early, and the new keys' defaults (their validation is
in test_config.py)."""

from __future__ import annotations

import pytest

from core import config as stack_config
from plan import engine
from region_factory import database
from tests.conftest import example_config
from tests.infra.test_data_tier_aurora import CLUSTER, GLOBAL, INGRESS, instances

TURNED = {
    "deletionProtection": False,
    "skipFinalSnapshot": True,
    "backupRetentionDays": "14",
    "preferredBackupWindow": "22:00-23:00",
    "auroraSecondaryInstances": "3",
    "auroraGlobalDbRpoSeconds": "30",
    "auditObjectLockMode": "COMPLIANCE",
    "auditRetentionDays": "400",
}


@pytest.fixture(scope="module")
def turned() -> engine.Evaluation:
    """Every data-tier knob turned, and a test app security group allowed in (as the probe does)."""
    original = database.DatabaseAccess.__init__

    def with_probe(self, name, args, opts=None):
        original(self, name, args, opts)
        self.allow_postgres_from("test-app", self.security_group.id)

    patch = pytest.MonkeyPatch()
    patch.setattr(database.DatabaseAccess, "__init__", with_probe)
    try:
        return engine.evaluate({**example_config(), **TURNED})
    finally:
        patch.undo()


def test_deletion_protection_off_unprotects_every_stateful_resource(turned, dev):
    for evaluation, protected in ((dev, True), (turned, False)):
        assert evaluation.one(GLOBAL).inputs["deletionProtection"] is protected
        for record in (
            evaluation.of_type(CLUSTER) + evaluation.of_type(GLOBAL) + evaluation.of_type("aws:dynamodb/table:Table")
        ):
            assert record.protect is protected, record.name
        for cluster in evaluation.of_type(CLUSTER):
            assert cluster.inputs["deletionProtection"] is protected
        for table in evaluation.of_type("aws:dynamodb/table:Table"):
            assert table.inputs["deletionProtectionEnabled"] is protected
            assert all(r["deletionProtectionEnabled"] is protected for r in table.inputs["replicas"])
        for bucket in evaluation.of_type("aws:s3/bucket:Bucket"):
            assert bucket.protect is protected and bucket.inputs["forceDestroy"] is not protected
        for secret in evaluation.of_type("aws:secretsmanager/secret:Secret"):
            assert secret.inputs["recoveryWindowInDays"] == (30 if protected else 7)


def test_final_snapshot_and_backup_settings_follow_config(turned):
    for cluster in turned.of_type(CLUSTER):
        assert cluster.inputs["skipFinalSnapshot"] is True
        assert cluster.inputs["finalSnapshotIdentifier"].startswith(
            "payment-db-final-"
        )  # still named for a later toggle
        assert (
            cluster.inputs["backupRetentionPeriod"] == 14 and cluster.inputs["preferredBackupWindow"] == "22:00-23:00"
        )


def test_instance_count_follows_config_in_every_region(turned):
    for region in ("us-east-1", "us-east-2"):
        assert [i.inputs["identifier"] for i in instances(turned, region)] == [
            f"payment-db-{n}-{region}-dev" for n in (1, 2, 3)
        ]
        assert {i.inputs["availabilityZone"] for i in instances(turned, region)} == {f"{region}{z}" for z in "abc"}


def test_managed_rpo_is_set_in_every_region_when_configured(turned):
    groups = turned.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    assert len(groups) == 2
    for group in groups:
        parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
        assert parameters == {"rds.force_ssl": "1", "rds.global_db_rpo": "30"}


def test_audit_object_lock_mode_and_retention_follow_config(turned):
    for lock in turned.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"):
        assert lock.inputs["rule"] == {"defaultRetention": {"mode": "COMPLIANCE", "days": 400}}


def test_app_security_groups_are_allowed_in_by_reference(turned):
    rules = [r for r in turned.of_type(INGRESS) if r.name.endswith("-db-from-test-app")]
    assert sorted(r.region for r in rules) == ["us-east-1", "us-east-2"]
    for rule in rules:
        security_group = turned.by_output("id", rule.inputs["securityGroupId"])
        assert (
            rule.inputs["referencedSecurityGroupId"] == security_group.outputs["id"]
            and security_group.region == rule.region
        )
        assert (rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["ipProtocol"]) == (5432, 5432, "tcp")
        assert "cidrIpv4" not in rule.inputs


def test_a_deprecated_engine_version_stops_the_program_before_any_database(config):
    """13.7 is the spec's version: the config accepts it, but AWS no longer creates it."""
    config["auroraEngineVersion"] = "13.7"
    declared: list = []
    with pytest.raises(stack_config.ConfigError) as error:
        engine.evaluate(config, records=declared)
    message = str(error.value)
    assert "auroraEngineVersion='13.7'" in message and "us-east-1" in message and database.SUGGESTED_VERSION in message
    assert not [
        r for r in declared if r.type.startswith(("aws:rds/", "aws:s3/", "aws:dynamodb/", "aws:secretsmanager/"))
    ]


def test_the_mock_answers_the_engine_lookup_like_aws(config):
    def lookup(version):
        return engine.mock_invoke(
            "aws:rds/getEngineVersion:getEngineVersion",
            {"engine": "aurora-postgresql", "version": version},
            "us-east-1",
        )

    for version in ("13.7", "13.22"):
        _, [(field, reason)] = lookup(version)
        assert field == "version" and reason.startswith(database.VERSION_NOT_FOUND)
    for version in ("13.9", "13.23", "16.6"):
        assert lookup(version)["parameterGroupFamily"] == f"aurora-postgresql{version.split('.')[0]}"


def test_data_tier_defaults(config):
    parsed = stack_config.parse(config)
    assert parsed.data_home_region == "us-east-1"  # the primary, unless pinned
    assert parsed.aurora_global_db_rpo_seconds is None
    assert (parsed.audit_retention_days, parsed.audit_object_lock_mode) == (365, stack_config.ObjectLockMode.GOVERNANCE)
    assert stack_config.parse({**config, "dataHomeRegion": "us-east-2"}).data_home.name == "us-east-2"


class _Context:
    """The parts of a RegionContext the engine check reads."""

    def __init__(self, config):
        self.cfg = stack_config.parse(config)
        self.region = "us-east-1"
        self.provider = None


def test_a_version_without_global_database_support_is_refused(config, monkeypatch):
    class Found:
        supports_global_databases = False

    monkeypatch.setattr(database.aws.rds, "get_engine_version", lambda **kwargs: Found())
    with pytest.raises(stack_config.ConfigError, match="does not support Aurora Global Database in us-east-1"):
        database.check_engine_version(_Context(config))


def test_other_lookup_failures_are_not_reported_as_a_bad_version(config, monkeypatch):
    def fails(**kwargs):
        raise Exception("invoke of aws:rds/getEngineVersion:getEngineVersion failed: ExpiredToken")

    monkeypatch.setattr(database.aws.rds, "get_engine_version", fails)
    with pytest.raises(Exception, match="ExpiredToken") as error:
        database.check_engine_version(_Context(config))
    assert not isinstance(error.value, stack_config.ConfigError)
