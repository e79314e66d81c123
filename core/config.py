"""Typed, validated stack configuration, read once.

Every key lives in the ``payment-dr`` namespace. ``load`` reads them through ``pulumi.Config``;
``parse`` validates a plain mapping, so that the offline plan, the DR tooling and the tests
use exactly the same rules. All problems are reported together, one line each naming the
key, the value and what is allowed, before any resource is declared.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from core import naming, tags

NAMESPACE = "payment-dr"

# AWS commercial regions (opt-in ones included). Unknown names fail early instead of
# surfacing as a provider error halfway through `pulumi up`.
KNOWN_REGIONS = frozenset(
    [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "ca-west-1",
        "mx-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-south-2",
        "eu-north-1",
        "il-central-1",
        "me-south-1",
        "me-central-1",
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
    ]
)
# DynamoDB multi-Region strong consistency (MRSC) exists only inside one of these region sets, with
# exactly three regions: three replicas, or two replicas and a witness (docs/data-tier.md;
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateGlobalTableWitnessGroupMemberAction.html).
MRSC_REGION_SETS = {
    "US": frozenset({"us-east-1", "us-east-2", "us-west-2"}),
    "EU": frozenset({"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"}),
    "AP": frozenset({"ap-northeast-1", "ap-northeast-2", "ap-northeast-3"}),
}
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ENGINE_VERSION_PATTERN = re.compile(r"^\d{2}\.\d{1,2}$")
INSTANCE_CLASS_PATTERN = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
HOSTED_ZONE_ID_PATTERN = re.compile(r"^Z[A-Z0-9]{1,31}$")
PRINCIPAL_ARN_PATTERN = re.compile(r"^arn:aws:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
# arn:aws:route53-recovery-control::<account>:cluster/<id> (ARC resources are global: no region in the ARN).
ARC_CLUSTER_ARN_PATTERN = re.compile(r"^arn:aws:route53-recovery-control::\d{12}:cluster/[A-Za-z0-9_-]{1,64}$")
ROUTING_CONTROLS = ("cloudwatch", "arc")  # core/routing.py: ROUTING_CONTROL_CLOUDWATCH, ROUTING_CONTROL_ARC
DEFAULT_CIDR_POOL = ipaddress.ip_network("10.0.0.0/8")
DEFAULT_VPC_PREFIX = 16
# Private /20s in 3 AZs, public /24s: the VPC must be large enough for both.
MAX_VPC_PREFIX = 18
RFC1918_BLOCKS = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# Lambda refuses a reservation that leaves an account fewer than 100 unreserved executions per region;
# with the default quota of 1000, the DB probe's 1 and the canary's 1, the validator can reserve 898.
MAX_RESERVED_CONCURRENCY = 1000 - 100 - 2


class DrRole(str, Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    GLOBAL = "global"


class NatMode(str, Enum):
    PER_AZ = "per-az"
    SINGLE = "single"


class Consistency(str, Enum):
    """How the acceptance (idempotency) table replicates (docs/data-tier.md, "Exactly-once")."""

    STRONG = "strong"  # MRSC: a payment is accepted once across regions, RPO 0
    EVENTUAL = "eventual"  # MREC: once per region; a second acceptance is possible in the replication window


class ObjectLockMode(str, Enum):
    """S3 Object Lock default retention for audit logs (docs/data-tier.md, "Object Lock")."""

    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


class ConfigError(ValueError):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"invalid stack configuration ({NAMESPACE}):\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class RegionSpec:
    name: str
    role: DrRole
    cidr: str

    @property
    def is_primary(self) -> bool:
        return self.role is DrRole.PRIMARY


@dataclass(frozen=True)
class StackConfig:
    environment_suffix: str
    environment: str
    regions: tuple[RegionSpec, ...]
    nat_mode: NatMode
    domain_name: str
    hosted_zone_name: str | None
    hosted_zone_id: str | None
    create_hosted_zone: bool
    alert_emails: tuple[str, ...]
    aurora_engine_version: str
    aurora_instance_class: str
    aurora_secondary_instances: int
    backup_retention_days: int
    preferred_backup_window: str
    deletion_protection: bool
    skip_final_snapshot: bool
    # Data tier (docs/data-tier.md): where the global tables, the secrets' primary copies and the
    # Aurora global cluster object live; it never follows primaryRegion.
    data_home_region: str
    aurora_global_db_rpo_seconds: int | None
    audit_retention_days: int
    audit_object_lock_mode: ObjectLockMode
    replication_lag_threshold_ms: int
    health_check_interval_seconds: int
    health_check_failure_threshold: int
    dns_ttl_seconds: int
    log_retention_days: int
    lambda_reserved_concurrency: int
    max_transaction_amount: str
    allowed_currencies: tuple[str, ...]
    api_throttle_rate_limit: int
    api_throttle_burst_limit: int
    # API Gateway's CloudWatch Logs role is one setting per account and region: exactly one stack per
    # account should manage it (docs/service.md, "Access logs and the account's CloudWatch role").
    manage_api_gateway_account: bool
    ops_principal_arns: tuple[str, ...]
    # How a region is taken out of rotation by hand (docs/failover.md): CloudWatch holds only, or also
    # Route 53 ARC routing controls on the team's cluster.
    routing_control: str = "cloudwatch"
    arc_cluster_arn: str | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    dynamodb_consistency: Consistency = Consistency.EVENTUAL
    dynamodb_witness_region: str | None = None
    # Why `eventual` was chosen when dynamodbConsistency was left unset (None when set or strong).
    dynamodb_consistency_note: str | None = None

    @property
    def primary(self) -> RegionSpec:
        return self.regions[0]

    @property
    def secondaries(self) -> tuple[RegionSpec, ...]:
        return self.regions[1:]

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    def region(self, name: str) -> RegionSpec:
        return next(r for r in self.regions if r.name == name)

    @property
    def data_home(self) -> RegionSpec:
        return self.region(self.data_home_region)

    @property
    def namer(self) -> naming.Namer:
        return naming.Namer(self.environment_suffix)


# ---------------------------------------------------------------------------------------------
# The settings table: every key declared once. `KNOWN_KEYS`, the reading and simple checks in
# `parse`, their error messages and README.md's configuration table (`python -m core.settings_doc`)
# are built from it. Rules that span keys (regions, CIDRs, zone, ARC, tags, DynamoDB consistency)
# are functions below, but the keys they read are declared here with their default and limits.
# ---------------------------------------------------------------------------------------------

Kind = Literal["text", "whole number", "true/false", "list", "map"]


@dataclass(frozen=True, kw_only=True)
class Setting:
    """One config key: how it is read, its default, what is allowed, and what it means."""

    key: str
    kind: Kind
    doc: str  # the README's "meaning"
    default: Any = None  # the value when unset (None: unset, or computed: see default_doc)
    default_doc: str | None = None  # the README's default when it is not `default` itself
    required: bool = False
    check: Callable[[Any], bool] | None = None  # one value; for a list, each entry
    allowed: str = ""  # what is allowed: the error text after "key=value: ", and the README's limit
    field: str | None = None  # the StackConfig attribute it fills as read; None: a cross-key rule fills it
    convert: Callable[[Any], Any] | None = None  # value -> field value (enums, tuples)


def _is_domain(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return (
        len(name) <= 253
        and len(labels) >= 2
        and all(DOMAIN_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and bool(pattern.match(value))


def _between(low: int, high: int) -> Callable[[int], bool]:
    return lambda n: low <= n <= high


def _is_window(value: str) -> bool:
    """hh24:mi-hh24:mi in UTC, at least 30 minutes long (RDS rule); it may wrap past midnight."""
    match = re.match(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$", value)
    if not match:
        return False
    start, end = int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])
    return (end - start) % 1440 >= 30


def _is_amount(value: str) -> bool:
    return bool(re.match(r"^\d{1,12}(\.\d{1,3})?$", value)) and float(value) > 0


def _choice(options: Mapping[str, str]) -> str:
    """allowed: 'a' (why) or 'b' (why): the text errors and the README show for a fixed set of values."""
    listed = [f"'{value}' ({why})" for value, why in options.items()]
    return "allowed: " + ", ".join(listed[:-1]) + " or " + listed[-1]


NAT_MODES = {NatMode.PER_AZ.value: "one NAT gateway per AZ, production", NatMode.SINGLE.value: "cheap test stacks"}
OBJECT_LOCK_MODES = {
    ObjectLockMode.GOVERNANCE.value: "privileged users can still delete",
    ObjectLockMode.COMPLIANCE.value: "nobody can, until retention ends",
}
ROUTING_CONTROL_MODES = dict(
    zip(
        ROUTING_CONTROLS,
        (
            "holds on CloudWatch alarms, the default",
            "also Route 53 ARC routing controls on the cluster named by arcClusterArn",
        ),
        strict=True,
    )
)
CONSISTENCY_MODES = {
    Consistency.STRONG.value: "multi-Region strong consistency: a payment is accepted once across regions, RPO 0",
    Consistency.EVENTUAL.value: "once per region: see docs/data-tier.md for the gap",
}
# The default AWS still creates: 16.8 is Aurora PostgreSQL 16's long-term-support minor (kept at least
# three years, https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Updates.LTS.html).
# The spec's 13.7 is deprecated (docs/aws-facts.md, "Aurora engine versions") but stays accepted: `pulumi up`
# asks AWS (region_factory/database.py) and an account that still offers it may use it.
DEFAULT_ENGINE_VERSION = "16.8"
SPEC_ENGINE_VERSION = "13.7"
_MRSC_SETS_TEXT = "; ".join(f"{name}: {', '.join(sorted(members))}" for name, members in MRSC_REGION_SETS.items())

SETTINGS: tuple[Setting, ...] = (
    Setting(
        key="environmentSuffix",
        kind="text",
        required=True,
        field="environment_suffix",
        allowed="lower-case letters, digits and single hyphens, starting with a letter; at most as long as the "
        "longest name built from it allows in the deployed regions; no S3-reserved ending",
        doc="ends every physical name (`resource-name-{suffix}`)",
    ),
    Setting(key="environment", kind="text", default_doc="the suffix", doc="value of the `Environment` tag"),
    Setting(
        key="primaryRegion",
        kind="text",
        default="us-east-1",
        check=lambda v: v in KNOWN_REGIONS,
        allowed="must be an AWS region such as us-east-1",
        doc="the region that takes writes; first in the failover chain",
    ),
    Setting(
        key="secondaryRegions",
        kind="list",
        default=["us-east-2"],
        check=lambda v: v in KNOWN_REGIONS,
        allowed="each entry must be an AWS region such as us-east-2; at least one, none twice, not primaryRegion",
        doc="DR regions; a third region is one more entry",
    ),
    Setting(
        key="vpcCidrs",
        kind="map",
        default={},
        default_doc="a /16 per region from 10.0.0.0/8, fixed by region name",
        allowed=f"region → IPv4 block: private (RFC 1918), /16 to /{MAX_VPC_PREFIX}, disjoint, deployed regions only",
        doc="each region's VPC block",
    ),
    Setting(
        key="natGateways",
        kind="text",
        default=NatMode.PER_AZ.value,
        check=lambda v: v in NAT_MODES,
        allowed=_choice(NAT_MODES),
        field="nat_mode",
        convert=NatMode,
        doc="NAT gateways of each region's VPC",
    ),
    Setting(
        key="domainName",
        kind="text",
        required=True,
        check=_is_domain,
        field="domain_name",
        allowed="must be a lower-case DNS name with at least two labels, e.g. api.payments.example.com",
        doc="the API's custom domain, served by every region",
    ),
    Setting(
        key="hostedZoneName",
        kind="text",
        check=_is_domain,
        field="hosted_zone_name",
        allowed="must be a DNS name like example.com: domainName or one of its parents",
        doc="public zone serving `domainName` (looked up by name); this or `hostedZoneId` is required",
    ),
    Setting(
        key="hostedZoneId",
        kind="text",
        check=_matches(HOSTED_ZONE_ID_PATTERN),
        field="hosted_zone_id",
        allowed="must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ",
        doc="the same zone by id (skips the lookup)",
    ),
    Setting(
        key="createHostedZone",
        kind="true/false",
        default=False,
        field="create_hosted_zone",
        allowed="must be true or false; not with hostedZoneId",
        doc="create the zone `hostedZoneName` (protected) instead of looking it up; the first `pulumi up` then "
        "waits on ACM validation until the parent zone delegates to the new zone's name servers, so create "
        "and delegate it first where you can",
    ),
    Setting(
        key="alertEmails",
        kind="list",
        required=True,
        default=[],
        check=_matches(EMAIL_PATTERN),
        field="alert_emails",
        convert=tuple,
        allowed="each entry must be an e-mail address like ops@example.com; at least one",
        doc="operations e-mail addresses subscribed to every region's failover topic",
    ),
    Setting(
        key="auroraEngineVersion",
        kind="text",
        default=DEFAULT_ENGINE_VERSION,
        field="aurora_engine_version",
        check=lambda v: bool(ENGINE_VERSION_PATTERN.match(v)) and v.startswith(("1", "2")),
        allowed=f"must be an Aurora PostgreSQL version like {DEFAULT_ENGINE_VERSION}, 15.10 or 13.9 that AWS "
        "still creates in every region (asked at `pulumi up`)",
        doc=f"Aurora PostgreSQL version; the spec's {SPEC_ENGINE_VERSION} can no longer be created — see below",
    ),
    Setting(
        key="auroraInstanceClass",
        kind="text",
        default="db.r6g.large",
        check=_matches(INSTANCE_CLASS_PATTERN),
        field="aurora_instance_class",
        allowed="must be an RDS instance class like db.r6g.large",
        doc="instance class of every Aurora instance",
    ),
    Setting(
        key="auroraSecondaryInstances",
        kind="whole number",
        default=1,
        check=_between(1, 15),
        field="aurora_secondary_instances",
        allowed="allowed: 1 to 15 instances per secondary cluster",
        doc="instances per secondary cluster; every region runs `max(2, n)` so that any region can become "
        "primary with a writer and a reader",
    ),
    Setting(
        key="backupRetentionDays",
        kind="whole number",
        default=7,
        check=_between(7, 35),
        field="backup_retention_days",
        allowed="allowed: 7 to 35 days (the DR policy needs at least 7)",
        doc="automated backups of every cluster",
    ),
    Setting(
        key="preferredBackupWindow",
        kind="text",
        default="03:00-04:00",
        check=_is_window,
        field="preferred_backup_window",
        allowed="must be a UTC window hh24:mi-hh24:mi like 03:00-04:00, at least 30 minutes long (RDS rule)",
        doc="UTC backup window",
    ),
    Setting(
        key="deletionProtection",
        kind="true/false",
        default=True,
        field="deletion_protection",
        allowed="must be true or false",
        doc="on clusters, tables; turn off only for throw-away stacks",
    ),
    Setting(
        key="skipFinalSnapshot",
        kind="true/false",
        default=False,
        field="skip_final_snapshot",
        allowed="must be true or false",
        doc="final snapshot (named with the suffix) on cluster deletion",
    ),
    Setting(
        key="dataHomeRegion",
        kind="text",
        default_doc="`primaryRegion`",
        allowed="must be one of the deployed regions: the region that was primary when the data tier was first deployed",
        doc="the fixed region that holds the DynamoDB table resources, the secrets' primary copies and the global "
        "cluster's API region; pin it before swapping `primaryRegion`",
    ),
    Setting(
        key="auroraGlobalDbRpoSeconds",
        kind="whole number",
        default=0,
        default_doc="`0` (off)",
        check=lambda n: n == 0 or 20 <= n <= 86400,
        field="aurora_global_db_rpo_seconds",
        convert=lambda n: n or None,
        allowed="allowed: 20 to 86400 seconds (Aurora's minimum is 20), or 0 to leave rds.global_db_rpo unset",
        doc="Aurora managed RPO (`rds.global_db_rpo`): the primary blocks commits when every secondary lags more",
    ),
    Setting(
        key="auditRetentionDays",
        kind="whole number",
        default=365,
        check=_between(1, 3650),
        field="audit_retention_days",
        allowed="allowed: 1 to 3650 days (PCI DSS asks for at least 365)",
        doc="Object Lock retention of audit logs",
    ),
    Setting(
        key="auditObjectLockMode",
        kind="text",
        default=ObjectLockMode.GOVERNANCE.value,
        check=lambda v: v in OBJECT_LOCK_MODES,
        field="audit_object_lock_mode",
        convert=ObjectLockMode,
        allowed=_choice(OBJECT_LOCK_MODES),
        doc="Object Lock mode of audit logs (COMPLIANCE cannot be shortened by anyone)",
    ),
    Setting(
        key="dynamodbConsistency",
        kind="text",
        check=lambda v: v in CONSISTENCY_MODES,
        default_doc="unset: `strong` where MRSC fits the regions, else `eventual` (with a warning)",
        allowed=_choice(CONSISTENCY_MODES)
        + f"; strong needs three regions of one MRSC region set ({_MRSC_SETS_TEXT}), "
        "or two and a witness",
        doc='acceptance table\'s multi-Region consistency (docs/data-tier.md, "Exactly-once")',
    ),
    Setting(
        key="dynamodbWitnessRegion",
        kind="text",
        check=lambda v: v in KNOWN_REGIONS,
        default_doc="unset (example stack: `us-west-2`)",
        allowed="must be an AWS region such as us-west-2: a third region of the replicas' MRSC region set; "
        "refused with three regions or eventual",
        doc="MRSC witness for a two-region stack",
    ),
    Setting(
        key="replicationLagThresholdMs",
        kind="whole number",
        default=1000,
        check=_between(1, 1000),
        field="replication_lag_threshold_ms",
        allowed="allowed: 1 to 1000 ms (the spec's alarm is at 1 second)",
        doc="Aurora replication-lag alarm threshold",
    ),
    Setting(
        key="healthCheckIntervalSeconds",
        kind="whole number",
        default=10,
        check=lambda n: n in (10, 30),
        field="health_check_interval_seconds",
        allowed="allowed: 10 or 30 (Route 53's only intervals)",
        doc="Route 53 health-check interval",
    ),
    Setting(
        key="healthCheckFailureThreshold",
        kind="whole number",
        default=3,
        check=_between(1, 10),
        field="health_check_failure_threshold",
        allowed="allowed: 1 to 10",
        doc="failures before a check turns unhealthy",
    ),
    Setting(
        key="dnsTtlSeconds",
        kind="whole number",
        default=60,
        check=_between(5, 300),
        field="dns_ttl_seconds",
        allowed="allowed: 5 to 300 seconds (a failover record with a long TTL defeats failover)",
        doc="TTL of the private database failover records",
    ),
    Setting(
        key="logRetentionDays",
        kind="whole number",
        default=90,
        check=lambda n: n in LOG_RETENTION_DAYS,
        field="log_retention_days",
        allowed=f"allowed: one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
        doc="CloudWatch Logs retention (the values CloudWatch accepts)",
    ),
    Setting(
        key="lambdaReservedConcurrency",
        kind="whole number",
        default=50,
        check=_between(1, MAX_RESERVED_CONCURRENCY),
        field="lambda_reserved_concurrency",
        allowed=f"allowed: 1 to {MAX_RESERVED_CONCURRENCY} (Lambda keeps 100 of an account's default 1000 concurrent "
        "executions per region unreserved, and the DB probe and the canary reserve 1 each)",
        doc="reserved concurrency of the payment function per region (an account with a lower quota needs a lower value)",
    ),
    Setting(
        key="maxTransactionAmount",
        kind="text",
        default="10000.00",
        check=_is_amount,
        field="max_transaction_amount",
        allowed="must be a positive decimal amount like 10000.00",
        doc="per-transaction limit (major units)",
    ),
    Setting(
        key="allowedCurrencies",
        kind="list",
        default=["USD", "EUR", "GBP", "JPY"],
        check=_matches(CURRENCY_PATTERN),
        field="allowed_currencies",
        convert=tuple,
        allowed="each entry must be an ISO 4217 code like USD that the payment function can format",
        doc="ISO 4217 codes the API accepts",
    ),
    Setting(
        key="apiThrottleRateLimit",
        kind="whole number",
        default=200,
        check=_between(1, 10000),
        field="api_throttle_rate_limit",
        allowed="allowed: 1 to 10000 requests per second",
        doc="API Gateway steady-state requests per second",
    ),
    Setting(
        key="apiThrottleBurstLimit",
        kind="whole number",
        default=400,
        check=_between(1, 5000),
        field="api_throttle_burst_limit",
        allowed="allowed: 1 to 5000 requests",
        doc="API Gateway burst",
    ),
    Setting(
        key="manageApiGatewayAccount",
        kind="true/false",
        default=True,
        field="manage_api_gateway_account",
        allowed="must be true or false",
        doc="set the account-level API Gateway CloudWatch role in each region (one per account and region: "
        "turn off if another stack owns it)",
    ),
    Setting(
        key="opsPrincipalArns",
        kind="list",
        default=[],
        default_doc="the account root",
        check=_matches(PRINCIPAL_ARN_PATTERN),
        field="ops_principal_arns",
        convert=tuple,
        allowed="each entry must be an IAM ARN like arn:aws:iam::123456789012:role/ops",
        doc="who may assume the DR operator role (with MFA)",
    ),
    Setting(
        key="routingControl",
        kind="text",
        default="cloudwatch",
        check=lambda v: v in ROUTING_CONTROL_MODES,
        field="routing_control",
        allowed=_choice(ROUTING_CONTROL_MODES),
        doc="how regions are held out of rotation (docs/failover.md)",
    ),
    Setting(
        key="arcClusterArn",
        kind="text",
        check=_matches(ARC_CLUSTER_ARN_PATTERN),
        allowed="must be an ARC cluster ARN like arn:aws:route53-recovery-control::123456789012:cluster/abcd1234; "
        "required with routingControl=arc, refused otherwise",
        doc="the Route 53 ARC cluster for the routing controls",
    ),
    Setting(
        key="tags",
        kind="map",
        default={},
        field="extra_tags",
        allowed=f"at most {tags.MAX_EXTRA_TAGS} entries (Route 53 health checks and zones take {tags.ROUTE53_TAG_LIMIT} "
        f"tags and the stack sets {tags.ROUTE53_TAG_LIMIT - tags.MAX_EXTRA_TAGS} itself); not "
        f"{', '.join([*tags.STACK_TAG_KEYS, 'Name'])}",
        doc="extra tags on everything",
    ),
)
SETTING = {s.key: s for s in SETTINGS}
KNOWN_KEYS = tuple(SETTING)
_INVALID = object()  # a value that failed its kind; already reported


class _Reader:
    """Reads each setting by its declaration and records problems instead of stopping at the first one."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.found: list[tuple[str, str]] = []  # (key, problem)
        self.invalid: set[str] = set()  # keys whose value was refused (their default stands in)

    def problem(self, key: str, value: Any, allowed: str) -> None:
        self.found.append((key, f"{key}={_show(value)}: {allowed}"))
        self.invalid.add(key)

    def missing(self, key: str, text: str) -> None:
        """A problem with no value to show: `text` says what is required."""
        self.found.append((key, text))
        self.invalid.add(key)

    @property
    def problems(self) -> list[str]:
        """In the table's order (unknown keys first), whatever rule found them."""
        order = {key: i for i, key in enumerate(KNOWN_KEYS)}
        return [text for _, text in sorted(self.found, key=lambda found: order.get(found[0], -1))]

    def unknown_keys(self) -> None:
        for key in sorted(set(self.raw) - set(KNOWN_KEYS)):
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
            self.problem(key, self.raw[key], f"is not a {NAMESPACE} setting; {hint}")

    def read(self, s: Setting) -> Any:
        """The setting's value, or its default when unset or refused (each problem recorded)."""
        raw = self.raw.get(s.key)
        value = None if raw is None or raw == "" else self._typed(s, raw)
        if value is _INVALID:
            return s.default
        if value is None or (s.kind == "list" and value == []):
            if s.required:
                self.missing(
                    s.key, f"{s.key} is required: {s.doc} (set it with `pulumi config set {NAMESPACE}:{s.key} ...`)"
                )
                return s.default
            if value is None:
                return s.default
        if s.check is None:
            return value
        if s.kind == "list":
            for entry in value:
                if not s.check(entry):
                    self.problem(s.key, entry, s.allowed)
            return value  # the good entries still feed the cross-key rules
        if not s.check(value):
            self.problem(s.key, raw, s.allowed)  # as the user wrote it
            return s.default
        return value

    def _typed(self, s: Setting, value: Any) -> Any:
        if s.kind == "text":
            if isinstance(value, str):
                return value
            self.problem(s.key, value, "must be a string")
        elif s.kind == "whole number":
            try:
                return int(str(value), 10)
            except ValueError:
                self.problem(s.key, value, f"must be a whole number; {s.allowed}")
        elif s.kind == "true/false":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            self.problem(s.key, value, "must be true or false")
        else:
            # Lists and maps arrive as JSON strings from Pulumi config, or as objects from YAML.
            expected = list if s.kind == "list" else dict
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    self.problem(s.key, value, f"must be a {expected.__name__} (YAML or JSON)")
                    return _INVALID
            if isinstance(value, expected):
                return value
            self.problem(s.key, value, f"must be a {expected.__name__}")
        return _INVALID


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def parse(raw: Mapping[str, Any]) -> StackConfig:
    """Validates raw config values (keys without the namespace) into a StackConfig."""
    r = _Reader(raw)
    r.unknown_keys()
    values = {s.key: r.read(s) for s in SETTINGS}
    fields = {s.field: (s.convert or (lambda v: v))(values[s.key]) for s in SETTINGS if s.field}
    # Cross-key rules: each reads declared values and fills what no single key can.
    region_names = _check_regions(r, values)
    fields["environment"] = _check_suffix(r, values, region_names)
    cidrs = _check_cidrs(r, region_names, values["vpcCidrs"])
    fields["regions"] = tuple(
        RegionSpec(name, DrRole.PRIMARY if i == 0 else DrRole.SECONDARY, cidrs[name])
        for i, name in enumerate(region_names)
    )
    fields["data_home_region"] = _check_data_home(r, values, region_names)
    _check_zone(r, values)
    fields["arc_cluster_arn"] = _check_arc(r, values)
    _check_tags(r, values)
    consistency = _check_consistency(r, values, region_names)
    fields.update(
        dynamodb_consistency=consistency[0],
        dynamodb_witness_region=consistency[1],
        dynamodb_consistency_note=consistency[2],
    )
    if r.found:
        raise ConfigError(r.problems)
    return StackConfig(**fields)


