"""Config validation: every bad value fails before any resource, with a message naming key and value."""

from __future__ import annotations

import pytest

from core import config as stack_config
from core import naming
from plan import engine


def problems(raw: dict) -> str:
    with pytest.raises(stack_config.ConfigError) as error:
        stack_config.parse(raw)
    return str(error.value)


def test_example_stack_is_valid_and_fills_defaults(config):
    parsed = stack_config.parse(config)
    assert parsed.primary.name == "us-east-1" and parsed.primary.is_primary
    assert [r.name for r in parsed.secondaries] == ["us-east-2"]
    # The default is a version AWS still creates (16's long-term-support minor); the spec's 13.7 stays accepted
    # by the config (AWS is asked at `pulumi up`), and the example stack sets 13.23.
    assert parsed.aurora_engine_version == "13.23"
    assert (
        stack_config.parse({k: v for k, v in config.items() if k != "auroraEngineVersion"}).aurora_engine_version
        == "16.8"
    )
    assert stack_config.parse({**config, "auroraEngineVersion": "13.7"}).aurora_engine_version == "13.7"
    assert parsed.replication_lag_threshold_ms == 1000
    assert parsed.health_check_interval_seconds == 10
    assert parsed.nat_mode is stack_config.NatMode.PER_AZ
    # A fresh account needs API Gateway's CloudWatch role for access logs; stacks sharing one opt out.
    assert parsed.manage_api_gateway_account is True
    assert stack_config.parse({**config, "manageApiGatewayAccount": "false"}).manage_api_gateway_account is False


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("environmentSuffix", "Prod", "environmentSuffix='Prod': must be lower-case"),
        ("environmentSuffix", "dev_1", "environmentSuffix='dev_1': must be lower-case"),
        ("environmentSuffix", "dev-", "environmentSuffix='dev-'"),
        ("environmentSuffix", "a--b", "environmentSuffix='a--b'"),
        ("environmentSuffix", "x" * 40, "the longest name built from it allows at most"),
        ("environmentSuffix", "s3alias", "S3 reserves"),
        ("primaryRegion", "us-east-9", "primaryRegion='us-east-9': must be an AWS region"),
        ("secondaryRegions", ["us-east-1"], "secondaryRegions='us-east-1': must differ from primaryRegion"),
        ("secondaryRegions", ["us-east-2", "us-east-2"], "lists this region twice"),
        ("secondaryRegions", ["mars-1"], "secondaryRegions='mars-1': each entry must be an AWS region"),
        ("secondaryRegions", [], "must list at least one region"),
        ("secondaryRegions", "not json", "must be a list"),
        ("vpcCidrs", {"us-east-1": "10.0.0.0/16", "us-east-2": "10.0.128.0/17"}, "overlaps us-east-1's 10.0.0.0/16"),
        ("vpcCidrs", {"us-east-1": "8.8.0.0/16"}, "must be a private (RFC 1918) block"),
        # Python calls loopback and link-local "private"; CreateVpc refuses them.
        ("vpcCidrs", {"us-east-1": "127.1.0.0/16"}, "must be a private (RFC 1918) block"),
        ("vpcCidrs", {"us-east-1": "169.254.0.0/16"}, "must be a private (RFC 1918) block"),
        ("vpcCidrs", {"us-east-1": "10.0.0.0/24"}, "from /16 to /18"),
        ("vpcCidrs", {"us-east-1": "banana"}, "must be an IPv4 network"),
        ("vpcCidrs", {"eu-west-1": "10.9.0.0/16"}, "names a region that is not deployed"),
        ("natGateways", "many", "natGateways='many': allowed: 'per-az'"),
        ("domainName", "API.Example.com", "domainName='API.Example.com': must be a lower-case DNS name"),
        ("domainName", "localhost", "at least two labels"),
        ("hostedZoneName", "other.com", "must be domainName (api.payments.example.com) or one of its parents"),
        ("hostedZoneId", "abc", "hostedZoneId='abc': must be a Route 53 hosted zone id"),
        ("alertEmails", ["ops-at-example.com"], "alertEmails='ops-at-example.com': each entry must be an e-mail"),
        ("alertEmails", [], "alertEmails is required"),
        ("auroraEngineVersion", "13", "auroraEngineVersion='13'"),
        ("auroraInstanceClass", "r6g.large", "auroraInstanceClass='r6g.large'"),
        ("backupRetentionDays", "3", "backupRetentionDays='3': allowed: 7 to 35"),
        ("backupRetentionDays", "seven", "must be a whole number"),
        ("preferredBackupWindow", "3am", "preferredBackupWindow='3am'"),
        ("preferredBackupWindow", "03:00-03:10", "at least 30 minutes"),
        ("replicationLagThresholdMs", "5000", "replicationLagThresholdMs='5000': allowed: 1 to 1000"),
        ("healthCheckIntervalSeconds", "15", "allowed: 10 or 30"),
        ("healthCheckFailureThreshold", "0", "allowed: 1 to 10"),
        ("dnsTtlSeconds", "3600", "dnsTtlSeconds='3600'"),
        ("logRetentionDays", "8", "logRetentionDays='8': allowed: one of"),
        ("deletionProtection", "yes", "deletionProtection='yes': must be true or false"),
        ("manageApiGatewayAccount", "sometimes", "manageApiGatewayAccount='sometimes': must be true or false"),
        (
            "dataHomeRegion",
            "eu-west-1",
            "dataHomeRegion='eu-west-1': must be one of the deployed regions (us-east-1, us-east-2)",
        ),
        ("auroraGlobalDbRpoSeconds", "10", "auroraGlobalDbRpoSeconds='10': allowed: 20 to 86400"),
        ("auditRetentionDays", "0", "auditRetentionDays='0': allowed: 1 to 3650"),
        ("auditObjectLockMode", "governance", "auditObjectLockMode='governance': allowed: 'GOVERNANCE'"),
        ("allowedCurrencies", ["usd"], "allowedCurrencies='usd'"),
        ("maxTransactionAmount", "-5", "maxTransactionAmount='-5'"),
        ("opsPrincipalArns", ["bob"], "opsPrincipalArns='bob'"),
        ("tags", {"Region": "x"}, "must not set Region"),
        ("tags", {"Project": "x", "Name": "y"}, "must not set Name, Project"),
        (
            "tags",
            {"CostCenter": "1", "Team": "p", "Owner": "o", "Tier": "t"},
            "allows at most 3 entries: Route 53 health checks and zones take 10 tags and the stack sets 7 itself",
        ),
        ("lambdaReservedConcurrency", "899", "lambdaReservedConcurrency='899': allowed: 1 to 898"),
        ("enviromentSuffix", "dev", "is not a payment-dr setting; did you mean environmentSuffix?"),
    ],
)
def test_each_bad_value_names_key_value_and_what_is_allowed(config, key, value, expected):
    config[key] = value
    assert expected in problems(config)


