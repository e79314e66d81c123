"""The network per region, and the peering mesh between regions."""

from __future__ import annotations

import ipaddress
from itertools import combinations

from core import config as stack_config
from plan import engine
from tests.infra.helpers import in_network, policy_statements


def test_each_region_has_a_vpc_with_its_configured_cidr(dev, config):
    cidrs = {r.name: r.cidr for r in stack_config.parse(config).regions}
    vpcs = {v.region: v.inputs["cidrBlock"] for v in dev.of_type("aws:ec2/vpc:Vpc")}
    assert vpcs == cidrs
    assert all(v.inputs["enableDnsHostnames"] and v.inputs["enableDnsSupport"] for v in dev.of_type("aws:ec2/vpc:Vpc"))


def test_private_subnets_span_three_azs_inside_the_vpc(dev):
    for region in ("us-east-1", "us-east-2"):
        vpc = dev.one("aws:ec2/vpc:Vpc", lambda r: r.region == region)
        subnets = [s for s in dev.of_type("aws:ec2/subnet:Subnet") if s.region == region]
        private = [s for s in subnets if s.inputs["tags"]["Tier"] == "private"]
        assert sorted(s.inputs["availabilityZone"] for s in private) == [f"{region}{z}" for z in "abc"]
        assert all(s.inputs["vpcId"] == vpc.outputs["id"] if "id" in vpc.outputs else True for s in subnets)
        cidrs = [ipaddress.ip_network(s.inputs["cidrBlock"]) for s in subnets]
        assert all(in_network(str(c), vpc.inputs["cidrBlock"]) for c in cidrs)
        assert all(not a.overlaps(b) for a, b in combinations(cidrs, 2))
        assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)


def test_private_subnets_route_out_through_their_own_azs_nat(dev):
    routes = [r for r in dev.of_type("aws:ec2/route:Route") if r.inputs.get("destinationCidrBlock") == "0.0.0.0/0"]
    nats = dev.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 6 and len(routes) == 6
    for route in routes:
        nat = dev.by_urn(next(d for d in route.dependencies if "NatGateway" in d))
        table = dev.by_urn(next(d for d in route.dependencies if "RouteTable" in d))
        assert nat.region == table.region == route.region
        subnet = dev.by_output("id", nat.inputs["subnetId"])
        assert subnet.inputs["tags"]["Tier"] == "public"
        assert table.inputs["tags"]["Name"].replace("private", "public") == subnet.inputs["tags"]["Name"]


def test_single_nat_mode_shares_one_gateway_per_region(config):
    evaluation = engine.evaluate({**config, "natGateways": "single"})
    nats = evaluation.of_type("aws:ec2/natGateway:NatGateway")
    assert sorted(n.region for n in nats) == ["us-east-1", "us-east-2"]
    defaults = [
        r for r in evaluation.of_type("aws:ec2/route:Route") if r.inputs.get("destinationCidrBlock") == "0.0.0.0/0"
    ]
    assert len(defaults) == 6


def test_gateway_endpoints_serve_every_private_route_table(dev):
    for region in ("us-east-1", "us-east-2"):
        private_tables = {
            t.outputs["id"]
            for t in dev.of_type("aws:ec2/routeTable:RouteTable")
            if t.region == region and "private" in t.inputs["tags"]["Name"]
        }
        endpoints = [e for e in dev.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.region == region]
        assert sorted(e.inputs["serviceName"] for e in endpoints) == [
            f"com.amazonaws.{region}.dynamodb",
            f"com.amazonaws.{region}.s3",
        ]
        assert all(set(e.inputs["routeTableIds"]) == private_tables for e in endpoints)


def test_flow_logs_capture_all_traffic_into_a_retained_log_group(dev):
    for flow in dev.of_type("aws:ec2/flowLog:FlowLog"):
        group = dev.by_output("arn", flow.inputs["logDestination"])
        assert flow.inputs["trafficType"] == "ALL"
        assert group.region == flow.region and group.inputs["retentionInDays"] == 90
        key = dev.by_output("arn", group.inputs["kmsKeyId"])
        assert key.type == "aws:kms/key:Key" and key.region == flow.region