def _check_regions(r: _Reader, values: Mapping[str, Any]) -> list[str]:
    """The deployed regions, primary first; secondaryRegions must be other, distinct, known regions."""
    primary, secondaries = values["primaryRegion"], values["secondaryRegions"]
    names = [] if "primaryRegion" in r.invalid else [primary]
    if not secondaries:
        r.problem("secondaryRegions", secondaries, "must list at least one region (a DR stack needs a second region)")
    for region in secondaries:
        if region not in KNOWN_REGIONS:
            continue  # reported by its declaration
        if region == primary:
            r.problem(
                "secondaryRegions",
                region,
                f"must differ from primaryRegion ({primary}): a region cannot back itself up",
            )
        elif region in names:
            r.problem("secondaryRegions", region, "lists this region twice")
        else:
            names.append(region)
    return names


def _check_suffix(r: _Reader, values: Mapping[str, Any], region_names: list[str]) -> str:
    """environmentSuffix against the names built from it in these regions; returns the Environment tag value."""
    suffix = values["environmentSuffix"] or ""
    if suffix:
        # Without valid regions, check the suffix against the defaults so its own errors still show.
        problem = naming.suffix_problem(suffix, region_names or ["us-east-1", "us-east-2"])
        if problem:
            r.problem("environmentSuffix", suffix, problem)
    return values["environment"] or suffix


