"""The one naming helper: every physical name is ``<base>-<environmentSuffix>``.

Every physical name the stack (and the DR tooling) uses is declared here as a ``NameSpec``,
so that config validation can prove, before anything is created, that the longest name
built from a suffix still fits its AWS limit, and so that ``drctl`` finds the same resources
the Pulumi program created without reading Pulumi state.

Where AWS requires uniqueness beyond one region (S3 bucket names are global, IAM names are
account-wide, Route 53 health checks are global) the region goes into the name; everything
else carries the same name in every region, which keeps regional stacks symmetric.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SUFFIX_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$")
# S3 rejects bucket names ending in these (they are reserved for access-point aliases).
S3_RESERVED_ENDINGS = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


@dataclass(frozen=True)
class NameSpec:
    base: str
    limit: int
    with_region: bool = False
    is_s3_bucket: bool = False

    def render(self, suffix: str, region: str | None = None) -> str:
        if self.with_region:
            if not region:
                raise ValueError(f"name '{self.base}' is unique per region: a region is required")
            return f"{self.base}-{region}-{suffix}"
        return f"{self.base}-{suffix}"

    def max_suffix_length(self, longest_region: str) -> int:
        fixed = len(self.base) + 1 + (len(longest_region) + 1 if self.with_region else 0)
        return self.limit - fixed


# --- Catalog of every physical name -------------------------------------------------
# Limits are AWS's: S3 bucket 63, RDS identifiers 63, IAM role 64, Lambda 64,
# EventBridge rule 64, SQS 80, IAM policy 128; 255/256 for the rest.

# Network
VPC = NameSpec("payment-vpc", 255)
PRIVATE_SUBNET = NameSpec("payment-private", 255)
PUBLIC_SUBNET = NameSpec("payment-public", 255)
NAT_GATEWAY = NameSpec("payment-nat", 255)
FLOW_LOGS = NameSpec("payment-vpc-flow-logs", 512)
FLOW_LOGS_ROLE = NameSpec("payment-flow-logs", 64, with_region=True)
VPC_PEERING = NameSpec("payment-peering", 255)

# Keys and storage
KMS_KEY_ALIAS = NameSpec("alias/payment-dr", 256)
AUDIT_BUCKET = NameSpec("payment-audit-logs", 63, with_region=True, is_s3_bucket=True)
RECEIPTS_BUCKET = NameSpec("payment-receipts", 63, with_region=True, is_s3_bucket=True)
# Server access logs of the region's audit and receipts buckets (region_factory/storage.py).
ACCESS_LOG_BUCKET = NameSpec("payment-s3-logs", 63, with_region=True, is_s3_bucket=True)
S3_REPLICATION_ROLE = NameSpec("payment-s3-replication", 64, with_region=True)

# Database
GLOBAL_CLUSTER = NameSpec("payment-global", 63)
DB_CLUSTER = NameSpec("payment-db", 63, with_region=True)
# Qualified with the instance number (limit keeps room for "-NN").
DB_INSTANCE = NameSpec("payment-db", 60, with_region=True)
# Qualified with a random id per cluster incarnation, so a re-created stack's final snapshot never collides with the
# previous one's (https://github.com/pulumi/pulumi-aws/issues/1276); the limit keeps room for "-<8 hex digits>".
DB_FINAL_SNAPSHOT = NameSpec("payment-db-final", 246, with_region=True)
# After an unplanned failover, Aurora snapshots the old primary's volume when its region recovers, as
# "rds:unplanned-global-failover-<old cluster>-<timestamp>": an automated snapshot that only lives as long
# as the cluster's backup retention (docs/runbook.md, "Failing back"). The operator copies it to a manual
# snapshot named "lost-writes-<YYYYMMDD>-<region>-<suffix>". With the date it still fits a snapshot
# identifier's 63 characters for every suffix the catalog allows (the 64-character role names with a
# region bind tighter); a "payment-" base would not.
UNPLANNED_FAILOVER_SNAPSHOT_PREFIX = "rds:unplanned-global-failover-"
LOST_WRITES_SNAPSHOT = NameSpec("lost-writes", 63, with_region=True)
DB_SUBNET_GROUP = NameSpec("payment-db-subnets", 255)
DB_SECURITY_GROUP = NameSpec("payment-db", 255)
DB_PARAMETER_GROUP = NameSpec("payment-db-params", 255)
DB_MONITORING_ROLE = NameSpec("payment-rds-monitoring", 64, with_region=True)
DB_MASTER_SECRET = NameSpec("payment-db-master", 512)
TRANSACTIONS_TABLE = NameSpec("payment-transactions", 255)
IDEMPOTENCY_TABLE = NameSpec("payment-idempotency", 255)
CARD_HASH_SECRET = NameSpec("payment-card-hash-key", 512)

# Service
VALIDATOR_FUNCTION = NameSpec("payment-validator", 64)
VALIDATOR_ROLE = NameSpec("payment-validator", 64, with_region=True)
VALIDATOR_SG = NameSpec("payment-validator", 255)
VALIDATOR_DLQ = NameSpec("payment-validator-dlq", 80)
API = NameSpec("payment-api", 1024)
API_STAGE = NameSpec("payment-api", 128)
# Access-log group, under "/aws/apigateway/" (16 characters of the 512 a log group name may have).
API_ACCESS_LOGS = NameSpec("payment-api-access", 496)
# The role API Gateway assumes to write CloudWatch Logs, set once per account and region (docs/service.md).
API_GATEWAY_LOGS_ROLE = NameSpec("payment-apigw-logs", 64, with_region=True)

# Ledger (functions/ledger): the poster in every region, the migrator in the data home region.
LEDGER_POSTER_FUNCTION = NameSpec("payment-ledger-poster", 64)
LEDGER_POSTER_ROLE = NameSpec("payment-ledger-poster", 64, with_region=True)
LEDGER_POSTER_SG = NameSpec("payment-ledger-poster", 255)
LEDGER_FAILURES_QUEUE = NameSpec("payment-ledger-failures", 80)
LEDGER_MIGRATOR_FUNCTION = NameSpec("payment-ledger-migrate", 64)
LEDGER_MIGRATOR_ROLE = NameSpec("payment-ledger-migrate", 64, with_region=True)
LEDGER_MIGRATOR_SG = NameSpec("payment-ledger-migrate", 255)

# Health and failover
DB_PROBE_FUNCTION = NameSpec("payment-db-probe", 64)
DB_PROBE_ROLE = NameSpec("payment-db-probe", 64, with_region=True)
DB_PROBE_SG = NameSpec("payment-db-probe", 255)
DB_PROBE_SCHEDULE = NameSpec("payment-db-probe", 64)
HEALTH_CHECK = NameSpec("payment-health", 256, with_region=True)
# DNS labels (63 characters at most). The nested names of the public failover chain are
# "failover-<level>-<suffix>.<domainName>" (the limit keeps room for "-<level>"); the database's
# private zone is "db-<suffix>.payment-dr.internal" (docs/failover.md).
FAILOVER_CHAIN_LABEL = NameSpec("failover", 60)
DB_PRIVATE_ZONE_LABEL = NameSpec("db", 63)
PRIVATE_ZONE_PARENT = "payment-dr.internal"  # .internal: reserved for private use (ICANN, 2024)
FAILOVER_TOPIC = NameSpec("payment-failover-events", 256)
# Routing holds (core/routing.py): "payment-routing-hold-<held region>-<suffix>", one alarm per held region in
# each holder region (qualified with routing.hold_qualifier).
ROUTING_HOLD_ALARM = NameSpec("payment-routing", 255)
# The region canary (global_resources/canary.py); its alarms are "payment-canary-<target>-<suffix>".
CANARY_FUNCTION = NameSpec("payment-canary", 64)
CANARY_ROLE = NameSpec("payment-canary", 64, with_region=True)
CANARY_SCHEDULE = NameSpec("payment-canary", 64)
CANARY_ALARM = NameSpec("payment-canary", 255)
# Route 53 ARC (routingControl "arc"): one control panel per stack, one routing control per region. ARC names
# allow 64 characters; both live in the one cluster, so the control's name carries its region.
ARC_CONTROL_PANEL = NameSpec("payment-dr", 64)
ARC_ROUTING_CONTROL = NameSpec("payment-serve", 64, with_region=True)
# The health-check alarms' own topic and key in us-east-1 (global_resources/health_alarms.py).
HEALTH_ALARMS_TOPIC = NameSpec("payment-health-check-events", 256)
HEALTH_ALARMS_KEY_ALIAS = NameSpec("alias/payment-dr-health-checks", 256)
# CloudWatch dashboards are global to the account ("All dashboards in your account are global, not
# region-specific", CloudFormation AWS::CloudWatch::Dashboard): one per region needs the region in its name.
DASHBOARD = NameSpec("payment-dr", 255, with_region=True)
# Alarms are regional: qualified with what they watch ("payment-<what>-<suffix>", docs/observability.md).
ALARM = NameSpec("payment", 255)

# DR operations
DR_OPERATOR_ROLE = NameSpec("payment-dr-operator", 64)
DR_AUTOMATION_ROLE = NameSpec("payment-dr-automation", 64)
# What both DR roles may do in one region (a managed policy per region, attached to both).
DR_REGION_POLICY = NameSpec("payment-dr-ops", 128, with_region=True)


def all_specs() -> tuple[NameSpec, ...]:
    return tuple(value for value in globals().values() if isinstance(value, NameSpec))


def max_suffix_length(regions: Iterable[str]) -> int:
    """The longest suffix for which every name in the catalog fits in every given region."""
    longest_region = max(regions, key=len)
    return min(spec.max_suffix_length(longest_region) for spec in all_specs())


def suffix_problem(suffix: str, regions: Iterable[str]) -> str | None:
    """Why ``suffix`` cannot build valid names in these regions, or None when it can."""
    regions = list(regions)
    if not SUFFIX_PATTERN.match(suffix):
        return (
            "must be lower-case letters, digits and single hyphens, start with a letter and "
            "not end with a hyphen (S3, RDS and IAM names are built from it)"
        )
    limit = max_suffix_length(regions)
    if len(suffix) > limit:
        return f"is {len(suffix)} characters; the longest name built from it allows at most {limit}"
    for spec in all_specs():
        if spec.is_s3_bucket and spec.render(suffix, regions[0]).endswith(S3_RESERVED_ENDINGS):
            return f"would make bucket names end in a suffix S3 reserves ({', '.join(S3_RESERVED_ENDINGS)})"
    return None


@dataclass(frozen=True)
class Namer:
    """Renders catalog names for one stack's suffix."""

    suffix: str

    def __call__(self, spec: NameSpec, region: str | None = None) -> str:
        name = spec.render(self.suffix, region)
        if len(name) > spec.limit:  # config validation makes this unreachable; guard anyway
            raise ValueError(f"name {name!r} exceeds the AWS limit of {spec.limit} characters")
        return name

    def qualified(self, spec: NameSpec, qualifier: str, region: str | None = None) -> str:
        """A catalog name with a qualifier before the suffix, e.g. one per AZ or per alarm."""
        base = NameSpec(f"{spec.base}-{qualifier}", spec.limit, spec.with_region, spec.is_s3_bucket)
        return self(base, region)
