"""The recovery budget: read from the stack's resources (synthetic ones here, the real program in
test_budget_program.py), AWS figures only where the stack cannot measure, "not found" when absent."""

from __future__ import annotations

import functools

import pytest

from plan import budget, engine
from plan.budget import FIGURES, NOT_FOUND
from tests.plan.helpers import evaluation, provider, record

HC = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DOMAIN = "aws:apigateway/domainName:DomainName"

# The formula's arithmetic on synthetic pieces (too small to fail over): the simulation's figures are
# tested in test_simulate.py and test_simulate_program.py.
compute = functools.partial(budget.compute, simulate_outages=False)

PRIMARY = provider("us-east-1", "primary")
SECONDARY = provider("us-east-2", "secondary")
GLOBAL = provider("us-east-1", "global")


def https_check(kind: str, region: str, interval: int | None, threshold: int | None, **extra) -> budget.ResourceRecord:
    inputs = {
        "type": "HTTPS",
        "fqdn": "abc.execute-api.example",
        "tags": {"Name": f"payment-health-{kind}-{region}-dev"},
        **extra,
    }
    if interval is not None:
        inputs["requestInterval"] = interval
    if threshold is not None:
        inputs["failureThreshold"] = threshold
    return record(HC, f"health-{kind}-{region}", inputs, on=GLOBAL)


def api_stack(interval: int, threshold: int, *, alias: bool = True, ttl: int = 60):
    domain = record(
        DOMAIN,
        "us-east-1-api-domain",
        {"domainName": "api.payments.example.com"},
        on=PRIMARY,
        outputs={"regionalDomainName": "d-1.execute-api.us-east-1.amazonaws.com"},
    )
    check = https_check("api", "us-east-1", interval, threshold)
    target = (
        {"aliases": [{"name": "d-1.execute-api.us-east-1.amazonaws.com", "zoneId": "Z1", "evaluateTargetHealth": True}]}
        if alias
        else {"records": ["d-1.execute-api.us-east-1.amazonaws.com"], "ttl": ttl}
    )
    primary = record(
        RECORD,
        "api-primary",
        {
            "name": "api.payments.example.com",
            "type": "A" if alias else "CNAME",
            "failoverRoutingPolicies": [{"type": "PRIMARY"}],
            "healthCheckId": "health-api-us-east-1-id",
            "setIdentifier": "us-east-1",
            **target,
        },
        on=GLOBAL,
        deps=[check, domain],
    )
    return [PRIMARY, SECONDARY, GLOBAL, domain, check, primary]


@pytest.mark.parametrize("interval,threshold", [(10, 3), (30, 3), (10, 1), (30, 10)])
def test_api_rto_is_interval_times_threshold_plus_the_alias_ttl(interval, threshold):
    result = compute(evaluation(*api_stack(interval, threshold)))
    detection, dns, caching = result.api.parts
    assert detection.seconds == interval * threshold
    assert "api-primary" in detection.what and "requestInterval" in detection.source
    assert dns.seconds == FIGURES["alias-ttl"].value and FIGURES["alias-ttl"].source in dns.source
    assert not caching.counted
    assert result.api.seconds == interval * threshold + FIGURES["alias-ttl"].value


def test_a_record_ttl_is_read_from_the_record_not_assumed():
    result = compute(evaluation(*api_stack(10, 3, alias=False, ttl=45)))
    assert result.api.parts[1].seconds == 45
    assert result.api.seconds == 10 * 3 + 45


def test_unset_interval_and_threshold_use_route53_defaults_and_say_so():
    result = compute(evaluation(*api_stack(None, None)))
    detection = result.api.parts[0]
    assert detection.seconds == FIGURES["route53-default-interval"].value * FIGURES["route53-default-threshold"].value
    assert "default interval (AWS)" in detection.source


def test_a_health_check_id_only_known_after_apply_is_followed_through_the_dependencies():
    records = api_stack(10, 3)
    records[-1].inputs["healthCheckId"] = "<computed>"
    assert compute(evaluation(*records)).api.parts[0].seconds == 30


