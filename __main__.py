"""payment-dr: multi-region disaster recovery for the payment processing system.

Reads and validates the config (nothing is declared if it is invalid), builds one AWS
provider per region, runs the region factory once per region, links the regions with the
global resources, and exports what operators and the DR tooling need.
"""

import pulumi
import pulumi_aws as aws

from core import config, providers
from global_resources import link_regions
from global_resources.zone import hosted_zone_id
from region_factory import SharedInputs, build_region

cfg = config.load()
aws_providers = providers.build(cfg)
shared = SharedInputs(
    account_id=aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=aws_providers.global_)).account_id,
    hosted_zone_id=hosted_zone_id(cfg, aws_providers),
)

regions = [build_region(cfg, spec, aws_providers, shared) for spec in cfg.regions]
global_resources = link_regions(cfg, aws_providers, regions, shared)

pulumi.export("primaryRegion", cfg.primary.name)
pulumi.export("secondaryRegions", [spec.name for spec in cfg.secondaries])
pulumi.export("vpcIds", {stack.region: stack.network.vpc.id for stack in regions})