def _check_data_home(r: _Reader, values: Mapping[str, Any], region_names: list[str]) -> str:
    data_home = values["dataHomeRegion"] or values["primaryRegion"]
    if region_names and data_home not in region_names:
        r.problem(
            "dataHomeRegion",
            data_home,
            f"must be one of the deployed regions ({', '.join(region_names)}): "
            "the region that was primary when the data tier was first deployed",
        )
    return data_home


def _check_arc(r: _Reader, values: Mapping[str, Any]) -> str | None:
    """arcClusterArn goes with routingControl=arc, and only with it."""
    arn, arc = values["arcClusterArn"], values["routingControl"] == "arc"
    if "arcClusterArn" in r.invalid:
        return None
    if arc and not arn:
        r.missing(
            "arcClusterArn",
            "arcClusterArn is required with routingControl=arc: the ARN of the Route 53 ARC cluster "
            "to put the routing controls on",
        )
    elif arn and not arc:
        r.problem(
            "arcClusterArn", arn, "is only used with routingControl=arc (set routingControl or remove arcClusterArn)"
        )
    return arn if arc else None


def _check_tags(r: _Reader, values: Mapping[str, Any]) -> None:
    extra_tags = values["tags"]
    reserved = {*tags.STACK_TAG_KEYS, "Name"} & set(extra_tags)
    if reserved:
        r.problem("tags", extra_tags, f"must not set {', '.join(sorted(reserved))}: the stack sets those itself")
    elif len(extra_tags) > tags.MAX_EXTRA_TAGS:
        r.problem(
            "tags",
            extra_tags,
            f"allows at most {tags.MAX_EXTRA_TAGS} entries: Route 53 health checks and zones take "
            f"{tags.ROUTE53_TAG_LIMIT} tags and the stack sets {tags.ROUTE53_TAG_LIMIT - tags.MAX_EXTRA_TAGS} itself",
        )


