"""Aurora Global Database: the global cluster, one regional cluster per region, instances, access."""

from __future__ import annotations

from core import config as stack_config
from plan import engine
from plan.engine import Evaluation, ResourceRecord
from tests.infra.helpers import policy_statements

CLUSTER = "aws:rds/cluster:Cluster"
INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
GLOBAL = "aws:rds/globalCluster:GlobalCluster"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
THREE = ["us-east-1", "us-east-2", "us-west-2"]
CREDENTIALS = {"masterUsername", "masterPassword", "databaseName"}
IGNORED = {
    "masterUsername",
    "masterPassword",
    "databaseName",
    "replicationSourceIdentifier",
    "globalClusterIdentifier",
    "engineVersion",
}


def clusters(evaluation: Evaluation) -> dict[str, ResourceRecord]:
    return {r.region: r for r in evaluation.of_type(CLUSTER)}


def instances(evaluation: Evaluation, region: str) -> list[ResourceRecord]:
    return sorted((r for r in evaluation.of_type(INSTANCE) if r.region == region), key=lambda r: r.name)


def key_region(evaluation: Evaluation, arn: str) -> str | None:
    key = evaluation.by_output("arn", arn)
    assert key.type == "aws:kms/key:Key"
    return key.region


def test_one_global_cluster_links_a_cluster_in_every_region(three_regions):
    global_cluster = three_regions.one(GLOBAL)
    assert global_cluster.inputs["engine"] == "aurora-postgresql"
    assert global_cluster.inputs["engineVersion"] == "13.23"  # the example stack's version
    assert global_cluster.inputs["storageEncrypted"] is True
    assert global_cluster.inputs["globalClusterIdentifier"] == "payment-global-dev"
    by_region = clusters(three_regions)
    assert sorted(by_region) == THREE
    for region, cluster in by_region.items():
        assert cluster.inputs["globalClusterIdentifier"] == global_cluster.inputs["globalClusterIdentifier"]
        assert global_cluster.urn in cluster.dependencies
        assert cluster.inputs["clusterIdentifier"] == f"payment-db-{region}-dev"
        assert cluster.inputs["engine"] == "aurora-postgresql" and cluster.inputs["engineVersion"] == "13.23"
        assert cluster.inputs["storageEncrypted"] is True


def test_only_the_primary_cluster_carries_master_credentials(three_regions):
    by_region = clusters(three_regions)
    primary = by_region.pop("us-east-1")
    assert primary.inputs["masterUsername"] == "payment_admin" and primary.inputs["databaseName"] == "payments"
    assert primary.inputs["masterPassword"]["value"] == engine.COMPUTED  # from RandomPassword, a secret
    assert len(primary.inputs["masterPassword"]) == 2, "the password must travel as a Pulumi secret"
    for cluster in [primary, *by_region.values()]:
        assert "manageMasterUserPassword" not in cluster.inputs  # not supported on global clusters
    for secondary in by_region.values():
        # https://github.com/pulumi/pulumi-aws/issues/3751,
        # https://github.com/hashicorp/terraform-provider-aws/issues/26030
        assert not CREDENTIALS & set(secondary.inputs), secondary.name


def test_secondaries_depend_on_the_primary_cluster_and_its_instances(three_regions):
    by_region = clusters(three_regions)
    primary_members = {by_region["us-east-1"].urn, *(i.urn for i in instances(three_regions, "us-east-1"))}
    for region in ("us-east-2", "us-west-2"):
        assert primary_members <= set(by_region[region].dependencies), region
    secondary_urns = {by_region[r].urn for r in ("us-east-2", "us-west-2")}
    assert not secondary_urns & set(by_region["us-east-1"].dependencies)


def test_every_cluster_ignores_the_same_drifting_and_role_dependent_inputs(three_regions):
    for cluster in three_regions.of_type(CLUSTER):
        assert set(cluster.ignore_changes) == IGNORED, cluster.name


def test_each_cluster_and_its_insights_use_their_own_regions_key(three_regions):
    for region, cluster in clusters(three_regions).items():
        # https://github.com/hashicorp/terraform-provider-aws/issues/13715
        assert key_region(three_regions, cluster.inputs["kmsKeyId"]) == region
        for instance in instances(three_regions, region):
            assert instance.inputs["performanceInsightsEnabled"] is True
            assert key_region(three_regions, instance.inputs["performanceInsightsKmsKeyId"]) == region


