"""payment-dr: multi-region disaster recovery for the payment processing system.

Reads and validates the config (nothing is declared if it is invalid), builds one AWS
provider per region, runs the region factory once per region, links the regions with the
global resources, and exports what operators and the DR tooling need.
"""

import pulumi
import pulumi_aws as aws

from core import config, providers
from core.providers import ROUTE53_METRICS_REGION
from global_resources import link_regions
from global_resources.link_monitoring import dashboard_url
from global_resources.zone import hosted_zone_id
from region_factory import SharedInputs, build_region

cfg = config.load()
aws_providers = providers.build(cfg)
shared = SharedInputs(
    account_id=aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=aws_providers.global_)).account_id,
    hosted_zone_id=hosted_zone_id(cfg, aws_providers),
)

# What each region publishes (region_factory/outputs.py): the global layer and the exports below read only this.
regions = [build_region(cfg, spec, aws_providers, shared).outputs for spec in cfg.regions]
global_resources = link_regions(cfg, aws_providers, regions, shared)

pulumi.export("primaryRegion", cfg.primary.name)
pulumi.export("secondaryRegions", [spec.name for spec in cfg.secondaries])
pulumi.export("vpcIds", {stack.region: stack.vpc_id for stack in regions})

# --- data tier (docs/data-tier.md); never the secrets' values ---
aurora = global_resources.aurora.outputs
pulumi.export("dataHomeRegion", cfg.data_home_region)
pulumi.export("auroraGlobalClusterId", aurora.global_cluster_identifier)
pulumi.export("auroraGlobalWriterEndpoint", aurora.writer_endpoint)
pulumi.export(
    "auroraClusters",
    {
        region: {
            "identifier": cluster.identifier,
            "arn": cluster.arn,
            "endpoint": cluster.endpoint,
            "readerEndpoint": cluster.reader_endpoint,
        }
        for region, cluster in aurora.clusters.items()
    },
)
pulumi.export(
    "dynamodbTables",
    {
        "transactions": {
            "name": global_resources.tables.transactions.name,
            "arn": global_resources.tables.transactions.arn,
        },
        "idempotency": {
            "name": global_resources.tables.idempotency.name,
            "arn": global_resources.tables.idempotency.arn,
        },
    },
)
pulumi.export(
    "secrets",
    {
        "dbMaster": {"name": global_resources.secrets.db_master.name, "arn": global_resources.secrets.db_master.arn},
        "cardHash": {"name": global_resources.secrets.card_hash.name, "arn": global_resources.secrets.card_hash.arn},
    },
)
pulumi.export(
    "buckets",
    {stack.region: dict(stack.bucket_names) for stack in regions},
)

# --- failover (docs/failover.md) ---
failover = global_resources.failover
pulumi.export(
    "failover",
    {
        "domainName": cfg.domain_name,
        # The public failover chain, level by level (level 0 is domainName).
        "chain": [{"name": name, "primary": region} for name, region in failover.chain],
        "healthChecks": {
            region: {
                kind: check.id
                for (check_region, kind), check in failover.health_checks.items()
                if check_region == region
            }
            for region in cfg.region_names
        },
        "dbProbeAlarms": {stack.region: stack.probe_alarm_name for stack in regions},
        "dbWritableAlarms": {stack.region: stack.probe_writable_alarm_name for stack in regions},
        # Routing holds (core/routing.py): held region -> holder region -> the hold check's id.
        "holdChecks": {
            held: {
                holder: check.id for (check_held, holder), check in failover.hold_checks.items() if check_held == held
            }
            for held in cfg.region_names
        },
        # For clients that cannot use auroraGlobalWriterEndpoint (preferred: it follows the writer, TLS verify-full works).
        "dbWriterName": failover.db_writer_name,
        "dbPrivateZoneId": failover.db_zone.zone_id,
    },
)
pulumi.export(
    "drRoles",
    {
        "operator": global_resources.dr_iam.operator_role.arn,
        "automation": global_resources.dr_iam.automation_role.arn,
    },
)

# --- payment service (docs/service.md) ---
# Each region's API on its own execute-api host, next to the custom domain every region serves:
# for smoke tests of one region, whatever the failover records point at.
pulumi.export(
    "paymentApi",
    {
        "url": f"https://{cfg.domain_name}",
        "regions": {
            stack.region: {
                "functionName": stack.function_name,
                "restApiId": stack.rest_api_id,
                "stage": stack.api_stage_name,
                "regionalUrl": pulumi.Output.concat("https://", stack.health_check_fqdn, "/", stack.api_stage_name),
                "healthCheckUrl": pulumi.Output.concat("https://", stack.health_check_fqdn, stack.health_check_path),
                "regionalDomainName": stack.api_domain_name,
            }
            for stack in regions
        },
    },
)

# --- operations (docs/observability.md): where to look, who gets paged, what encrypts it ---
pulumi.export(
    "dashboards",
    {
        region: {
            "name": link.dashboard.dashboard_name,
            "url": link.dashboard.dashboard_name.apply(lambda name, r=region: dashboard_url(r, name)),
        }
        for region, link in global_resources.monitoring.items()
    },
)
# Each region's failover topic: its alarms, the probe's and drctl's notices (alertEmails subscribe to each).
pulumi.export("failoverTopicArns", {stack.region: stack.failover_topic_arn for stack in regions})
# The Route 53 health-check alarms live in us-east-1 (health-check metrics exist only there) with their own topic.
health_alarms = global_resources.health_alarms
pulumi.export(
    "healthCheckAlarms",
    {
        "region": ROUTE53_METRICS_REGION,
        "topicArn": health_alarms.topic.arn,
        "kmsKeyArn": health_alarms.key.key.arn,
        "alarmNames": [alarm.name for _, alarm in sorted(health_alarms.alarms.items())],
    },
)
# Each region's customer managed key: storage, logs, topics, secrets' replicas and Aurora in that region.
pulumi.export("kmsKeyArns", {stack.region: stack.kms_key_arn for stack in regions})
