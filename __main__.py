"""payment-dr: multi-region disaster recovery for the payment processing system.

Reads and validates the config (nothing is declared if it is invalid), builds one AWS
provider per region, runs the region factory once per region, links the regions with the
global resources, and exports what operators and the DR tooling need.
"""

import pulumi
import pulumi_aws as aws

from core import config, providers
from global_resources import link_regions
from region_factory import build_region

cfg = config.load()
aws_providers = providers.build(cfg)
account_id = aws.get_caller_identity(opts=pulumi.InvokeOptions(provider=aws_providers.global_)).account_id

regions = [build_region(cfg, spec, aws_providers, account_id) for spec in cfg.regions]
global_resources = link_regions(cfg, aws_providers, regions)

pulumi.export("primaryRegion", cfg.primary.name)
pulumi.export("secondaryRegions", [spec.name for spec in cfg.secondaries])
pulumi.export("vpcIds", {stack.region: stack.network.vpc.id for stack in regions})