def test_flow_log_role_has_the_documented_minimum_on_its_own_group(dev):
    for flow in dev.of_type("aws:ec2/flowLog:FlowLog"):
        role = dev.by_output("arn", flow.inputs["iamRoleArn"], "aws:iam/role:Role")
        [policy] = [p for p in dev.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.outputs["id"]]
        granted = {
            action: resources
            for s in policy_statements(policy.inputs["policy"])
            for action in s["Action"]
            for resources in [s["Resource"]]
        }
        group_arn = flow.inputs["logDestination"]
        for action in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"):
            assert granted[action] == [group_arn, f"{group_arn}:*"], action
        # Delivery needs DescribeLogGroups (VPC guide, flow-logs-iam-role); it cannot be scoped to one group.
        assert granted["logs:DescribeLogGroups"] == [f"arn:aws:logs:{flow.region}:{engine.MOCK_ACCOUNT_ID}:log-group:*"]
        assert set(granted) == {
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "logs:DescribeLogStreams",
            "logs:DescribeLogGroups",
        }


def test_peering_is_a_full_mesh_accepted_in_the_peer_region(three_regions):
    connections = three_regions.of_type("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    pairs = {frozenset((c.region, c.inputs["peerRegion"])) for c in connections}
    assert pairs == {frozenset(p) for p in combinations(["us-east-1", "us-east-2", "us-west-2"], 2)}
    for connection in connections:
        # Cannot work cross-region: https://github.com/hashicorp/terraform-provider-aws/issues/6706
        assert connection.inputs.get("autoAccept") is not True
        accepter = three_regions.one(
            "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter",
            lambda a: a.inputs["vpcPeeringConnectionId"] == connection.outputs["id"],
        )
        assert accepter.region == connection.inputs["peerRegion"] and accepter.inputs["autoAccept"] is True
        peer_vpc = three_regions.by_output("id", connection.inputs["peerVpcId"])
        assert peer_vpc.region == accepter.region


def test_peering_routes_cover_every_private_route_table_both_ways(three_regions, config):
    cidrs = {
        r.name: r.cidr
        for r in stack_config.parse(
            {**config, "secondaryRegions": ["us-east-2", "us-west-2"], "dynamodbWitnessRegion": ""}
        ).regions
    }
    peering_routes = [r for r in three_regions.of_type("aws:ec2/route:Route") if "vpcPeeringConnectionId" in r.inputs]
    for region in cidrs:
        tables = [
            t
            for t in three_regions.of_type("aws:ec2/routeTable:RouteTable")
            if t.region == region and "private" in t.inputs["tags"]["Name"]
        ]
        for table in tables:
            destinations = {
                r.inputs["destinationCidrBlock"]
                for r in peering_routes
                if r.inputs["routeTableId"] == table.outputs["id"]
            }
            assert destinations == {c for other, c in cidrs.items() if other != region}


def test_dns_resolution_over_peering_on_both_sides(dev):
    options = dev.of_type("aws:ec2/peeringConnectionOptions:PeeringConnectionOptions")
    sides = {(o.region, "requester" if "requester" in o.inputs else "accepter") for o in options}
    assert sides == {("us-east-1", "requester"), ("us-east-2", "accepter")}
    assert all(list(o.inputs.get("requester", o.inputs.get("accepter")).values()) == [True] for o in options)


def test_swapping_the_primary_keeps_every_logical_name(config):
    """A planned switchover by config must not replace resources: only roles (tags) change."""
    # The data tier's home region (tables, secrets, global cluster) must not follow primaryRegion: the
    # example stack pins it from the start (docs/data-tier.md, "Switchover by config").
    assert config["dataHomeRegion"] == config["primaryRegion"]
    before = engine.evaluate(config)
    after = engine.evaluate({**config, "primaryRegion": "us-east-2", "secondaryRegions": ["us-east-1"]})
    assert {r.urn for r in before.managed} == {r.urn for r in after.managed}