def db_pieces(period: int, evaluation_periods: int, datapoints: int | None = None):
    alarm_inputs = {
        "name": "payment-db-probe-us-east-1-dev",
        "metricName": "ProbeFailures",
        "namespace": "PaymentDR",
        "period": period,
        "evaluationPeriods": evaluation_periods,
        "threshold": 1,
    }
    if datapoints is not None:
        alarm_inputs["datapointsToAlarm"] = datapoints
    alarm = record(
        ALARM, "db-probe-alarm-us-east-1", alarm_inputs, on=provider("us-east-1", "global", "aws-global-us-east-1")
    )
    check = record(
        HC,
        "health-db-us-east-1",
        {
            "type": "CLOUDWATCH_METRIC",
            "cloudwatchAlarmName": "payment-db-probe-us-east-1-dev",
            "cloudwatchAlarmRegion": "us-east-1",
            "insufficientDataHealthStatus": "Unhealthy",
            "tags": {"Name": "payment-health-db-us-east-1-dev"},
        },
        on=GLOBAL,
        deps=[alarm],
    )
    return alarm, check


@pytest.mark.parametrize(
    "period,evaluations,datapoints,expected", [(60, 3, None, 60 * 4), (60, 5, 2, 60 * 3), (10, 3, None, 40)]
)
def test_a_cloudwatch_metric_check_takes_its_alarms_datapoints_plus_one_period(
    period, evaluations, datapoints, expected
):
    alarm, check = db_pieces(period, evaluations, datapoints)
    result = compute(evaluation(PRIMARY, GLOBAL, alarm, check))
    db = next(c for c in result.health_checks if c.kind == "db")
    assert (db.seconds, db.region) == (expected, "us-east-1")
    assert "payment-db-probe-us-east-1-dev" in db.basis
    detection, promotion, *_ = result.writes.parts
    assert detection.seconds == expected
    assert promotion.seconds == FIGURES["aurora-promotion"].value
    assert result.writes.seconds == expected + FIGURES["aurora-promotion"].value


def test_an_extreme_statistic_breaches_the_period_the_failure_starts_in():
    alarm, check = db_pieces(60, 1)
    alarm.inputs.update({"statistic": "Minimum", "comparisonOperator": "LessThanThreshold"})
    assert compute(evaluation(PRIMARY, GLOBAL, alarm, check)).health_checks[0].seconds == 60
    alarm.inputs.update({"statistic": "Average"})
    assert compute(evaluation(PRIMARY, GLOBAL, alarm, check)).health_checks[0].seconds == 120


@pytest.mark.parametrize("child_threshold,expected", [(2, 30), (1, 240)])
def test_a_calculated_check_fails_when_enough_children_have(child_threshold, expected):
    api = https_check("api", "us-east-1", 10, 3)
    alarm, db = db_pieces(60, 3)
    region = record(
        HC,
        "health-region-us-east-1",
        {
            "type": "CALCULATED",
            "childHealthchecks": ["health-api-us-east-1-id", "health-db-us-east-1-id"],
            "childHealthThreshold": child_threshold,
            "tags": {"Name": "payment-health-region-us-east-1-dev"},
        },
        on=GLOBAL,
    )
    result = compute(evaluation(PRIMARY, GLOBAL, api, alarm, db, region))
    assert next(c for c in result.health_checks if c.kind == "region").seconds == expected
    # Without a failover record, the API's detection is the primary region's `region` check.
    assert result.api.parts[0].seconds == expected and "region check of the primary region" in result.api.parts[0].what


def test_a_private_database_record_adds_its_ttl_to_the_writes():
    alarm, check = db_pieces(60, 3)
    cluster = record(
        "aws:rds/cluster:Cluster",
        "aurora-us-east-1",
        {"clusterIdentifier": "payment-db-us-east-1-dev"},
        on=PRIMARY,
        outputs={"endpoint": "payment-db-us-east-1-dev.cluster-000000000000.us-east-1.rds.amazonaws.com"},
    )
    db_record = record(
        RECORD,
        "db-primary",
        {
            "name": "writer.db.internal",
            "type": "CNAME",
            "ttl": 15,
            "records": ["payment-db-us-east-1-dev.cluster-000000000000.us-east-1.rds.amazonaws.com"],
            "failoverRoutingPolicies": [{"type": "PRIMARY"}],
            "healthCheckId": "health-db-us-east-1-id",
        },
        on=GLOBAL,
        deps=[check, cluster],
    )
    result = compute(evaluation(PRIMARY, GLOBAL, alarm, check, cluster, db_record))
    assert result.writes.seconds == 240 + FIGURES["aurora-promotion"].value + 15
    # The database record is not mistaken for the API's.
    assert result.api.parts[1].missing


