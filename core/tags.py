"""The one place tags come from.

Providers carry these as ``default_tags``, so every taggable resource a provider creates is
tagged without each module repeating it. Resources that AWS tags through another region's
API (DynamoDB replicas) use ``for_region`` directly.
"""

from __future__ import annotations

from core.config import DrRole, StackConfig

PROJECT = "payment-dr"
GLOBAL_REGION_TAG = "global"


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
