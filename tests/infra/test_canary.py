"""The canary in every region (global_resources/canary.py), as the global layer declares it."""

from __future__ import annotations

import json

import pytest

from core import routing
from global_resources import canary
from plan.engine import MOCK_ACCOUNT_ID, Evaluation, ResourceRecord
from region_factory import probe
from tests.infra.helpers import policy_statements

FUNCTION = "aws:lambda/function:Function"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
THREE = ["us-east-1", "us-east-2", "us-west-2"]
DOMAIN = "api.payments.example.com"


def canary_function(evaluation: Evaluation, region: str) -> ResourceRecord:
    return evaluation.one(FUNCTION, lambda f: f.region == region and f.inputs["name"] == "payment-canary-dev")


def test_every_region_runs_a_canary_outside_any_vpc(three_regions):
    for region in THREE:
        function = canary_function(three_regions, region).inputs
        assert "vpcConfig" not in function or not function["vpcConfig"]  # a NAT or VPC failure must not blind it
        assert not function.get("layers")  # stdlib and boto3 only
        assert (function["runtime"], function["handler"], function["reservedConcurrentExecutions"]) == (
            "python3.13",
            "app.lambda_handler",
            1,
        )
        assert set(function["code"]["archive"]) == {"app.py"}
        assert (
            routing.CANARY_ROUNDS * routing.CANARY_INTERVAL_SECONDS
            < function["timeout"] + routing.CANARY_INTERVAL_SECONDS
            <= 90
        )
        rule = three_regions.one(
            "aws:cloudwatch/eventRule:EventRule",
            lambda r: r.region == region and r.inputs["name"] == "payment-canary-dev",
        )
        assert rule.inputs["scheduleExpression"] == routing.CANARY_SCHEDULE == "rate(1 minute)"
        target = three_regions.one(
            "aws:cloudwatch/eventTarget:EventTarget",
            lambda t: t.region == region and t.inputs["rule"] == "payment-canary-dev",
        )
        assert target.inputs["arn"] == canary_function(three_regions, region).outputs["arn"]


def test_the_canary_environment_names_the_chain_targets_and_threshold(three_regions):
    """What the simulation reads: the variables core/routing.py names, the same in every region."""
    envs = [canary_function(three_regions, region).inputs["environment"]["variables"] for region in THREE]
    assert all(env == envs[0] for env in envs)
    env = envs[0]
    assert env[routing.CANARY_ENV_CHAIN] == ",".join(THREE)
    assert env[routing.CANARY_ENV_FAILURE_THRESHOLD] == "3"
    assert (env[routing.CANARY_ENV_INTERVAL], env[routing.CANARY_ENV_ROUNDS]) == ("10", "6")
    assert (env[routing.CANARY_ENV_NAMESPACE], env[routing.CANARY_ENV_ROUTING_NAMESPACE]) == (
        "PaymentDR/Canary",
        "PaymentDR/Routing",
    )
    targets = json.loads(env[routing.CANARY_ENV_TARGETS])
    assert targets.pop(routing.PUBLIC_TARGET) == f"https://{DOMAIN}/health"
    # Each region's /health exactly where its Route 53 api check probes it.
    for region, url in targets.items():
        api = three_regions.one(
            "aws:route53/healthCheck:HealthCheck",
            lambda c: c.inputs["tags"]["Name"] == f"payment-health-api-{region}-dev",
        )
        assert url == f"https://{api.inputs['fqdn']}{api.inputs['resourcePath']}"
    assert sorted(targets) == sorted(THREE)
    # Every region's probe alarm, by name: the one each other region's canary describes there.
    alarms = json.loads(env[routing.CANARY_ENV_CLOUDWATCH_ALARMS])
    assert alarms == {region: probe_alarm(three_regions, region).inputs["name"] for region in THREE}


def probe_alarm(evaluation: Evaluation, region: str) -> ResourceRecord:
    return evaluation.one(ALARM, lambda a: a.region == region and a.inputs["name"] == "payment-db-reachable-dev")


def test_the_threshold_is_capped_at_one_invocations_rounds(config):
    from plan import engine

    evaluation = engine.evaluate({**config, "healthCheckFailureThreshold": "9"})
    env = canary_function(evaluation, "us-east-2").inputs["environment"]["variables"]
    assert env[routing.CANARY_ENV_FAILURE_THRESHOLD] == "6"