def test_what_the_stack_does_not_declare_is_reported_not_invented():
    result = compute(evaluation(PRIMARY, SECONDARY, GLOBAL))
    assert result.health_checks == ()
    assert result.api.seconds is None and result.writes.seconds is None
    assert all(p.missing and NOT_FOUND in p.source for p in result.api.parts if p.counted)
    assert result.writes.parts[0].missing
    assert [r.store for r in result.rpo] == [
        "Aurora",
        "DynamoDB global tables",
        "S3 with RTC",
        "Ledger of record (Aurora)",
    ]
    assert all(r.missing and r.seconds is None and NOT_FOUND in r.source for r in result.rpo)
    text = budget.format_text(result)
    assert "incomplete" in text and NOT_FOUND in text
    assert "Aurora global cluster: not found in the stack" in text


def test_rpo_reads_the_lag_alarm_the_rpo_parameter_rtc_minutes_and_the_replication_alarms():
    home = PRIMARY
    pieces = [
        record(
            "aws:rds/globalCluster:GlobalCluster",
            "aurora-global",
            {"globalClusterIdentifier": "payment-global-dev"},
            on=GLOBAL,
        ),
        record(
            "aws:rds/clusterParameterGroup:ClusterParameterGroup",
            "us-east-1-db",
            {"parameters": [{"name": "rds.force_ssl", "value": "1"}, {"name": "rds.global_db_rpo", "value": "25"}]},
            on=home,
        ),
        record(
            ALARM,
            "lag-us-east-2",
            {
                "name": "payment-aurora-lag-us-east-2-dev",
                "metricName": "AuroraGlobalDBReplicationLag",
                "namespace": "AWS/RDS",
                "threshold": 1000,
                "period": 60,
                "evaluationPeriods": 1,
            },
            on=SECONDARY,
        ),
        record(
            "aws:dynamodb/table:Table",
            "dynamodb-transactions",
            {"name": "payment-transactions-dev", "replicas": [{"regionName": "us-east-2"}]},
            on=home,
        ),
        record(
            ALARM,
            "ddb-lag",
            {
                "name": "payment-ddb-lag-dev",
                "metricName": "ReplicationLatency",
                "namespace": "AWS/DynamoDB",
                "threshold": 1000,
                "period": 60,
                "evaluationPeriods": 5,
            },
            on=home,
        ),
        record(
            "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
            "s3-replication",
            {"rules": [{"destination": {"replicationTime": {"status": "Enabled", "time": {"minutes": 15}}}}]},
            on=home,
        ),
    ]
    result = compute(evaluation(PRIMARY, SECONDARY, GLOBAL, *pieces))
    aurora = result.rpo_of("Aurora, unplanned")
    assert aurora.seconds == 25 and "rds.global_db_rpo" in aurora.source
    assert "payment-aurora-lag-us-east-2-dev" in aurora.alarm and "1000 ms" in aurora.alarm and "120 s" in aurora.alarm
    assert result.rpo_of("Aurora, switchover").seconds == FIGURES["aurora-switchover-rpo"].value == 0
    dynamodb = result.rpo_of("DynamoDB")
    assert dynamodb.seconds == FIGURES["dynamodb-replication"].value and dynamodb.alarm == "payment-ddb-lag-dev"
    s3 = result.rpo_of("S3")
    assert s3.seconds == 15 * 60 and NOT_FOUND in s3.alarm


def test_every_figure_cites_a_source():
    for key, figure in FIGURES.items():
        assert figure.source and figure.statement, key
        assert figure.source.startswith(
            ("Route53/", "AmazonRDS/", "AmazonS3/", "amazondynamodb/", "aws.amazon.com/")
        ), key


def test_the_budget_doc_cites_every_figure():
    doc = (engine.ROOT / "docs" / "recovery-budget.md").read_text()
    for key, figure in FIGURES.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{key}` |")), None)
        assert row is not None and figure.source in row, key
