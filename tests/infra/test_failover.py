"""Route 53 failover (global_resources/failover.py) and the database probe behind it (region_factory/probe.py).

DNS is checked by resolving it the way Route 53 does: from domainName, PRIMARY first, following the
SECONDARY alias down the chain; every region found must be guarded by its own `region` check.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from core import config as stack_config
from core import routing
from global_resources import failover
from plan import engine
from plan.engine import Evaluation, ResourceRecord
from region_factory import packaging, probe
from tests.conftest import example_config
from tests.infra.test_data_tier_switchover import SWAPPED

HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
COMMAND = "command:local:Command"
DOMAIN = "api.payments.example.com"
THREE = ["us-east-1", "us-east-2", "us-west-2"]
OPS_PRINCIPALS = ["arn:aws:iam::123456789012:role/payments-oncall"]
ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def swapped_with_ops() -> Evaluation:
    """The example stack after a planned switchover by config (primary us-east-2; data home and CIDRs
    pinned as the data tier's runbook asks), with opsPrincipalArns set. Shared with test_dr_iam.py."""
    return engine.evaluate({**example_config(), **SWAPPED, "opsPrincipalArns": OPS_PRINCIPALS})


def check(evaluation: Evaluation, region: str, kind: str) -> ResourceRecord:
    return evaluation.one(HEALTH_CHECK, lambda r: r.inputs["tags"]["Name"] == f"payment-health-{kind}-{region}-dev")


def records_at(evaluation: Evaluation, name: str, type_: str = "A") -> dict[str, ResourceRecord]:
    found = [r for r in evaluation.of_type(RECORD) if r.inputs["name"] == name and r.inputs["type"] == type_]
    by_failover = {r.inputs["failoverRoutingPolicies"][0]["type"]: r for r in found}
    assert len(by_failover) == len(found), f"two records of one failover type at {name}"
    return by_failover


def api_domain_region(evaluation: Evaluation, alias: dict) -> str:
    domain = evaluation.by_output("regionalDomainName", alias["name"])
    assert domain.type == "aws:apigateway/domainName:DomainName" and alias["zoneId"] == domain.outputs["regionalZoneId"]
    return domain.region


def resolve_api(evaluation: Evaluation) -> list[tuple[str, ResourceRecord]]:
    """(region, its PRIMARY record) in the order Route 53 falls back through them."""
    order = []
    name = DOMAIN
    while name:
        level = records_at(evaluation, name)
        primary = level["PRIMARY"]
        [alias] = primary.inputs["aliases"]
        assert alias["evaluateTargetHealth"] is True
        order.append((api_domain_region(evaluation, alias), primary))
        secondary = level.get("SECONDARY")
        name = None
        if secondary:
            [nested] = secondary.inputs["aliases"]
            assert nested["evaluateTargetHealth"] is True and nested["zoneId"] == engine.MOCK_ZONE_ID
            assert "healthCheckId" not in secondary.inputs  # its health is the nested name's
            name = nested["name"]
        assert set(level) <= {"PRIMARY", "SECONDARY"}
    return order


# --- health checks --------------------------------------------------------------------------------


def hold_check(evaluation: Evaluation, held: str, holder: str) -> ResourceRecord:
    return evaluation.one(
        HEALTH_CHECK, lambda r: r.inputs["tags"]["Name"] == f"payment-health-hold-{held}-{holder}-dev"
    )


def children_of(evaluation: Evaluation, calculated: ResourceRecord) -> set[str]:
    return {
        evaluation.by_output("id", child).inputs["tags"]["Name"] for child in calculated.inputs["childHealthchecks"]
    }


def test_every_region_has_its_checks_and_a_hold_per_other_region(three_regions):
    checks = three_regions.of_type(HEALTH_CHECK)
    assert len(checks) == len(failover.KINDS) * len(THREE) + len(THREE) * (len(THREE) - 1)
    assert set(failover.KINDS) == {"api", "db", "writer", "region"}
    for region in THREE:
        for kind in failover.KINDS:
            assert check(three_regions, region, kind).provider_urn.endswith("::aws-global")
        for holder in THREE:
            if holder != region:
                assert hold_check(three_regions, region, holder).provider_urn.endswith("::aws-global")


def test_api_check_probes_the_regions_own_execute_api_host(dev):
    for region in ("us-east-1", "us-east-2"):
        api = check(dev, region, "api").inputs
        rest_api = dev.one("aws:apigateway/restApi:RestApi", lambda r: r.region == region)
        assert (
            api["type"] == "HTTPS" and api["port"] == 443 and api["enableSni"] is True and api["measureLatency"] is True
        )
        assert api["fqdn"] == f"{rest_api.outputs['id']}.execute-api.{region}.amazonaws.com"
        assert api["resourcePath"] == "/payment-api-dev/health"
        assert (api["requestInterval"], api["failureThreshold"]) == (10, 3)  # the config defaults


def test_check_interval_and_threshold_follow_the_config(config):
    config.update(healthCheckIntervalSeconds="30", healthCheckFailureThreshold="5")
    evaluation = engine.evaluate(config)
    api = check(evaluation, "us-east-2", "api").inputs
    assert (api["requestInterval"], api["failureThreshold"]) == (30, 5)
    alarm = evaluation.one(ALARM, lambda a: a.region == "us-east-2" and a.inputs["metricName"] == probe.METRIC_NAME)
    assert alarm.inputs["threshold"] == probe.alarm_threshold(5) < probe.alarm_threshold(3)


def test_db_check_watches_its_regions_probe_alarm_and_fails_without_data(three_regions):
    for region in THREE:
        db = check(three_regions, region, "db").inputs
        alarm = three_regions.one(ALARM, lambda a: a.region == region and a.inputs["metricName"] == probe.METRIC_NAME)
        assert db["type"] == "CLOUDWATCH_METRIC"
        assert (db["cloudwatchAlarmName"], db["cloudwatchAlarmRegion"]) == (alarm.inputs["name"], region)
        assert db["insufficientDataHealthStatus"] == "Unhealthy"


def test_writer_check_watches_its_regions_writability_alarm(three_regions):
    for region in THREE:
        writer = check(three_regions, region, "writer").inputs
        alarm = three_regions.one(
            ALARM, lambda a: a.region == region and a.inputs["metricName"] == routing.WRITABLE_METRIC
        )
        assert (writer["type"], writer["cloudwatchAlarmName"], writer["cloudwatchAlarmRegion"]) == (
            "CLOUDWATCH_METRIC",
            "payment-db-writable-dev",
            region,
        )
        assert alarm.inputs["name"] == "payment-db-writable-dev"
        assert writer["insufficientDataHealthStatus"] == "Unhealthy"
        inputs = alarm.inputs
        assert (inputs["namespace"], inputs["dimensions"]) == (
            "PaymentDR/DatabaseProbe",
            {"ClusterIdentifier": f"payment-db-{region}-dev"},
        )
        # One read-only answer in the minute, or no answer at all, and the writer name moves away.
        assert (inputs["statistic"], inputs["comparisonOperator"], inputs["threshold"], inputs["period"]) == (
            "Minimum",
            "LessThanThreshold",
            1,
            60,
        )
        assert inputs["treatMissingData"] == "breaching"


def test_region_check_is_its_api_check_and_no_hold_and_never_the_probe(three_regions):
    for region in THREE:
        calculated = check(three_regions, region, "region")
        others = [r for r in THREE if r != region]
        assert children_of(three_regions, calculated) == {f"payment-health-api-{region}-dev"} | {
            f"payment-health-hold-{region}-{holder}-dev" for holder in others
        }
        # Every child must be healthy: the api check, and no region holding this one out.
        assert calculated.inputs["type"] == "CALCULATED" and calculated.inputs["childHealthThreshold"] == 1 + len(
            others
        )


def test_a_hold_is_an_alarm_in_the_holder_region_that_nobody_has_to_keep_publishing(three_regions):
    for held in THREE:
        for holder in [r for r in THREE if r != held]:
            hold = hold_check(three_regions, held, holder).inputs
            [alarm] = [
                a
                for a in three_regions.of_type(ALARM)
                if a.region == holder and a.inputs["name"] == f"payment-routing-hold-{held}-dev"
            ]
            assert (hold["type"], hold["cloudwatchAlarmName"], hold["cloudwatchAlarmRegion"]) == (
                "CLOUDWATCH_METRIC",
                alarm.inputs["name"],
                holder,
            )
            # Never set: no data, and a new check without a last known status is healthy; once set, it stays set.
            assert hold["insufficientDataHealthStatus"] == "LastKnownStatus"
            inputs = alarm.inputs
            assert (inputs["namespace"], inputs["metricName"], inputs["dimensions"]) == (
                "PaymentDR/Routing",
                "RegionHeldOut",
                {"Region": held},
            )
            assert (inputs["statistic"], inputs["period"], inputs["comparisonOperator"], inputs["threshold"]) == (
                "Maximum",
                60,
                "GreaterThanOrEqualToThreshold",
                1,
            )
            assert (inputs["evaluationPeriods"], inputs["datapointsToAlarm"]) == (1, 1)
            assert inputs["treatMissingData"] == "ignore"
            # Declared with the holder's own provider, paging the holder region's failover topic.
            assert three_regions.by_urn(alarm.provider_urn).inputs["region"] == holder
            topic = three_regions.by_output("arn", inputs["alarmActions"][0])
            assert topic.region == holder and topic.inputs["name"] == "payment-failover-events-dev"
            assert inputs["alarmActions"] == inputs["okActions"]


def test_hold_metric_and_names_are_the_routing_contracts():
    assert (routing.ROUTING_NAMESPACE, routing.HELD_OUT_METRIC, routing.HELD_OUT_DIMENSION) == (
        "PaymentDR/Routing",
        "RegionHeldOut",
        "Region",
    )
    cfg = stack_config.parse(example_config())
    assert failover.hold_alarm_name(cfg, "us-east-1") == "payment-routing-hold-us-east-1-dev"
    assert failover.hold_check_name(cfg, "us-east-1", "us-east-2") == "payment-health-hold-us-east-1-us-east-2-dev"


def test_operator_overrides_of_a_check_survive_pulumi_up(dev):
    for record in dev.of_type(HEALTH_CHECK):
        assert {"invertHealthcheck", "disabled"} <= set(record.ignore_changes), record.name


# --- public failover records ----------------------------------------------------------------------


def test_primary_region_is_primary_and_the_secondary_takes_over(dev):
    order = resolve_api(dev)
    assert [region for region, _ in order] == ["us-east-1", "us-east-2"]
    for region, record in order:
        assert (
            dev.by_output("id", record.inputs["healthCheckId"]).inputs["tags"]["Name"]
            == f"payment-health-region-{region}-dev"
        )
        assert record.inputs["setIdentifier"] == region
        assert record.inputs["zoneId"] == engine.MOCK_ZONE_ID


def test_three_regions_chain_through_a_nested_failover_name(three_regions):
    order = resolve_api(three_regions)
    assert [region for region, _ in order] == THREE
    assert [record.inputs["name"] for _, record in order] == [
        DOMAIN,
        f"failover-1-dev.{DOMAIN}",
        f"failover-2-dev.{DOMAIN}",
    ]
    # A PRIMARY per region, a SECONDARY per level but the last: nothing else answers for the API.
    api_records = [
        r for r in three_regions.of_type(RECORD) if r.inputs["name"].endswith(DOMAIN) and r.inputs["type"] == "A"
    ]
    assert len(api_records) == 2 * len(THREE) - 1


@pytest.mark.parametrize("stack", ["dev", "three_regions"])
def test_first_up_creates_the_chain_from_its_end(stack, request):
    """Route 53 refuses an alias to a name without records: each level's SECONDARY depends on every record
    of the level it aliases (the engine records each registration's dependencies, as `pulumi up` orders them)."""
    evaluation = request.getfixturevalue(stack)
    names = [record.inputs["name"] for _, record in resolve_api(evaluation)]
    switchover = evaluation.one("command:local:Command", lambda c: "switchover" in c.name)
    for level, name in enumerate(names):
        level_records = records_at(evaluation, name)
        for record in level_records.values():
            assert switchover.urn in record.dependencies  # records follow the database's roles
        if level + 1 < len(names):
            below = {r.urn for r in records_at(evaluation, names[level + 1]).values()}
            assert below and below <= set(level_records["SECONDARY"].dependencies), name
            assert not below & set(
                level_records["PRIMARY"].dependencies
            )  # the regional alias needs nothing of the chain
    # No cycle: following the dependencies from level 0 reaches the last level's PRIMARY, which depends on no record.
    last = records_at(evaluation, names[-1])["PRIMARY"]
    assert not {d for d in last.dependencies if evaluation.by_urn(d).type == RECORD}


def test_only_ipv4_records_while_the_api_domains_are_ipv4_only(dev):
    for domain in dev.of_type("aws:apigateway/domainName:DomainName"):
        assert domain.inputs["endpointConfiguration"].get("ipAddressType") in (None, "ipv4")
    assert not [r for r in dev.of_type(RECORD) if r.inputs["type"] == "AAAA"]


def test_role_swap_flips_the_records_and_replaces_no_health_check(dev):
    swapped = swapped_with_ops()
    assert [region for region, _ in resolve_api(swapped)] == ["us-east-2", "us-east-1"]
    for region in ("us-east-1", "us-east-2"):
        for kind in failover.KINDS:
            before, after = check(dev, region, kind), check(swapped, region, kind)
            assert before.urn == after.urn and json.dumps(before.inputs, sort_keys=True) == json.dumps(
                after.inputs, sort_keys=True
            )
    before_holds = {r.urn: r.inputs for r in dev.of_type(HEALTH_CHECK) + dev.of_type(ALARM) if "hold" in r.name}
    after_holds = {r.urn: r.inputs for r in swapped.of_type(HEALTH_CHECK) + swapped.of_type(ALARM) if "hold" in r.name}
    assert len(before_holds) == 4 and json.dumps(before_holds, sort_keys=True) == json.dumps(
        after_holds, sort_keys=True
    )
    # The same records (updated in place), now pointing the other way; the private zone stays.
    assert {r.urn for r in dev.of_type(RECORD)} == {r.urn for r in swapped.of_type(RECORD)}
    assert writer_targets(swapped) == {"PRIMARY": "us-east-2", "SECONDARY": "us-east-1"}
    before_zone, after_zone = (e.one("aws:route53/zone:Zone", lambda z: "vpcs" in z.inputs) for e in (dev, swapped))
    assert before_zone.inputs == after_zone.inputs


# --- the database writer's private name -----------------------------------------------------------


def writer_targets(evaluation: Evaluation) -> dict[str, str]:
    records = records_at(evaluation, "writer.db-dev.payment-dr.internal", "CNAME")
    targets = {}
    for slot, record in records.items():
        [endpoint] = record.inputs["records"]
        cluster = evaluation.by_output("endpoint", endpoint)
        assert cluster.type == "aws:rds/cluster:Cluster"
        guard = evaluation.by_output("id", record.inputs["healthCheckId"])
        assert (
            guard.inputs["tags"]["Name"] == f"payment-health-writer-{cluster.region}-dev"
        )  # writability, not reachability
        assert record.inputs["setIdentifier"] == f"{slot.lower()}-{cluster.region}"
        targets[slot] = cluster.region
    return targets


def test_writer_name_fails_over_from_the_primary_cluster_to_the_next_region(dev, three_regions):
    assert writer_targets(dev) == {"PRIMARY": "us-east-1", "SECONDARY": "us-east-2"}
    assert writer_targets(three_regions) == {"PRIMARY": "us-east-1", "SECONDARY": "us-east-2"}
    for record in records_at(dev, "writer.db-dev.payment-dr.internal", "CNAME").values():
        assert record.inputs["ttl"] == 60  # dnsTtlSeconds


def test_private_zone_is_resolvable_from_every_regions_vpc(three_regions):
    zone = three_regions.one("aws:route53/zone:Zone", lambda z: "vpcs" in z.inputs)
    assert zone.inputs["name"] == "db-dev.payment-dr.internal" and "vpcs" in zone.ignore_changes
    associated = {v["vpcId"]: v["vpcRegion"] for v in zone.inputs["vpcs"]}
    for association in three_regions.of_type("aws:route53/zoneAssociation:ZoneAssociation"):
        assert association.inputs["zoneId"] == zone.outputs["zoneId"]
        associated[association.inputs["vpcId"]] = association.inputs["vpcRegion"]
    vpcs = {
        three_regions.one("aws:ec2/vpc:Vpc", lambda v: v.region == region).outputs["id"]: region for region in THREE
    }
    assert associated == vpcs


# --- the probe and its alarm ----------------------------------------------------------------------


def probe_function(evaluation: Evaluation, region: str) -> ResourceRecord:
    return evaluation.one(FUNCTION, lambda f: f.region == region and f.inputs["name"] == "payment-db-probe-dev")


def test_probe_alarm_treats_silence_as_failure_and_notifies_its_regions_topic(three_regions):
    for region in THREE:
        alarm = three_regions.one(ALARM, lambda a: a.region == region and a.inputs["metricName"] == probe.METRIC_NAME)
        inputs = alarm.inputs
        assert inputs["treatMissingData"] == "breaching"
        assert inputs["namespace"] == "PaymentDR/DatabaseProbe"
        assert inputs["dimensions"] == {"ClusterIdentifier": f"payment-db-{region}-dev"}
        assert inputs["comparisonOperator"] == "LessThanThreshold" and inputs["statistic"] == "Average"
        # Route 53 can only watch standard-resolution alarms and metrics.
        assert inputs["period"] == 60
        assert (
            probe_function(three_regions, region).inputs["environment"]["variables"]["METRIC_STORAGE_RESOLUTION"]
            == "60"
        )
        for actions in (inputs["alarmActions"], inputs["okActions"]):
            [topic_arn] = actions
            topic = three_regions.by_output("arn", topic_arn)
            assert topic.type == "aws:sns/topic:Topic" and topic.region == region


@pytest.mark.parametrize("failure_threshold", range(1, 11))
def test_alarm_fires_on_the_configured_number_of_failed_probes_in_a_minute(failure_threshold):
    threshold = probe.alarm_threshold(failure_threshold)
    needed = min(failure_threshold, 6)
    for failed in range(7):
        assert ((6 - failed) / 6 < threshold) == (failed >= needed), (failed, threshold)
    # An average, so however many probes EventBridge's jitter puts into a minute (5 or 7 at times), a
    # healthy minute never alarms and a minute of failures always does.
    assert not threshold > 1.0 and threshold > 0.0


def test_probe_runs_in_private_subnets_with_its_own_security_group(dev):
    for region in ("us-east-1", "us-east-2"):
        function = probe_function(dev, region).inputs
        vpc = function["vpcConfig"]
        private = {
            s.outputs["id"]
            for s in dev.of_type("aws:ec2/subnet:Subnet")
            if s.region == region and s.inputs["tags"].get("Tier") == "private"
        }
        assert set(vpc["subnetIds"]) == private and len(private) == 3
        [group_id] = vpc["securityGroupIds"]
        group = dev.one("aws:ec2/securityGroup:SecurityGroup", lambda g: g.outputs["id"] == group_id)
        assert group.inputs["name"] == "payment-db-probe-dev" and not group.inputs.get("ingress")
        cidr = stack_config.parse(example_config()).region(region).cidr
        assert sorted((e["fromPort"], tuple(e["cidrBlocks"])) for e in group.inputs["egress"]) == [
            (443, ("0.0.0.0/0",)),
            (5432, (cidr,)),
        ]
        # ...and the database's security group lets it in by reference.
        ingress = dev.one(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            lambda r: r.inputs.get("referencedSecurityGroupId") == group_id,
        )
        database_group = dev.by_output("id", ingress.inputs["securityGroupId"])
        assert database_group.inputs["name"] == "payment-db-dev" and database_group.region == region
        assert (ingress.inputs["fromPort"], ingress.inputs["toPort"]) == (5432, 5432)


def test_probe_runs_one_loop_a_minute_and_never_queues_events(dev):
    function = probe_function(dev, "us-east-2")
    inputs = function.inputs
    assert inputs["reservedConcurrentExecutions"] == 1
    assert probe.PROBE_INTERVAL_SECONDS * probe.PROBES_PER_INVOCATION < inputs["timeout"] <= 120
    rule = dev.one(
        "aws:cloudwatch/eventRule:EventRule",
        lambda r: r.region == "us-east-2" and r.inputs["name"] == "payment-db-probe-dev",
    )
    assert rule.inputs["scheduleExpression"] == "rate(1 minute)"
    target = dev.one(
        "aws:cloudwatch/eventTarget:EventTarget",
        lambda t: t.region == "us-east-2" and t.inputs["rule"] == rule.inputs["name"],
    )
    assert target.inputs["arn"] == function.outputs["arn"] and target.inputs["rule"] == rule.inputs["name"]
    permission = dev.one(
        "aws:lambda/permission:Permission",
        lambda p: p.region == "us-east-2" and p.inputs["sourceArn"] == rule.outputs["arn"],
    )
    assert permission.inputs["sourceArn"] == rule.outputs["arn"] and permission.inputs["function"] == inputs["name"]
    invoke = dev.one(
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        lambda c: c.inputs["functionName"] == inputs["name"] and c.region == "us-east-2",
    )
    assert (invoke.inputs["maximumRetryAttempts"], invoke.inputs["maximumEventAgeInSeconds"]) == (0, 60)


def test_probe_environment_is_exactly_what_the_function_reads(dev):
    source = (ROOT / "functions/db_probe/app.py").read_text()
    read = set(re.findall(r'env\.(?:required|number|choice|get)\(\s*"([A-Z_]+)"', source)) | set(
        re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', source)
    )
    required = set(re.findall(r'env\.required\(\s*"([A-Z_]+)"', source)) - {"AWS_REGION"}  # set by Lambda
    variables = probe_function(dev, "us-east-1").inputs["environment"]["variables"]
    assert required <= set(variables) <= read
    assert variables["DB_CLUSTER_IDENTIFIER"] == "payment-db-us-east-1-dev"
    assert (variables["DB_USER"], variables["DB_NAME"]) == ("payment_probe", "payments")  # IAM auth: no secret
    assert not [name for name in variables if "SECRET" in name]
    assert variables["METRIC_NAMESPACE"] == "PaymentDR/DatabaseProbe"
    assert (
        variables["PROBE_INTERVAL_SECONDS"],
        variables["PROBES_PER_INVOCATION"],
        variables["CONNECT_TIMEOUT_SECONDS"],
    ) == ("10", "6", "3")
    assert variables["DB_SSL_MODE"] == "require"


# --- the probe's code asset -----------------------------------------------------------------------


def test_probe_code_comes_from_its_regions_build_with_the_pinned_requirements(dev):
    for region in ("us-east-1", "us-east-2"):
        build = dev.one(COMMAND, lambda c: c.name == f"{region}-db-probe-bundle")
        assert dev.ancestors(build)[0].type == "payment-dr:region:DatabaseProbe"
        inputs = build.inputs
        assert inputs["dir"] == f"build/db-probe/{region}" and (ROOT / inputs["dir"]).is_dir()
        source, token = inputs["triggers"]  # the code, its pins and the build script; this directory's token
        assert re.fullmatch(r"[0-9a-f]{64}", source)
        assert token == (ROOT / inputs["dir"] / packaging.TOKEN_FILE).read_text().strip()
        assert (
            "pip install" in inputs["create"]
            and "--requirement" in inputs["create"]
            and "--only-binary=:all:" in inputs["create"]
        )
        assert (
            inputs["environment"]["PLATFORM"] == "manylinux2014_aarch64"
            and inputs["environment"]["PYTHON_VERSION"] == "3.13"
        )
        assert {"!**/__pycache__/**", f"!{packaging.TOKEN_FILE}"} <= set(inputs["archivePaths"])
        # Known only once `pulumi up` has run the build; the function's code is that archive.
        assert probe_function(dev, region).inputs["code"] == engine.COMPUTED
        assert build.urn in probe_function(dev, region).dependencies


def test_bundle_is_rebuilt_when_the_code_or_its_pins_change(tmp_path, monkeypatch):
    source = tmp_path / packaging.SOURCE_DIR
    source.mkdir(parents=True)
    (source / "app.py").write_text("def lambda_handler(event, context): ...\n")
    (source / "requirements.txt").write_text("pg8000==1.31.6\n")
    monkeypatch.setattr(packaging, "ROOT", tmp_path)
    first = packaging.source_hash()
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"\0")
    assert packaging.source_hash() == first  # local bytecode is not the code
    (source / "requirements.txt").write_text("pg8000==1.31.7\n")
    assert packaging.source_hash() != first
    (source / "app.py").unlink()
    with pytest.raises(FileNotFoundError):
        packaging.source_hash()