def mrsc_region_set(regions: list[str] | tuple[str, ...]) -> str | None:
    """The MRSC region set holding every one of `regions`, if any."""
    return next((name for name, members in MRSC_REGION_SETS.items() if set(regions) <= members), None)


def _mrsc_problem(regions: list[str], witness: str | None) -> str | None:
    """Why multi-Region strong consistency cannot apply to these regions and witness, or None."""
    region_set = mrsc_region_set(regions)
    sets = "; ".join(f"{name}: {', '.join(sorted(members))}" for name, members in MRSC_REGION_SETS.items())
    if region_set is None:
        return f"the regions {', '.join(regions)} are not all in one MRSC region set ({sets})"
    if len(regions) == 3:
        if witness:
            return (
                "three regions make three replicas, which leaves no place for a witness: remove dynamodbWitnessRegion "
                "(an MRSC table's regions are fixed at creation: adding a third region to a deployed two-region "
                "strong stack means a new acceptance table, docs/data-tier.md)"
            )
        return None
    if len(regions) != 2:
        return f"MRSC needs exactly three regions (replicas plus a witness), the stack has {len(regions)}"
    if not witness:
        candidates = sorted(MRSC_REGION_SETS[region_set] - set(regions))
        return f"two regions need a witness region: set dynamodbWitnessRegion to one of {', '.join(candidates)}"
    if witness in regions:
        return f"the witness must be a third region, not one of the replicas ({', '.join(regions)})"
    if witness not in MRSC_REGION_SETS[region_set]:
        return f"the witness must be in the replicas' region set ({region_set}: {', '.join(sorted(MRSC_REGION_SETS[region_set]))})"
    return None


