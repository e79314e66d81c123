"""Every physical name carries the suffix; every resource is tagged through its provider."""

from __future__ import annotations

from core import config as stack_config
from core import naming, tags
from global_resources import canary
from plan import engine, policies
from policy import rules
from region_factory import probe

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
    # Data tier
    "aws:s3/bucket:Bucket": "bucket",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:rds/subnetGroup:SubnetGroup": "name",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": "name",
    "aws:rds/globalCluster:GlobalCluster": "globalClusterIdentifier",
    "aws:rds/cluster:Cluster": "clusterIdentifier",
    "aws:rds/clusterInstance:ClusterInstance": "identifier",
    "aws:secretsmanager/secret:Secret": "name",
    "aws:dynamodb/table:Table": "name",
    # Payment service
    "aws:lambda/function:Function": "name",
    "aws:sqs/queue:Queue": "name",
    "aws:apigateway/restApi:RestApi": "name",
    "aws:apigateway/stage:Stage": "stageName",
    # Certificates and custom domains are named by the operators' domain; the Name tag carries the suffix.
    "aws:acm/certificate:Certificate": "tags.Name",
    "aws:apigateway/domainName:DomainName": "tags.Name",
    # Failover: the database probe's alarm and schedule; health checks have no name, their Name tag is
    # how drctl finds them.
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:route53/healthCheck:HealthCheck": "tags.Name",
    "aws:iam/policy:Policy": "name",
    # Dashboards and alarms (docs/observability.md); alarms are classified above.
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
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
    # Data tier: bucket settings belong to their bucket, rules to their security group, tags and
    # versions to their table/secret; random values exist only in the Pulumi state.
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:dynamodb/tag:Tag",
    "random:index/randomPassword:RandomPassword",
    "random:index/randomId:RandomId",
    # Payment service: settings and links of the function, API and domain; the account-level API Gateway
    # setting; DNS records are named by the operators' domain (the ACM validation CNAME).
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
    "aws:lambda/permission:Permission",
    "aws:apigateway/deployment:Deployment",
    "aws:apigateway/methodSettings:MethodSettings",
    "aws:apigateway/basePathMapping:BasePathMapping",
    "aws:apigateway/account:Account",
    "aws:acm/certificateValidation:CertificateValidation",
    "aws:route53/record:Record",
    # Failover: a schedule's target, a private zone's VPC association; the probe's build runs on the
    # deploying machine and exists only in the Pulumi state.
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:route53/zoneAssociation:ZoneAssociation",
    "command:local:Command",
    # Ledger: a stream mapping and the migrations' invocation belong to their function; egress rules to their group.
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/invocation:Invocation",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
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
        if record.type.startswith(("random:", "command:")):
            continue  # random values (data tier secrets) and local builds (the probe bundle) are not in AWS
        assert record.provider_urn in providers, f"{record.name} uses the default provider"
        tags = providers[record.provider_urn].inputs["defaultTags"]["tags"]
        assert set(TAG_KEYS) <= set(tags), record.name


def test_provider_tags_match_region_and_role(three_regions):
    tags = {
        r.name: r.inputs["defaultTags"]["tags"] for r in three_regions.resources if r.type == "pulumi:providers:aws"
    }
    assert tags["aws-us-east-1"]["DR-Role"] == "primary" and tags["aws-us-east-1"]["Region"] == "us-east-1"
    for region in ("us-east-2", "us-west-2"):
        assert tags[f"aws-{region}"] == {**tags["aws-us-east-1"], "Region": region, "DR-Role": "secondary"}
    assert tags["aws-global"]["DR-Role"] == "global" and tags["aws-global"]["Region"] == "global"
    assert tags["aws-global-us-east-1"] == {
        **tags["aws-global"],
        "Region": "us-east-1",
    }  # health-check alarms, topic, key
    assert all(t["Environment"] == "development" for t in tags.values())


def test_regions_get_the_region_of_their_provider(dev):
    providers = {r.urn: r.inputs["region"] for r in dev.resources if r.type == "pulumi:providers:aws"}
    for record in dev.managed:
        if record.type.startswith(("random:", "command:")):
            continue  # not in any region: see above
        assert record.region == providers[record.provider_urn]


def test_mock_ids_and_arns_identify_one_resource_each(three_regions):
    """Wiring checks follow ids and ARNs back to their resource: a shared placeholder would make them
    pass or fail with registration order (a route table's id passing for its subnet's)."""
    for key in ("id", "arn"):
        values = [r.outputs[key] for r in three_regions.managed if r.outputs.get(key)]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        assert not duplicates, f"{key} shared by several resources: {duplicates[:5]}"
    assert all(r.outputs.get("id") for r in three_regions.managed)


ROUTE53_TAGGED = ("aws:route53/healthCheck:HealthCheck", "aws:route53/zone:Zone")


def test_the_most_extra_tags_config_allows_still_fit_route53s_limit(config):
    """Route 53 health checks and zones take 10 tags (most types take 50): `tags` is capped to fit."""
    config["tags"] = {f"Extra{i}": "x" for i in range(tags.MAX_EXTRA_TAGS)}
    evaluation = engine.evaluate({**config, "createHostedZone": "true"})
    providers = {p.urn: p.inputs for p in evaluation.resources if p.type.startswith("pulumi:providers:aws")}
    counted = {}
    for record in evaluation.managed:
        if record.provider_urn in providers and policies.taggable(record.type):
            counted[record.urn] = len(
                rules.merge_default_tags(record.inputs, providers[record.provider_urn])["tagsAll"]
            )
            assert counted[record.urn] <= (tags.ROUTE53_TAG_LIMIT if record.type in ROUTE53_TAGGED else 50), record.urn
    checks = [r for r in evaluation.managed if r.type in ROUTE53_TAGGED]
    assert checks and max(counted[r.urn] for r in checks) == tags.ROUTE53_TAG_LIMIT  # the cap is not looser than needed


def test_reserved_concurrency_leaves_lambdas_unreserved_minimum():
    # Lambda refuses reservations that leave fewer than 100 of the default 1000 per region unreserved.
    assert (
        stack_config.MAX_RESERVED_CONCURRENCY + probe.RESERVED_CONCURRENCY + canary.RESERVED_CONCURRENCY == 1000 - 100
    )


# Services whose resources have no region (IAM, Route 53) or span regions (the Aurora global cluster).
TRULY_GLOBAL = ("aws:iam/", "aws:route53/", "aws:route53recoverycontrol/", "aws:rds/globalCluster:")


def test_region_tag_is_global_only_on_truly_global_resources(three_regions):
    """A cost or inventory filter by Region must find every regional resource, including the health-check
    layer's alarms, topic and key in us-east-1; only IAM, Route 53 and the global cluster say `global`."""
    providers = {r.urn: r for r in three_regions.resources if r.type == "pulumi:providers:aws"}
    tagged_global, regional_of_global_layer = set(), []
    for record in three_regions.managed:
        provider = providers.get(record.provider_urn)
        if provider is None:
            continue  # random values and local builds: not in AWS
        region_tag = provider.inputs["defaultTags"]["tags"]["Region"]
        if region_tag == "global":
            tagged_global.add(record.type)
        else:
            assert region_tag == record.region, (record.name, region_tag, record.region)
        if provider.inputs["defaultTags"]["tags"]["DR-Role"] == "global" and region_tag != "global":
            regional_of_global_layer.append(record.type)
    assert all(t.startswith(TRULY_GLOBAL) for t in tagged_global), sorted(tagged_global)
    for type_ in ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topic:Topic", "aws:kms/key:Key"):
        assert type_ in regional_of_global_layer, type_