def test_a_machine_without_the_build_rebuilds_it(tmp_path):
    """The token changes only with the build directory: stable where the files were built, new where not."""
    built_here = tmp_path / "here"
    built_here.mkdir()
    token = packaging.checkout_token(built_here)
    assert packaging.checkout_token(built_here) == token
    fresh_checkout = tmp_path / "elsewhere"
    fresh_checkout.mkdir()
    assert packaging.checkout_token(fresh_checkout) != token
    assert f"! -name {packaging.TOKEN_FILE} -delete" in packaging.BUILD_SCRIPT  # the build keeps it


# --- optional Route 53 ARC routing controls --------------------------------------------------------------

ARC_CLUSTER = "arn:aws:route53-recovery-control::123456789012:cluster/0a1b2c3d-4e5f"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"routingControl": "arc"}, "arcClusterArn is required with routingControl=arc"),
        (
            {"routingControl": "arc", "arcClusterArn": "arn:aws:iam::123456789012:role/x"},
            "arcClusterArn='arn:aws:iam::123456789012:role/x': must be an ARC cluster ARN",
        ),
        ({"routingControl": "manual"}, "routingControl='manual': allowed: 'cloudwatch'"),
        (
            {"arcClusterArn": ARC_CLUSTER},
            "arcClusterArn=" + repr(ARC_CLUSTER) + ": is only used with routingControl=arc",
        ),
    ],
)
def test_arc_settings_are_validated_naming_the_key(config, raw, message):
    with pytest.raises(stack_config.ConfigError) as error:
        stack_config.parse({**config, **raw})
    assert message in str(error.value)