def _check_consistency(
    r: _Reader, values: Mapping[str, Any], regions: list[str]
) -> tuple[Consistency, str | None, str | None]:
    """dynamodbConsistency and dynamodbWitnessRegion: strong by default wherever MRSC can apply."""
    raw_mode, witness = values["dynamodbConsistency"], values["dynamodbWitnessRegion"]
    if {"dynamodbConsistency", "dynamodbWitnessRegion"} & r.invalid:
        return Consistency.EVENTUAL, None, None  # reported by their declarations
    if len(regions) < 2:
        return Consistency.EVENTUAL, None, None  # the regions' own errors are reported already
    if raw_mode == Consistency.EVENTUAL.value:
        if witness:
            r.problem(
                "dynamodbWitnessRegion",
                witness,
                "applies only with dynamodbConsistency 'strong': remove it, or use strong",
            )
        return Consistency.EVENTUAL, None, None
    if raw_mode == Consistency.STRONG.value:
        problem = _mrsc_problem(regions, witness)
        if problem:
            key, value = ("dynamodbWitnessRegion", witness) if witness else ("dynamodbConsistency", raw_mode)
            r.problem(
                key,
                value,
                f"multi-Region strong consistency cannot apply: {problem}; "
                "or set dynamodbConsistency to 'eventual' and accept its gap (docs/data-tier.md)",
            )
            return Consistency.EVENTUAL, None, None
        return Consistency.STRONG, witness, None
    # Unset: strong wherever MRSC fits the regions (a witness counts only for two), else eventual, and
    # the program warns why. A witness left over from a two-region config does not block a third region.
    problem = _mrsc_problem(regions, witness if len(regions) == 2 else None)
    if problem and witness and len(regions) == 2 and mrsc_region_set(regions):
        r.problem("dynamodbWitnessRegion", witness, f"multi-Region strong consistency cannot apply: {problem}")
        return Consistency.EVENTUAL, None, None
    if problem:
        return Consistency.EVENTUAL, None, f"dynamodbConsistency unset and strong impossible ({problem}): eventual"
    return Consistency.STRONG, witness if len(regions) == 2 else None, None