def test_required_keys_are_named(config):
    for key in ("environmentSuffix", "domainName", "alertEmails"):
        del config[key]
    message = problems(config)
    assert "environmentSuffix is required" in message
    assert "domainName is required" in message
    assert "alertEmails is required" in message


def test_zone_is_required_by_name_or_id(config):
    del config["hostedZoneName"]
    assert "hostedZoneName or hostedZoneId is required" in problems(config)
    config["hostedZoneId"] = "Z0123456789ABCDEFGHIJ"
    assert stack_config.parse(config).hosted_zone_id == "Z0123456789ABCDEFGHIJ"


def test_all_problems_are_reported_together(config):
    config.update(environmentSuffix="BAD", natGateways="x", dnsTtlSeconds="0")
    message = problems(config)
    assert message.count("\n  - ") == 3


def test_default_cidrs_never_overlap_and_avoid_explicit_ones(config):
    regions = ["us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]
    config.update(secondaryRegions=regions, vpcCidrs={"us-west-2": "10.17.0.0/16"})
    parsed = stack_config.parse(config)
    import ipaddress

    networks = [ipaddress.ip_network(r.cidr) for r in parsed.regions]
    assert len(networks) == 6
    assert all(not a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    assert parsed.region("us-west-2").cidr == "10.17.0.0/16"


def test_suffix_limit_is_derived_from_the_longest_name(config):
    limit = naming.max_suffix_length(["us-east-1", "us-east-2"])
    config["environmentSuffix"] = "a" * limit
    stack_config.parse(config)
    config["environmentSuffix"] = "a" * (limit + 1)
    assert f"allows at most {limit}" in problems(config)
    # A longer region name leaves less room.
    assert naming.max_suffix_length(["us-east-1", "ap-southeast-4"]) < limit


def test_invalid_config_stops_the_program_before_any_resource(config):
    config["environmentSuffix"] = "Nope"
    declared: list = []
    with pytest.raises(stack_config.ConfigError, match="environmentSuffix='Nope'"):
        engine.evaluate(config, records=declared)
    assert declared == []
    engine.evaluate({**config, "environmentSuffix": "fine"}, records=declared)
    assert declared, "the same harness records resources when the config is valid"


def test_default_cidrs_do_not_depend_on_which_region_is_primary(config):
    before = {r.name: r.cidr for r in stack_config.parse(config).regions}
    swapped = {**config, "primaryRegion": "us-east-2", "secondaryRegions": ["us-east-1"]}
    assert {r.name: r.cidr for r in stack_config.parse(swapped).regions} == before
    # ...nor on which other regions are deployed.
    grown = {**config, "secondaryRegions": ["eu-west-1", "us-east-2"]}
    assert {r.name: r.cidr for r in stack_config.parse(grown).regions if r.name in before} == before


def test_the_settings_table_declares_each_key_once_and_completely():
    import dataclasses

    keys = [s.key for s in stack_config.SETTINGS]
    assert len(keys) == len(set(keys)) and tuple(keys) == stack_config.KNOWN_KEYS
    fields = {f.name for f in dataclasses.fields(stack_config.StackConfig)}
    filled = [s.field for s in stack_config.SETTINGS if s.field]
    assert len(filled) == len(set(filled)) and set(filled) <= fields
    for setting in stack_config.SETTINGS:
        assert setting.doc and (setting.allowed or setting.check is None), setting.key
        if setting.check and setting.default not in (None, []):
            entries = setting.default if setting.kind == "list" else [setting.default]
            assert all(setting.check(entry) for entry in entries), f"{setting.key}'s default fails its own check"


@pytest.mark.parametrize(
    "setting", [s for s in stack_config.SETTINGS if s.check and s.kind != "list"], ids=lambda s: s.key
)
def test_each_checked_setting_refuses_a_wrong_value_with_its_allowed_text(config, setting):
    config[setting.key] = "99999999" if setting.kind == "whole number" else "Not Valid!"
    message = problems(config)
    assert f"{setting.key}=" in message and setting.allowed in message


def test_the_spec_engine_version_is_accepted_and_the_default_is_one_aws_creates(config):
    del config["auroraEngineVersion"]
    assert stack_config.parse(config).aurora_engine_version == stack_config.DEFAULT_ENGINE_VERSION
    # The offline plan's model of AWS (deprecated versions) answers the default as available.
    found = engine.mock_invoke(
        "aws:rds/getEngineVersion:getEngineVersion",
        {"engine": "aurora-postgresql", "version": stack_config.DEFAULT_ENGINE_VERSION},
        "us-east-1",
    )
    assert found["status"] == "available"
    assert (
        stack_config.parse({**config, "auroraEngineVersion": stack_config.SPEC_ENGINE_VERSION}).aurora_engine_version
        == "13.7"
    )