@pytest.mark.parametrize("stack", ["dev", "three_regions"])
def test_the_canary_may_log_publish_its_two_namespaces_and_describe_other_regions_probe_alarms_only(stack, request):
    dev = request.getfixturevalue(stack)
    regions = sorted({v.region for v in dev.of_type("aws:ec2/vpc:Vpc")})
    for region in regions:
        function = canary_function(dev, region)
        role = dev.by_output("arn", function.inputs["role"])
        assert role.inputs["name"] == f"payment-canary-{region}-dev"
        policy = dev.one("aws:iam/rolePolicy:RolePolicy", lambda p: p.inputs["role"] == role.outputs["id"])
        statements = {s["Sid"]: s for s in policy_statements(policy.inputs["policy"])}
        assert set(statements) == {"OwnLogGroup", "PutCanaryMetricsAndHolds", "AskOtherRegionsCloudWatch"}
        log_group = dev.one(
            "aws:cloudwatch/logGroup:LogGroup",
            lambda g: g.region == region and g.inputs["name"] == "/aws/lambda/payment-canary-dev",
        )
        assert statements["OwnLogGroup"]["Resource"] == [log_group.outputs["arn"], log_group.outputs["arn"] + ":*"]
        metrics = statements["PutCanaryMetricsAndHolds"]
        assert metrics["Action"] == ["cloudwatch:PutMetricData"] or metrics["Action"] == "cloudwatch:PutMetricData"
        assert metrics["Condition"] == {
            "StringEquals": {"cloudwatch:namespace": ["PaymentDR/Canary", "PaymentDR/Routing"]}
        }
        assert function.inputs["loggingConfig"]["logGroup"] == log_group.inputs["name"]
        # Read-only, on exactly the other regions' probe alarms (never its own region's, never a wildcard).
        describe = statements["AskOtherRegionsCloudWatch"]
        assert (
            describe["Action"] in (["cloudwatch:DescribeAlarms"], "cloudwatch:DescribeAlarms")
            and "Condition" not in describe
        )
        assert sorted(describe["Resource"]) == sorted(
            f"arn:aws:cloudwatch:{other}:{MOCK_ACCOUNT_ID}:alarm:{probe_alarm(dev, other).inputs['name']}"
            for other in regions
            if other != region
        )


@pytest.mark.parametrize("stack", ["dev", "three_regions"])
def test_one_alarm_per_target_in_each_region_pages_that_regions_topic_and_silence_pages(stack, request):
    evaluation = request.getfixturevalue(stack)
    regions = sorted({v.region for v in evaluation.of_type("aws:ec2/vpc:Vpc")})
    for region in regions:
        alarms = [
            a
            for a in evaluation.of_type(ALARM)
            if a.region == region and a.inputs["namespace"] == routing.CANARY_NAMESPACE
        ]
        watched = [routing.cloudwatch_target(other) for other in regions if other != region]
        assert sorted(a.inputs["dimensions"]["Target"] for a in alarms) == sorted([*regions, "public", *watched])
        for alarm in alarms:
            inputs = alarm.inputs
            assert inputs["name"] == f"payment-canary-{inputs['dimensions']['Target']}-dev"
            assert (inputs["metricName"], inputs["statistic"], inputs["period"], inputs["comparisonOperator"]) == (
                "TargetHealthy",
                "Average",
                60,
                "LessThanThreshold",
            )
            assert inputs["threshold"] == probe.alarm_threshold(3)
            assert inputs["treatMissingData"] == "breaching"
            topic = evaluation.by_output("arn", inputs["alarmActions"][0])
            assert topic.region == region and topic.inputs["name"] == "payment-failover-events-dev"
            assert inputs["okActions"] == inputs["alarmActions"]
        for target in watched:
            [alarm] = [a for a in alarms if a.inputs["dimensions"]["Target"] == target]
            assert f"CloudWatch in {target.removeprefix('cloudwatch-')}" in alarm.inputs["alarmDescription"]


def test_timeout_leaves_room_for_the_last_round():
    assert (
        canary.TIMEOUT_SECONDS
        >= (routing.CANARY_ROUNDS - 1) * routing.CANARY_INTERVAL_SECONDS + routing.CANARY_HTTP_TIMEOUT_SECONDS
    )
