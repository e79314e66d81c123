"""The one place tags come from.

Providers carry these as ``default_tags``, so every taggable resource a provider creates is
tagged without each module repeating it. Resources that AWS tags through another region's
API (DynamoDB replicas) use ``for_region`` directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # core.config validates `tags` against the limits below
    from core.config import DrRole, StackConfig

PROJECT = "payment-dr"
GLOBAL_REGION_TAG = "global"

STACK_TAG_KEYS = ("Project", "ManagedBy", "EnvironmentSuffix", "Environment", "Region", "DR-Role")
# Route 53 health checks and hosted zones take at most 10 tags (the tightest limit in the stack; most
# AWS resources take 50). The stack's tags and a Name leave the rest for config's `tags`.
ROUTE53_TAG_LIMIT = 10
MAX_EXTRA_TAGS = ROUTE53_TAG_LIMIT - len(STACK_TAG_KEYS) - len(["Name"])


def for_region(cfg: StackConfig, region: str | None, role: DrRole) -> dict[str, str]:
    return {
        **cfg.extra_tags,
        "Project": PROJECT,
        "ManagedBy": "pulumi",
        "EnvironmentSuffix": cfg.environment_suffix,
        "Environment": cfg.environment,
        "Region": region or GLOBAL_REGION_TAG,
        "DR-Role": role.value,
    }