def _check_cidrs(r: _Reader, regions: list[str], explicit: dict[str, Any]) -> dict[str, str]:
    """Explicit CIDRs are validated; every other region gets its own /16 of 10.0.0.0/8."""
    chosen: dict[str, ipaddress.IPv4Network] = {}
    for region, cidr in explicit.items():
        if region not in regions:
            r.problem(
                "vpcCidrs",
                {region: cidr},
                f"names a region that is not deployed (deployed: {', '.join(regions) or 'none valid'})",
            )
            continue
        try:
            network = ipaddress.IPv4Network(str(cidr), strict=True)
        except ValueError:
            r.problem("vpcCidrs", {region: cidr}, "must be an IPv4 network like 10.20.0.0/16")
            continue
        # ipaddress calls loopback and link-local "private" too; a VPC takes only RFC 1918 blocks.
        if (
            not any(network.subnet_of(block) for block in RFC1918_BLOCKS)
            or not 16 <= network.prefixlen <= MAX_VPC_PREFIX
        ):
            r.problem("vpcCidrs", {region: cidr}, f"must be a private (RFC 1918) block from /16 to /{MAX_VPC_PREFIX}")
            continue
        clash = next((other for other, net in chosen.items() if net.overlaps(network)), None)
        if clash:
            r.problem(
                "vpcCidrs", {region: cidr}, f"overlaps {clash}'s {chosen[clash]}: peered VPCs need disjoint blocks"
            )
            continue
        chosen[region] = network
    # Defaults depend on the region's name, never on its position or role: swapping the primary
    # in config must not move a VPC to another block (that would replace the whole network).
    for region in sorted(set(regions) - set(chosen)):
        chosen[region] = _default_cidr(region, list(chosen.values()))
    return {region: str(net) for region, net in chosen.items()}