def test_backups_snapshots_logs_and_protection_by_default(dev):
    global_cluster = dev.one(GLOBAL)
    assert global_cluster.inputs["deletionProtection"] is True and global_cluster.protect
    for region, cluster in clusters(dev).items():
        inputs = cluster.inputs
        assert inputs["backupRetentionPeriod"] >= 7 and inputs["preferredBackupWindow"] == "03:00-04:00"
        assert inputs["deletionProtection"] is True and cluster.protect
        assert inputs["skipFinalSnapshot"] is False
        # A random id (zeros in the offline plan) per cluster incarnation
        # (https://github.com/pulumi/pulumi-aws/issues/1276), the suffix last.
        assert inputs["finalSnapshotIdentifier"] == f"payment-db-final-00000000-{region}-dev"
        assert inputs["enabledCloudwatchLogsExports"] == ["postgresql"]
        assert inputs["copyTagsToSnapshot"] is True


def test_every_region_runs_a_writer_and_a_reader_spread_over_zones(three_regions):
    for region in THREE:
        members = instances(three_regions, region)
        assert [i.inputs["identifier"] for i in members] == [f"payment-db-{n}-{region}-dev" for n in (1, 2)]
        assert len({i.inputs["availabilityZone"] for i in members}) == 2
        cluster = clusters(three_regions)[region]
        for instance in members:
            assert cluster.urn in instance.dependencies
            assert instance.inputs["instanceClass"] == "db.r6g.large"
            assert instance.inputs["publiclyAccessible"] is False
            # The version is pinned: https://github.com/pulumi/pulumi-aws/issues/5756
            assert instance.inputs["autoMinorVersionUpgrade"] is False


def test_enhanced_monitoring_uses_the_regions_own_role(dev):
    for instance in dev.of_type(INSTANCE):
        role = dev.by_output("arn", instance.inputs["monitoringRoleArn"])
        assert role.region == instance.region and role.inputs["name"] == f"payment-rds-monitoring-{instance.region}-dev"
        assert instance.inputs["monitoringInterval"] == 15
        trust = policy_statements(role.inputs["assumeRolePolicy"])[0]
        assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
        assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == engine.MOCK_ACCOUNT_ID
        attachment = dev.one(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment", lambda a: a.inputs["role"] == role.inputs["name"]
        )
        assert attachment.inputs["policyArn"].endswith(":policy/service-role/AmazonRDSEnhancedMonitoringRole")


def test_clusters_sit_in_private_subnets_behind_their_regions_security_group(dev):
    for region, cluster in clusters(dev).items():
        group = dev.one("aws:rds/subnetGroup:SubnetGroup", lambda g: g.region == region)
        assert cluster.inputs["dbSubnetGroupName"] == group.inputs["name"] == "payment-db-subnets-dev"
        subnets = [dev.by_output("id", subnet_id) for subnet_id in group.inputs["subnetIds"]]
        assert len(subnets) == 3 and {s.inputs["tags"]["Tier"] for s in subnets} == {"private"}
        assert {s.region for s in subnets} == {region}
        [sg_id] = cluster.inputs["vpcSecurityGroupIds"]
        security_group = dev.by_output("id", sg_id)
        assert security_group.region == region and security_group.inputs["egress"] == []


def test_postgres_is_open_only_to_the_other_regions_vpcs(three_regions, config):
    cidrs = {
        r.name: r.cidr
        for r in stack_config.parse({**config, "secondaryRegions": THREE[1:], "dynamodbWitnessRegion": ""}).regions
    }
    for region in THREE:
        security_group = three_regions.one(
            "aws:ec2/securityGroup:SecurityGroup", lambda g: g.region == region and g.name.endswith("-db")
        )
        rules = [
            r for r in three_regions.of_type(INGRESS) if r.inputs["securityGroupId"] == security_group.outputs["id"]
        ]
        assert all(r.region == region for r in rules)
        assert all(
            (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", 5432, 5432) for r in rules
        )
        # Address ranges: exactly the other regions' VPCs; anything else is an app security group
        # allowed in by reference (allow_postgres_from).
        assert {r.inputs["cidrIpv4"] for r in rules if "cidrIpv4" in r.inputs} == {
            cidr for other, cidr in cidrs.items() if other != region
        }
        assert all(
            "referencedSecurityGroupId" in r.inputs and not r.inputs.get("cidrIpv6")
            for r in rules
            if "cidrIpv4" not in r.inputs
        )


def test_parameter_group_forces_tls_and_leaves_the_managed_rpo_off_by_default(dev):
    for group in dev.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup"):
        assert group.inputs["family"] == "aurora-postgresql13"  # from the engine-version lookup
        parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
        assert parameters == {"rds.force_ssl": "1"}
        assert clusters(dev)[group.region].inputs["dbClusterParameterGroupName"] == group.inputs["name"]


def test_engine_version_is_checked_with_aws_in_every_region(dev):
    checks = [args for token, args in dev.invokes if token == "aws:rds/getEngineVersion:getEngineVersion"]
    assert checks == [{"engine": "aurora-postgresql", "version": "13.23"}] * 2
