"""The budget of the real program, evaluated under the mock engine, against the config that produced it."""

from __future__ import annotations

import pytest

from plan import budget, engine, simulate
from plan.budget import FIGURES
from tests.conftest import example_config


@pytest.fixture(scope="module")
def slow_checks():
    """The example stack with 30 s health-check intervals (Route 53's other allowed value)."""
    return engine.evaluate({**example_config(), "healthCheckIntervalSeconds": 30})


def _https_checks(evaluation: engine.Evaluation) -> list[budget.Check]:
    checks = [c for c in budget.health_checks(evaluation) if c.type.startswith(("HTTP", "TCP"))]
    if not checks:
        pytest.skip("the program declares no Route 53 HTTP(S) health checks yet (failover module)")
    return checks


def test_health_check_detection_is_the_configured_interval_times_threshold(dev, config, request):
    _https_checks(dev)
    threshold = int(config.get("healthCheckFailureThreshold", 3))
    slow_checks = request.getfixturevalue("slow_checks")
    for evaluation, interval in ((dev, int(config.get("healthCheckIntervalSeconds", 10))), (slow_checks, 30)):
        for check in _https_checks(evaluation):
            assert check.seconds == interval * threshold, check


def test_changing_the_interval_moves_the_api_budget(dev, config, request):
    _https_checks(dev)
    slow_checks = request.getfixturevalue("slow_checks")
    fast, slow = budget.compute(dev).api, budget.compute(slow_checks).api
    assert fast.parts[0].seconds is not None and slow.parts[0].seconds is not None
    threshold = int(config.get("healthCheckFailureThreshold", 3))
    assert slow.parts[0].seconds - fast.parts[0].seconds == (30 - 10) * threshold
    if fast.seconds is not None:
        # The simulated worst case moves with the detection, to within the spread of Route 53's checkers.
        assert abs((slow.seconds - fast.seconds) - (30 - 10) * threshold) <= 30 / simulate.CHECKERS + 1


def test_the_api_dns_shift_is_the_records_ttl_or_the_alias_figure(dev, config):
    dns = budget.compute(dev).api.parts[1]
    if dns.missing:
        pytest.skip("the program declares no API failover record yet (failover module)")
    assert dns.seconds in (int(config.get("dnsTtlSeconds", 60)), FIGURES["alias-ttl"].value)


def test_s3_rpo_is_the_replication_rules_rtc(dev):
    s3 = budget.compute(dev).rpo_of("S3")
    assert not s3.missing
    configs = dev.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    minutes = {rule["destination"]["replicationTime"]["time"]["minutes"] for c in configs for rule in c.inputs["rules"]}
    assert s3.seconds == max(minutes) * 60 == FIGURES["s3-rtc"].value


def test_dynamodb_rpo_follows_each_tables_consistency_mode(dev):
    """The MRSC acceptance table loses nothing acknowledged; the eventual transactions table its lag; the
    ledger inherits the acceptance table's (drctl reconcile re-posts from it)."""
    result = budget.compute(dev)
    strong, eventual = result.rpo_of("DynamoDB global tables, strong"), result.rpo_of("DynamoDB global tables (")
    assert "payment-idempotency-dev" in strong.store and strong.seconds == FIGURES["dynamodb-mrsc"].value == 0
    assert "payment-transactions-dev" in eventual.store and eventual.seconds == FIGURES["dynamodb-replication"].value
    assert (
        "idempotency" not in eventual.alarm
        and "payment-ddb-replication-transactions-to-us-east-2-dev" in eventual.alarm
    )
    ledger = result.rpo_of("Ledger of record")
    assert ledger.seconds == 0 and "payment-ledger-lag-dev" in ledger.alarm and "drctl reconcile" in ledger.source
    loose = budget.compute(
        engine.evaluate({**example_config(), "dynamodbConsistency": "eventual", "dynamodbWitnessRegion": ""})
    )
    assert [r.store for r in loose.rpo if r.store.startswith("DynamoDB")] == [
        "DynamoDB global tables (payment-idempotency-dev, payment-transactions-dev)"
    ]
    assert loose.rpo_of("Ledger of record").seconds == FIGURES["dynamodb-replication"].value


def test_the_aurora_rpo_follows_auroraGlobalDbRpoSeconds(dev):
    unbounded = budget.compute(dev).rpo_of("Aurora, unplanned")
    assert unbounded.seconds is None and "not bounded" in unbounded.bound
    bounded = budget.compute(engine.evaluate({**example_config(), "auroraGlobalDbRpoSeconds": 45})).rpo_of(
        "Aurora, unplanned"
    )
    assert bounded.seconds == 45 and "≤ 45 s" in bounded.bound


def test_the_lag_alarm_in_the_rpo_is_the_programs(dev):
    aurora = budget.compute(dev).rpo_of("Aurora, unplanned")
    alarms = [
        a
        for a in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        if a.inputs.get("metricName") == "AuroraGlobalDBReplicationLag"
    ]
    if not alarms:
        assert budget.NOT_FOUND in aurora.alarm
    for alarm in alarms:
        assert alarm.inputs["name"] in aurora.alarm