def _default_cidr(region: str, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """10.<16 + the region's index among known regions>.0.0/16, or the next free /16 if that one is taken."""
    blocks = list(DEFAULT_CIDR_POOL.subnets(new_prefix=DEFAULT_VPC_PREFIX))
    preferred = 16 + sorted(KNOWN_REGIONS).index(region)
    for block in blocks[preferred:] + blocks[16:preferred]:
        if not any(block.overlaps(t) for t in taken):
            return block
    raise ValueError("no free /16 left in 10.0.0.0/8")  # unreachable with fewer than 240 regions


def _check_zone(r: _Reader, values: Mapping[str, Any]) -> None:
    """The zone that serves domainName: by name or id, a parent of the domain, created only by name."""
    domain, zone_name, zone_id = values["domainName"], values["hostedZoneName"], values["hostedZoneId"]
    if zone_id and values["createHostedZone"]:
        r.problem("createHostedZone", True, "cannot be combined with hostedZoneId (an existing zone)")
    if not zone_id and not zone_name and not {"hostedZoneName", "hostedZoneId"} & r.invalid:
        r.missing("hostedZoneName", "hostedZoneName or hostedZoneId is required: the zone that serves domainName")
    if zone_name and domain and not (domain == zone_name.rstrip(".") or domain.endswith("." + zone_name.rstrip("."))):
        r.problem("hostedZoneName", zone_name, f"must be domainName ({domain}) or one of its parents")


def load() -> StackConfig:
    """Reads the stack's config through Pulumi and validates it.

    Every key set in the namespace is passed on, so that a misspelt key is reported
    instead of silently falling back to a default.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{NAMESPACE}:"
    present = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    keys = {key[len(prefix) :] for key in present if key.startswith(prefix)} | set(KNOWN_KEYS)
    config = pulumi.Config(NAMESPACE)
    return parse({key: config.get(key) for key in keys if config.get(key) is not None})
