"""AWS providers: one per deployed region, plus providers for inherently global resources.

Tags are attached here as ``default_tags`` so that Environment, Region and DR-Role reach
every taggable resource from one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_aws as aws

from core import tags
from core.config import DrRole, StackConfig

# Route 53 health-check metrics exist only in us-east-1, so alarms on them live there.
ROUTE53_METRICS_REGION = "us-east-1"
# Route 53 ARC's recovery-control configuration API is served from us-west-2 only (global_resources/arc.py).
ARC_CONFIG_REGION = "us-west-2"


@dataclass(frozen=True)
class Providers:
    regional: dict[str, aws.Provider]
    # Global resources (global cluster, Route 53, DR IAM roles), API calls made in the primary region.
    global_: aws.Provider
    # Alarms on Route 53 health-check metrics, their topic and key: regional resources of the global
    # layer, tagged Region=us-east-1 (where they live) and DR-Role=global (what they serve).
    route53_metrics: aws.Provider
    # Route 53 ARC configuration (routingControl "arc" only).
    arc: aws.Provider | None = None

    def for_region(self, region: str) -> aws.Provider:
        return self.regional[region]


def _provider(name: str, region: str, tag_values: dict[str, str]) -> aws.Provider:
    return aws.Provider(
        name,
        region=region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tag_values),
    )


def build(cfg: StackConfig) -> Providers:
    regional = {
        spec.name: _provider(f"aws-{spec.name}", spec.name, tags.for_region(cfg, spec.name, spec.role))
        for spec in cfg.regions
    }
    # Region=global only where the resources are global (IAM, Route 53, the Aurora global cluster): a cost
    # or inventory filter by region must find the health-check alarms, their topic and key in us-east-1.
    return Providers(
        regional=regional,
        global_=_provider("aws-global", cfg.primary.name, tags.for_region(cfg, None, DrRole.GLOBAL)),
        route53_metrics=_provider(
            f"aws-global-{ROUTE53_METRICS_REGION}",
            ROUTE53_METRICS_REGION,
            tags.for_region(cfg, ROUTE53_METRICS_REGION, DrRole.GLOBAL),
        ),
        arc=_provider("aws-arc", ARC_CONFIG_REGION, tags.for_region(cfg, None, DrRole.GLOBAL))
        if cfg.routing_control == "arc"
        else None,
    )
