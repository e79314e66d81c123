"""Every physical name carries the suffix; every resource is tagged through its provider."""

from __future__ import annotations

from core import naming
from plan import engine

# Where each resource type takes its physical name. A type the program uses must be listed here
# or in UNNAMED, so that no resource silently falls back to an auto-generated name.
NAME_INPUTS: dict[str, str] = {
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:iam/role:Role": "name",
    "aws:ec2/vpc:Vpc": "tags.Name",
    "aws:ec2/subnet:Subnet": "tags.Name",
    "aws:ec2/routeTable:RouteTable": "tags.Name",
    "aws:ec2/internetGateway:InternetGateway": "tags.Name",
    "aws:ec2/natGateway:NatGateway": "tags.Name",
    "aws:ec2/eip:Eip": "tags.Name",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "tags.Name",
    "aws:ec2/flowLog:FlowLog": "tags.Name",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "tags.Name",
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter": "tags.Name",
    "aws:kms/alias:Alias": "name",
    "aws:sns/topic:Topic": "name",
}
# Resources with no name of their own in AWS (they belong to a named parent).
UNNAMED = {
    "aws:ec2/route:Route",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:ec2/peeringConnectionOptions:PeeringConnectionOptions",
    "aws:kms/key:Key",  # keys have ids, not names; their alias carries the name
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:route53/zone:Zone",  # named by the domain the operators own (hostedZoneName)
}
TAG_KEYS = ("Environment", "Region", "DR-Role")


def lookup(inputs: dict, path: str):
    value = inputs
    for part in path.split("."):
        value = (value or {}).get(part)
    return value


def test_every_type_is_classified(dev, three_regions):
    used = {r.type for r in dev.managed + three_regions.managed}
    unclassified = used - set(NAME_INPUTS) - UNNAMED
    assert not unclassified, f"classify the name input of: {sorted(unclassified)}"


def test_every_physical_name_ends_with_the_suffix(dev):
    for record in dev.managed:
        if record.type in NAME_INPUTS:
            name = lookup(record.inputs, NAME_INPUTS[record.type])
            assert isinstance(name, str) and name.endswith("-dev"), (record.name, name)


def test_catalog_names_render_with_suffix_last_and_region_where_needed():
    namer = naming.Namer("qa7")
    assert namer(naming.AUDIT_BUCKET, "us-east-2") == "payment-audit-logs-us-east-2-qa7"
    assert namer(naming.TRANSACTIONS_TABLE) == "payment-transactions-qa7"
    assert namer.qualified(naming.HEALTH_CHECK, "api", "us-east-1") == "payment-health-api-us-east-1-qa7"


def test_every_resource_uses_a_stack_provider_with_the_three_tags(dev):
    providers = {r.urn: r for r in dev.resources if r.type == "pulumi:providers:aws"}
    for record in dev.managed:
        assert record.provider_urn in providers, f"{record.name} uses the default provider"
        tags = providers[record.provider_urn].inputs["defaultTags"]["tags"]
        assert set(TAG_KEYS) <= set(tags), record.name


def test_provider_tags_match_region_and_role(three_regions):
    tags = {r.name: r.inputs["defaultTags"]["tags"] for r in three_regions.resources if r.type == "pulumi:providers:aws"}
    assert tags["aws-us-east-1"]["DR-Role"] == "primary" and tags["aws-us-east-1"]["Region"] == "us-east-1"
    for region in ("us-east-2", "us-west-2"):
        assert tags[f"aws-{region}"] == {**tags["aws-us-east-1"], "Region": region, "DR-Role": "secondary"}
    assert tags["aws-global"]["DR-Role"] == "global" and tags["aws-global"]["Region"] == "global"
    assert all(t["Environment"] == "development" for t in tags.values())


def test_regions_get_the_region_of_their_provider(dev):
    providers = {r.urn: r.inputs["region"] for r in dev.resources if r.type == "pulumi:providers:aws"}
    for record in dev.managed:
        assert record.region == providers[record.provider_urn]
