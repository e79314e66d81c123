"""Alarms and dashboards in every region, and the Route 53 health-check alarms in us-east-1
(region_factory/monitoring.py, region_factory/dashboard.py, global_resources/health_alarms.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core import alarms as alarm_names
from core import routing
from core.providers import ROUTE53_METRICS_REGION
from global_resources import failover
from plan import engine
from plan.engine import Evaluation, ResourceRecord
from tests.conftest import deployed_in, example_config

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
REGIONAL = "payment-dr:region:RegionalStack"
HEALTH_ALARMS = "payment-dr:global:HealthAlarms"
SEARCH = re.compile(r"^SEARCH\('\{(?P<schema>[^}]*)\} (?P<terms>.*)', '(?P<stat>\w+)', (?P<period>\d+)\)$")
TABLES = {"payment-transactions-dev", "payment-idempotency-dev"}
BUCKET_BASES = ("payment-audit-logs", "payment-receipts")


@pytest.fixture(scope="module")
def west() -> Evaluation:
    """us-east-1 not deployed, and a lag threshold below the default: the one extra evaluation here."""
    return engine.evaluate(deployed_in(["us-west-2", "us-east-2"], replicationLagThresholdMs=250))


def regions_of(evaluation: Evaluation) -> list[str]:
    return sorted({r.region for r in evaluation.resources if r.type == "pulumi:providers:aws"} - {None})


def deployed(evaluation: Evaluation) -> list[str]:
    return sorted({r.region for r in evaluation.of_type("aws:ec2/vpc:Vpc")})


def regional_topic(evaluation: Evaluation, region: str) -> ResourceRecord:
    """The failover topic the region factory built for this region (RegionalStack.alerts.topic)."""
    return evaluation.one(
        TOPIC, lambda t: t.region == region and any(a.type == REGIONAL for a in evaluation.ancestors(t))
    )


def alarms(evaluation: Evaluation, **where: Any) -> list[ResourceRecord]:
    return [a for a in evaluation.of_type(ALARM) if all(a.inputs.get(k) == v for k, v in where.items())]


def dims(alarm: ResourceRecord) -> dict[str, str]:
    return alarm.inputs["dimensions"]


def bucket(base: str, region: str) -> str:
    return f"{base}-{region}-dev"


def dashboard_of(evaluation: Evaluation, region: str) -> ResourceRecord:
    return evaluation.one(DASHBOARD, lambda d: d.region == region)


def widgets(record: ResourceRecord) -> list[dict[str, Any]]:
    return json.loads(record.inputs["dashboardBody"])["widgets"]


def parse_search(expression: str) -> tuple[list[str], dict[str, str]]:
    match = SEARCH.match(expression)
    assert match, expression
    return match["schema"].split(","), dict(re.findall(r'(\w+)="([^"]*)"', match["terms"]))


def layout(record: ResourceRecord) -> str:
    """The body with its region abstracted; health-check alarm ARNs keep their region (always us-east-1)."""
    text = re.sub(
        rf"arn:aws:cloudwatch:{ROUTE53_METRICS_REGION}:(\d+):alarm:payment-health-",
        r"arn:aws:cloudwatch:{route53-metrics}:\1:alarm:payment-health-",
        record.inputs["dashboardBody"],
    )
    return text.replace(record.region, "{region}")


# --- the Aurora replication-lag alarm --------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "three_regions"])
def test_every_region_alarms_on_its_own_clusters_lag_above_one_second(stack, request):
    evaluation = request.getfixturevalue(stack)
    regions = deployed(evaluation)
    assert len(regions) == {"dev": 2, "three_regions": 3}[stack]
    for region in regions:
        lag = evaluation.one(
            ALARM, lambda a: a.region == region and a.inputs["metricName"] == "AuroraGlobalDBReplicationLag"
        )
        cluster = f"payment-db-{region}-dev"
        assert (
            evaluation.one("aws:rds/cluster:Cluster", lambda c: c.inputs["clusterIdentifier"] == cluster).region
            == region
        )
        assert lag.inputs["name"] == "payment-aurora-replication-lag-dev"
        assert dims(lag) == {"DBClusterIdentifier": cluster}
        assert (lag.inputs["namespace"], lag.inputs["statistic"], lag.inputs["comparisonOperator"]) == (
            "AWS/RDS",
            "Maximum",
            "GreaterThanThreshold",
        )
        assert lag.inputs["threshold"] == 1000
        # Standard-resolution metric: one 60-second period, one datapoint; no data in the primary is not a breach.
        assert (lag.inputs["period"], lag.inputs["evaluationPeriods"], lag.inputs["datapointsToAlarm"]) == (60, 1, 1)
        assert lag.inputs["treatMissingData"] == "notBreaching"
        topic = regional_topic(evaluation, region).outputs["arn"]
        assert lag.inputs["alarmActions"] == [topic] and lag.inputs["okActions"] == [topic]
        assert any(a.type == REGIONAL for a in evaluation.ancestors(lag)), "the lag alarm belongs to the regional stack"


def test_the_lag_threshold_follows_replicationLagThresholdMs(west):
    lags = alarms(west, metricName="AuroraGlobalDBReplicationLag")
    assert sorted(a.region for a in lags) == ["us-east-2", "us-west-2"]
    assert all(a.inputs["threshold"] == 250 for a in lags)
    for region in ("us-east-2", "us-west-2"):
        [graph] = [
            w
            for w in widgets(dashboard_of(west, region))
            if "Aurora global database lag" in w["properties"].get("title", "")
        ]
        assert graph["properties"]["annotations"]["horizontal"] == [{"label": "alarm", "value": 250}]


# --- every alarm reports to one topic ----------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "three_regions", "west"])
def test_every_alarm_reports_both_ways_to_exactly_its_regions_topic(stack, request):
    evaluation = request.getfixturevalue(stack)
    found = evaluation.of_type(ALARM)
    assert len({(a.region, a.inputs["name"]) for a in found}) == len(found), "alarm names repeat within a region"
    # The one alarm that pages nobody: writability, in ALARM by design in every secondary region; it only
    # backs the `writer` Route 53 check (region_factory/probe.py).
    silent = [a for a in found if a.inputs["name"] == "payment-db-writable-dev"]
    assert len(silent) == len(deployed(evaluation)) and all(
        not a.inputs.get("alarmActions") and not a.inputs.get("okActions") for a in silent
    )
    assert not [a for a in found if a.inputs["name"].startswith("payment-health-writer-")], (
        "an alarm on a standing-unhealthy writer check"
    )
    for alarm in (a for a in found if a not in silent):
        topic = evaluation.by_output("arn", alarm.inputs["alarmActions"][0])
        assert topic.type == TOPIC and topic.region == alarm.region, alarm.inputs["name"]
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.outputs["arn"]], alarm.inputs["name"]
        assert not alarm.inputs.get("insufficientDataActions")
        health_alarm = any(a.type == HEALTH_ALARMS for a in evaluation.ancestors(alarm))
        if alarm.region in deployed(evaluation) and not health_alarm:
            assert topic.urn == regional_topic(evaluation, alarm.region).urn, alarm.inputs["name"]
        if health_alarm:
            assert topic.inputs["name"] == "payment-health-check-events-dev", alarm.inputs["name"]


# --- replication links: one alarm per other region ---------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "three_regions", "west"])
def test_each_region_alarms_on_every_link_with_every_other_region(stack, request):
    evaluation = request.getfixturevalue(stack)
    regions = deployed(evaluation)
    for region in regions:
        others = [r for r in regions if r != region]
        ddb = alarms(evaluation, namespace="AWS/DynamoDB")
        assert sorted((dims(a)["TableName"], dims(a)["ReceivingRegion"]) for a in ddb if a.region == region) == sorted(
            (table, other) for table in TABLES for other in others
        )
        s3 = [a for a in alarms(evaluation, namespace="AWS/S3") if a.region == region]
        incoming = {
            tuple(dims(a)[k] for k in ("SourceBucket", "DestinationBucket", "RuleId"))
            for a in s3
            if a.inputs["metricName"] == "ReplicationLatency"
        }
        outgoing = {
            tuple(dims(a)[k] for k in ("SourceBucket", "DestinationBucket", "RuleId"))
            for a in s3
            if a.inputs["metricName"] == "OperationsFailedReplication"
        }
        assert incoming == {(bucket(b, o), bucket(b, region), f"to-{region}") for b in BUCKET_BASES for o in others}
        assert outgoing == {(bucket(b, region), bucket(b, o), f"to-{o}") for b in BUCKET_BASES for o in others}
        assert len(s3) == 2 * len(incoming)
    if len(regions) == 3:
        assert len(alarms(evaluation, namespace="AWS/DynamoDB")) == 3 * 2 * len(TABLES)  # two receiving regions each


def test_link_alarms_watch_the_rules_and_buckets_the_data_tier_built(three_regions):
    """Rule ids and bucket names in the alarms are the ones S3 replicates with (not just the same pattern)."""
    buckets = {b.inputs["bucket"]: b.region for b in three_regions.of_type("aws:s3/bucket:Bucket")}
    rules = set()
    for config in three_regions.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        for rule in config.inputs["rules"]:
            destination = rule["destination"]["bucket"].removeprefix("arn:aws:s3:::")
            rules.add((config.inputs["bucket"], destination, rule["id"]))
            assert rule["id"] == alarm_names.replication_rule_id(buckets[destination])
    assert len(rules) == 3 * 2 * 2
    for metric in ("ReplicationLatency", "OperationsFailedReplication"):
        watched = {
            (dims(a)["SourceBucket"], dims(a)["DestinationBucket"], dims(a)["RuleId"])
            for a in alarms(three_regions, namespace="AWS/S3", metricName=metric)
        }
        assert watched == rules, metric
    for alarm in alarms(three_regions, namespace="AWS/S3", metricName="ReplicationLatency"):
        assert buckets[dims(alarm)["DestinationBucket"]] == alarm.region, (
            "latency is published in the destination's region"
        )
    for alarm in alarms(three_regions, metricName="OperationsFailedReplication"):
        assert buckets[dims(alarm)["SourceBucket"]] == alarm.region, "failures are published in the source's region"
    assert {t.inputs["name"] for t in three_regions.of_type("aws:dynamodb/table:Table")} == TABLES


def test_link_alarm_thresholds(dev):
    for alarm in alarms(dev, namespace="AWS/DynamoDB"):
        assert (alarm.inputs["statistic"], alarm.inputs["period"], alarm.inputs["threshold"]) == ("Average", 300, 5000)
    for alarm in alarms(dev, metricName="ReplicationLatency", namespace="AWS/S3"):
        assert (alarm.inputs["statistic"], alarm.inputs["threshold"], alarm.inputs["comparisonOperator"]) == (
            "Maximum",
            900,
            "GreaterThanThreshold",
        )
    for alarm in alarms(dev, metricName="OperationsFailedReplication"):
        assert (alarm.inputs["statistic"], alarm.inputs["threshold"], alarm.inputs["treatMissingData"]) == (
            "Sum",
            0,
            "notBreaching",
        )
    assert len(alarms(dev, namespace="AWS/S3")) == 2 * 2 * 2


def test_service_alarms_watch_this_regions_api_and_function(dev):
    for region in deployed(dev):
        [api] = [a for a in alarms(dev, metricName="5XXError") if a.region == region]
        stage = dev.one("aws:apigateway/stage:Stage", lambda s: s.region == region)
        rest_api = dev.one("aws:apigateway/restApi:RestApi", lambda r: r.region == region)
        assert dims(api) == {"ApiName": rest_api.inputs["name"], "Stage": stage.inputs["stageName"]}
        [errors] = [a for a in alarms(dev, namespace="AWS/Lambda") if a.region == region]
        function = dev.one(
            "aws:lambda/function:Function", lambda f: f.region == region and f.inputs["name"] == "payment-validator-dev"
        )
        assert dims(errors) == {"FunctionName": function.inputs["name"]} and errors.inputs["metricName"] == "Errors"


# --- Route 53 health-check alarms (us-east-1) ------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "three_regions", "west"])
def test_every_health_check_has_one_alarm_in_us_east_1(stack, request):
    evaluation = request.getfixturevalue(stack)
    # The per-region checks; a hold pages through its own alarm in the holder region (global_resources/failover.py).
    # The `writer` checks are left out too: a secondary's is unhealthy by design (its cluster is a reader).
    checks = {
        c.outputs["id"]: c
        for c in evaluation.of_type("aws:route53/healthCheck:HealthCheck")
        if "-hold-" not in c.inputs["tags"]["Name"]
        and not c.inputs["tags"]["Name"].startswith("payment-health-writer-")
    }
    assert len(checks) == (len(failover.KINDS) - 1) * len(deployed(evaluation))
    health = alarms(evaluation, namespace="AWS/Route53")
    assert sorted(dims(a)["HealthCheckId"] for a in health) == sorted(checks)
    for alarm in health:
        check = checks[dims(alarm)["HealthCheckId"]]
        assert alarm.region == ROUTE53_METRICS_REGION
        # Named like the check it watches: payment-health-<kind>-<region>-<suffix>.
        assert alarm.inputs["name"] == check.inputs["tags"]["Name"]
        assert (
            alarm.inputs["metricName"],
            alarm.inputs["statistic"],
            alarm.inputs["comparisonOperator"],
            alarm.inputs["threshold"],
        ) == ("HealthCheckStatus", "Minimum", "LessThanThreshold", 1)
        assert alarm.inputs["treatMissingData"] == "breaching"


def test_health_alarms_keep_their_own_topic_when_us_east_1_is_deployed(dev, three_regions):
    for evaluation in (dev, three_regions):
        [own] = [t for t in evaluation.of_type(TOPIC) if any(a.type == HEALTH_ALARMS for a in evaluation.ancestors(t))]
        assert own.region == ROUTE53_METRICS_REGION and own.inputs["name"] == "payment-health-check-events-dev"
        assert own.outputs["arn"] != regional_topic(evaluation, ROUTE53_METRICS_REGION).outputs["arn"]
        assert {tuple(a.inputs["alarmActions"]) for a in alarms(evaluation, namespace="AWS/Route53")} == {
            (own.outputs["arn"],)
        }


def test_health_alarms_bring_their_own_us_east_1_topic_when_us_east_1_is_not_deployed(west):
    assert deployed(west) == ["us-east-2", "us-west-2"]
    [topic] = [t for t in west.of_type(TOPIC) if t.region == ROUTE53_METRICS_REGION]
    assert any(a.type == HEALTH_ALARMS for a in west.ancestors(topic))
    assert topic.inputs["name"] == "payment-health-check-events-dev"
    key = west.by_output("arn", topic.inputs["kmsMasterKeyId"])
    assert key.type == "aws:kms/key:Key" and key.region == ROUTE53_METRICS_REGION and key.inputs["enableKeyRotation"]
    policy = west.one("aws:sns/topicPolicy:TopicPolicy", lambda p: p.region == ROUTE53_METRICS_REGION)
    assert policy.inputs["arn"] == topic.outputs["arn"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and s["Effect"] == "Allow" for s in statements)
    subscriptions = [
        s for s in west.of_type("aws:sns/topicSubscription:TopicSubscription") if s.region == ROUTE53_METRICS_REGION
    ]
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(example_config()["alertEmails"])
    assert all(s.inputs["topic"] == topic.outputs["arn"] for s in subscriptions)
    health = alarms(west, namespace="AWS/Route53")
    assert len(health) == 2 * len(routing.ALARMED_CHECK_KINDS) and {a.region for a in health} == {
        ROUTE53_METRICS_REGION
    }
    assert {tuple(a.inputs["alarmActions"]) for a in health} == {(topic.outputs["arn"],)}
    # The health-alarm topic is global: its provider tags say so, not a DR role.
    provider = west.by_urn(topic.provider_urn)
    assert provider.inputs["defaultTags"]["tags"]["DR-Role"] == "global"


# --- dashboards ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "three_regions", "west"])
def test_one_dashboard_per_region_named_for_its_region(stack, request):
    evaluation = request.getfixturevalue(stack)
    names = {d.region: d.inputs["dashboardName"] for d in evaluation.of_type(DASHBOARD)}
    # Dashboards are global to the account: one name per region.
    assert names == {region: f"payment-dr-{region}-dev" for region in deployed(evaluation)}


@pytest.mark.parametrize("stack", ["dev", "three_regions", "west"])
def test_dashboard_widgets_show_this_regions_resources(stack, request):
    evaluation = request.getfixturevalue(stack)
    for region in deployed(evaluation):
        record = dashboard_of(evaluation, region)
        own = {
            f"payment-db-{region}-dev",
            "payment-api-dev",
            "payment-validator-dev",
            "payment-ledger-failures-dev",
            *TABLES,
        }
        own_buckets = {bucket(b, region) for b in BUCKET_BASES}
        seen = {"metrics": set(), "searches": set(), "alarms": set()}
        for widget in widgets(record):
            properties = widget["properties"]
            if widget["type"] == "metric":
                assert properties["region"] == region
                for entry in properties["metrics"]:
                    if isinstance(entry[0], dict):
                        schema, filters = parse_search(entry[0]["expression"])
                        assert filters.pop("MetricName") and filters, entry
                        assert set(filters.values()) <= own | own_buckets, entry
                        # The per-other-region dimension stays open: SEARCH lists every other region.
                        assert {"ReceivingRegion", "RuleId"} & set(schema) and not {"ReceivingRegion", "RuleId"} & set(
                            filters
                        ), entry
                        seen["searches"].add((schema[0], *filters.values()))
                    else:
                        namespace, metric, *rest = entry
                        pairs = [item for item in rest if not isinstance(item, dict)]
                        values = set(pairs[1::2])
                        # The ledger's lag has no dimension (one poster per region publishes it in its region).
                        assert (values and values <= own) or (namespace, values) == ("PaymentDR/Ledger", set()), entry
                        seen["metrics"].add((namespace, metric))
            elif widget["type"] == "alarm":
                for arn in properties["alarms"]:
                    alarm = evaluation.by_output("arn", arn)
                    assert alarm.type == ALARM, arn
                    seen["alarms"].add(alarm.urn)
                    if alarm.inputs["namespace"] == "AWS/Route53":
                        check = evaluation.by_output("id", dims(alarm)["HealthCheckId"])
                        assert check.inputs["tags"]["Name"].endswith(f"-{region}-dev"), "another region's health check"
                    else:
                        assert alarm.region == region
        assert {
            ("AWS/RDS", "AuroraGlobalDBReplicationLag"),
            ("AWS/RDS", "AuroraGlobalDBRPOLag"),
            ("AWS/ApiGateway", "5XXError"),
            ("AWS/ApiGateway", "4XXError"),
            ("AWS/ApiGateway", "Latency"),
            ("AWS/Lambda", "Errors"),
            ("AWS/Lambda", "Throttles"),
            ("AWS/Lambda", "Duration"),
            ("PaymentDR/DatabaseProbe", "DatabaseReachable"),
            ("PaymentDR/DatabaseProbe", "ProbeLatencyMs"),
            ("PaymentDR/DatabaseProbe", "DatabaseWritable"),
        } <= seen["metrics"]
        assert {("AWS/DynamoDB", t) for t in TABLES} | {("AWS/S3", b) for b in own_buckets} <= seen["searches"]
        # This region's own alarms (the probe's included) and its three health checks.
        # Links are left out: the replication alarms (SEARCH graphs instead), and the holds and canary alarms, which
        # name other regions (the region's own `region` health-check alarm shows when it is held out).
        links = ("AWS/DynamoDB", "AWS/S3", "AWS/Route53", "PaymentDR/Routing", "PaymentDR/Canary")
        own_alarms = [a for a in evaluation.of_type(ALARM) if a.region == region and a.inputs["namespace"] not in links]
        assert {a.urn for a in own_alarms} | {
            a.urn for a in alarms(evaluation, namespace="AWS/Route53") if a.inputs["name"].endswith(f"-{region}-dev")
        } == seen["alarms"]


def test_every_dashboard_has_the_same_layout_and_names_no_other_deployed_region(dev, three_regions, west):
    layouts = set()
    for evaluation in (dev, three_regions, west):
        regions = deployed(evaluation)
        for region in regions:
            text = layout(dashboard_of(evaluation, region))
            assert not [other for other in regions if other in text], f"{region}'s dashboard names another region"
            layouts.add(text.replace('"value": 250', '"value": 1000'))  # west's lag threshold
    assert len(layouts) == 1
    # Adding a region changes no dashboard that exists.
    assert dashboard_of(dev, "us-east-1").inputs == dashboard_of(three_regions, "us-east-1").inputs


def test_dashboard_rows_fill_the_grid_without_overlap(dev):
    cells = set()
    for widget in widgets(dashboard_of(dev, "us-east-1")):
        assert widget["x"] + widget["width"] <= 24
        covered = {
            (x, y)
            for x in range(widget["x"], widget["x"] + widget["width"])
            for y in range(widget["y"], widget["y"] + widget["height"])
        }
        assert not covered & cells
        cells |= covered