def test_cloudwatch_holds_are_the_default_and_declare_no_arc_resource(dev):
    assert stack_config.parse(example_config()).routing_control == "cloudwatch"
    assert not [r for r in dev.resources if "route53recoverycontrol" in r.type]
    assert not [c for c in dev.of_type(HEALTH_CHECK) if c.inputs["type"] == "RECOVERY_CONTROL"]


def test_arc_adds_a_routing_control_child_to_each_region_check_and_keeps_the_holds(config):
    evaluation = engine.evaluate({**config, "routingControl": "arc", "arcClusterArn": ARC_CLUSTER})
    panel = evaluation.one("aws:route53recoverycontrol/controlPanel:ControlPanel")
    assert (panel.inputs["clusterArn"], panel.inputs["name"]) == (ARC_CLUSTER, "payment-dr-dev")
    assert evaluation.by_urn(panel.provider_urn).inputs["region"] == "us-west-2"  # ARC's configuration API
    for region in ("us-east-1", "us-east-2"):
        control = evaluation.one(
            "aws:route53recoverycontrol/routingControl:RoutingControl",
            lambda c: c.inputs["name"] == f"payment-serve-{region}-dev",
        )
        assert (control.inputs["clusterArn"], control.inputs["controlPanelArn"]) == (ARC_CLUSTER, panel.outputs["arn"])
        arc = check(evaluation, region, "arc").inputs
        assert (arc["type"], arc["routingControlArn"]) == ("RECOVERY_CONTROL", control.outputs["arn"])
        calculated = check(evaluation, region, "region")
        other = "us-east-2" if region == "us-east-1" else "us-east-1"
        assert children_of(evaluation, calculated) == {
            f"payment-health-api-{region}-dev",
            f"payment-health-hold-{region}-{other}-dev",
            f"payment-health-arc-{region}-dev",
        }
        assert calculated.inputs["childHealthThreshold"] == 3
