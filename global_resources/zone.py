"""The public hosted zone that serves the API's custom domain."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from core.config import StackConfig
from core.providers import Providers


def hosted_zone_id(cfg: StackConfig, providers: Providers) -> pulumi.Output[str]:
    """An existing zone by id or by name; a new zone only when `createHostedZone` asks for one."""
    if cfg.hosted_zone_id:
        return pulumi.Output.from_input(cfg.hosted_zone_id)
    if cfg.create_hosted_zone:
        zone = aws.route53.Zone(
            "hosted-zone",
            name=cfg.hosted_zone_name,
            comment=f"payment-dr {cfg.environment_suffix}",
            opts=pulumi.ResourceOptions(provider=providers.global_, protect=True),
        )
        return zone.zone_id
    return aws.route53.get_zone_output(
        name=cfg.hosted_zone_name,
        private_zone=False,
        opts=pulumi.InvokeOutputOptions(provider=providers.global_),
    ).zone_id
