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
from typing import Any

from core import naming, tags

NAMESPACE = "payment-dr"

# AWS commercial regions (opt-in ones included). Unknown names fail early instead of
# surfacing as a provider error halfway through `pulumi up`.
KNOWN_REGIONS = frozenset(
    ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1", "mx-central-1", "sa-east-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1", "me-central-1", "af-south-1", "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3"]
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
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
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


KNOWN_KEYS = (
    "environmentSuffix", "environment", "primaryRegion", "secondaryRegions", "vpcCidrs",
    "natGateways", "domainName", "hostedZoneName", "hostedZoneId", "createHostedZone",
    "alertEmails", "auroraEngineVersion", "auroraInstanceClass", "auroraSecondaryInstances",
    "backupRetentionDays", "preferredBackupWindow", "deletionProtection", "skipFinalSnapshot",
    "dataHomeRegion", "auroraGlobalDbRpoSeconds", "auditRetentionDays", "auditObjectLockMode",
    "replicationLagThresholdMs", "healthCheckIntervalSeconds", "healthCheckFailureThreshold",
    "dnsTtlSeconds", "logRetentionDays", "lambdaReservedConcurrency", "maxTransactionAmount",
    "allowedCurrencies", "apiThrottleRateLimit", "apiThrottleBurstLimit", "manageApiGatewayAccount",
    "opsPrincipalArns", "routingControl", "arcClusterArn", "tags", "dynamodbConsistency", "dynamodbWitnessRegion",
)


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
        super().__init__(
            f"invalid stack configuration ({NAMESPACE}):\n" + "\n".join(f"  - {p}" for p in problems)
        )


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


class _Reader:
    """Reads raw values and records problems instead of stopping at the first one."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.problems: list[str] = []

    def problem(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{key}={_show(value)}: {allowed}")

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            if required:
                self.problems.append(f"{key} is required (set it with `pulumi config set {NAMESPACE}:{key} ...`)")
            return default
        if not isinstance(value, str):
            self.problem(key, value, "must be a string")
            return default
        return value

    def structured(self, key: str, default: Any, expected: type) -> Any:
        """Lists and maps arrive as JSON strings from Pulumi config, or as objects from YAML."""
        value = self.raw.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                self.problem(key, value, f"must be a {expected.__name__} (YAML or JSON)")
                return default
        if not isinstance(value, expected):
            self.problem(key, value, f"must be a {expected.__name__}")
            return default
        return value

    def integer(self, key: str, default: int, check: Callable[[int], bool], allowed: str) -> int:
        value = self.raw.get(key)
        if value is None or value == "":
            return default
        try:
            number = int(str(value), 10)
        except ValueError:
            self.problem(key, value, f"must be a whole number; {allowed}")
            return default
        if not check(number):
            self.problem(key, value, allowed)
            return default
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        self.problem(key, value, "must be true or false")
        return default


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def parse(raw: Mapping[str, Any]) -> StackConfig:
    """Validates raw config values (keys without the namespace) into a StackConfig."""
    r = _Reader(raw)
    for key in sorted(set(raw) - set(KNOWN_KEYS)):
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
        r.problem(key, raw[key], f"is not a {NAMESPACE} setting; {hint}")
    suffix = r.string("environmentSuffix", required=True) or ""
    environment = r.string("environment", suffix) or suffix

    primary = r.string("primaryRegion", "us-east-1")
    secondaries = r.structured("secondaryRegions", ["us-east-2"], list)
    region_names = _check_regions(r, primary, secondaries)

    if suffix:
        # Without valid regions, check the suffix against the defaults so its own errors still show.
        problem = naming.suffix_problem(suffix, region_names or ["us-east-1", "us-east-2"])
        if problem:
            r.problem("environmentSuffix", suffix, problem)

    cidrs = _check_cidrs(r, region_names, r.structured("vpcCidrs", {}, dict))
    regions = tuple(
        RegionSpec(name, DrRole.PRIMARY if i == 0 else DrRole.SECONDARY, cidrs.get(name, ""))
        for i, name in enumerate(region_names)
    )

    nat = r.string("natGateways", NatMode.PER_AZ.value)
    if nat not in {m.value for m in NatMode}:
        r.problem("natGateways", nat, "allowed: 'per-az' (one NAT gateway per AZ, production) or 'single' (cheap test stacks)")
        nat = NatMode.PER_AZ.value

    domain_name = r.string("domainName", required=True) or ""
    if domain_name and not _is_domain(domain_name):
        r.problem("domainName", domain_name, "must be a lower-case DNS name with at least two labels, e.g. api.payments.example.com")
    zone_name = r.string("hostedZoneName")
    zone_id = r.string("hostedZoneId")
    create_zone = r.boolean("createHostedZone", False)
    _check_zone(r, domain_name, zone_name, zone_id, create_zone)

    emails = r.structured("alertEmails", [], list)
    if not emails:
        r.problems.append("alertEmails is required: a list of at least one e-mail address of the operations team")
    for email in emails:
        if not isinstance(email, str) or not EMAIL_PATTERN.match(email):
            r.problem("alertEmails", email, "each entry must be an e-mail address like ops@example.com")

    engine_version = r.string("auroraEngineVersion", "13.7") or "13.7"
    if not ENGINE_VERSION_PATTERN.match(engine_version) or not engine_version.startswith(("1", "2")):
        r.problem("auroraEngineVersion", engine_version, "must be an Aurora PostgreSQL version like 13.7, 15.10 or 16.6")
    instance_class = r.string("auroraInstanceClass", "db.r6g.large") or "db.r6g.large"
    if not INSTANCE_CLASS_PATTERN.match(instance_class):
        r.problem("auroraInstanceClass", instance_class, "must be an RDS instance class like db.r6g.large")

    currencies = r.structured("allowedCurrencies", ["USD", "EUR", "GBP", "JPY"], list)
    for currency in currencies:
        if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
            r.problem("allowedCurrencies", currency, "each entry must be an ISO 4217 code like USD")
    max_amount = r.string("maxTransactionAmount", "10000.00") or "10000.00"
    if not re.match(r"^\d{1,12}(\.\d{1,3})?$", max_amount) or float(max_amount) <= 0:
        r.problem("maxTransactionAmount", max_amount, "must be a positive decimal amount like 10000.00")

    principals = r.structured("opsPrincipalArns", [], list)
    for arn in principals:
        if not isinstance(arn, str) or not PRINCIPAL_ARN_PATTERN.match(arn):
            r.problem("opsPrincipalArns", arn, "each entry must be an IAM ARN like arn:aws:iam::123456789012:role/ops")

    data_home = r.string("dataHomeRegion", primary) or primary
    if region_names and data_home not in region_names:
        r.problem("dataHomeRegion", data_home, f"must be one of the deployed regions ({', '.join(region_names)}): "
                  "the region that was primary when the data tier was first deployed")
    lock_mode = r.string("auditObjectLockMode", ObjectLockMode.GOVERNANCE.value)
    if lock_mode not in {m.value for m in ObjectLockMode}:
        r.problem("auditObjectLockMode", lock_mode, "allowed: 'GOVERNANCE' (privileged users can still delete) or 'COMPLIANCE' (nobody can, until retention ends)")
        lock_mode = ObjectLockMode.GOVERNANCE.value
    rpo = r.integer("auroraGlobalDbRpoSeconds", 0, lambda n: n == 0 or 20 <= n <= 86400,
                    "allowed: 20 to 86400 seconds (Aurora's minimum is 20), or 0 to leave rds.global_db_rpo unset")

    routing_control = r.string("routingControl", "cloudwatch") or "cloudwatch"
    if routing_control not in ROUTING_CONTROLS:
        r.problem("routingControl", routing_control, "allowed: 'cloudwatch' (holds on CloudWatch alarms, the default) or 'arc' "
                  "(also Route 53 ARC routing controls on the cluster named by arcClusterArn)")
        routing_control = "cloudwatch"
    arc_cluster_arn = r.string("arcClusterArn")
    if arc_cluster_arn and not ARC_CLUSTER_ARN_PATTERN.match(arc_cluster_arn):
        r.problem("arcClusterArn", arc_cluster_arn, "must be an ARC cluster ARN like arn:aws:route53-recovery-control::123456789012:cluster/abcd1234")
    elif routing_control == "arc" and not arc_cluster_arn:
        r.problems.append("arcClusterArn is required with routingControl=arc: the ARN of the Route 53 ARC cluster to put the routing controls on")
    elif arc_cluster_arn and routing_control != "arc":
        r.problem("arcClusterArn", arc_cluster_arn, "is only used with routingControl=arc (set routingControl or remove arcClusterArn)")

    extra_tags = r.structured("tags", {}, dict)
    reserved = {*tags.STACK_TAG_KEYS, "Name"} & set(extra_tags)
    if reserved:
        r.problem("tags", extra_tags, f"must not set {', '.join(sorted(reserved))}: the stack sets those itself")
    elif len(extra_tags) > tags.MAX_EXTRA_TAGS:
        r.problem("tags", extra_tags, f"allows at most {tags.MAX_EXTRA_TAGS} entries: Route 53 health checks and zones take "
                  f"{tags.ROUTE53_TAG_LIMIT} tags and the stack sets {tags.ROUTE53_TAG_LIMIT - tags.MAX_EXTRA_TAGS} itself")

    consistency, witness, consistency_note = _check_consistency(r, region_names)

    config = StackConfig(
        environment_suffix=suffix,
        environment=environment,
        regions=regions,
        nat_mode=NatMode(nat),
        domain_name=domain_name,
        hosted_zone_name=zone_name,
        hosted_zone_id=zone_id,
        create_hosted_zone=create_zone,
        alert_emails=tuple(emails),
        aurora_engine_version=engine_version,
        aurora_instance_class=instance_class,
        aurora_secondary_instances=r.integer("auroraSecondaryInstances", 1, lambda n: 1 <= n <= 15, "allowed: 1 to 15 instances per secondary cluster"),
        backup_retention_days=r.integer("backupRetentionDays", 7, lambda n: 7 <= n <= 35, "allowed: 7 to 35 days (the DR policy needs at least 7)"),
        preferred_backup_window=_window(r, "preferredBackupWindow", "03:00-04:00"),
        deletion_protection=r.boolean("deletionProtection", True),
        skip_final_snapshot=r.boolean("skipFinalSnapshot", False),
        data_home_region=data_home,
        aurora_global_db_rpo_seconds=rpo or None,
        audit_retention_days=r.integer("auditRetentionDays", 365, lambda n: 1 <= n <= 3650, "allowed: 1 to 3650 days (PCI DSS asks for at least 365)"),
        audit_object_lock_mode=ObjectLockMode(lock_mode),
        replication_lag_threshold_ms=r.integer("replicationLagThresholdMs", 1000, lambda n: 1 <= n <= 1000, "allowed: 1 to 1000 ms (the spec's alarm is at 1 second)"),
        health_check_interval_seconds=r.integer("healthCheckIntervalSeconds", 10, lambda n: n in (10, 30), "allowed: 10 or 30 (Route 53's only intervals)"),
        health_check_failure_threshold=r.integer("healthCheckFailureThreshold", 3, lambda n: 1 <= n <= 10, "allowed: 1 to 10"),
        dns_ttl_seconds=r.integer("dnsTtlSeconds", 60, lambda n: 5 <= n <= 300, "allowed: 5 to 300 seconds (a failover record with a long TTL defeats failover)"),
        log_retention_days=r.integer("logRetentionDays", 90, lambda n: n in LOG_RETENTION_DAYS, f"allowed: one of {', '.join(map(str, LOG_RETENTION_DAYS))}"),
        lambda_reserved_concurrency=r.integer(
            "lambdaReservedConcurrency", 50, lambda n: 1 <= n <= MAX_RESERVED_CONCURRENCY,
            f"allowed: 1 to {MAX_RESERVED_CONCURRENCY} (Lambda keeps 100 of an account's default 1000 concurrent "
            "executions per region unreserved, and the DB probe and the canary reserve 1 each)",
        ),
        max_transaction_amount=max_amount,
        allowed_currencies=tuple(currencies),
        api_throttle_rate_limit=r.integer("apiThrottleRateLimit", 200, lambda n: 1 <= n <= 10000, "allowed: 1 to 10000 requests per second"),
        api_throttle_burst_limit=r.integer("apiThrottleBurstLimit", 400, lambda n: 1 <= n <= 5000, "allowed: 1 to 5000 requests"),
        manage_api_gateway_account=r.boolean("manageApiGatewayAccount", True),
        ops_principal_arns=tuple(principals),
        routing_control=routing_control,
        arc_cluster_arn=arc_cluster_arn if routing_control == "arc" else None,
        extra_tags=extra_tags,
        dynamodb_consistency=consistency,
        dynamodb_witness_region=witness,
        dynamodb_consistency_note=consistency_note,
    )
    if r.problems:
        raise ConfigError(r.problems)
    return config


def _check_regions(r: _Reader, primary: str | None, secondaries: list[Any]) -> list[str]:
    names: list[str] = []
    if primary not in KNOWN_REGIONS:
        r.problem("primaryRegion", primary, "must be an AWS region such as us-east-1")
    else:
        names.append(primary)
    if not secondaries:
        r.problem("secondaryRegions", secondaries, "must list at least one region (a DR stack needs a second region)")
    for region in secondaries:
        if region not in KNOWN_REGIONS:
            r.problem("secondaryRegions", region, "each entry must be an AWS region such as us-east-2")
        elif region == primary:
            r.problem("secondaryRegions", region, f"must differ from primaryRegion ({primary}): a region cannot back itself up")
        elif region in names:
            r.problem("secondaryRegions", region, "lists this region twice")
        else:
            names.append(region)
    return names


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
            return ("three regions make three replicas, which leaves no place for a witness: remove dynamodbWitnessRegion "
                    "(an MRSC table's regions are fixed at creation: adding a third region to a deployed two-region "
                    "strong stack means a new acceptance table, docs/data-tier.md)")
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


def _check_consistency(r: _Reader, regions: list[str]) -> tuple[Consistency, str | None, str | None]:
    """dynamodbConsistency and dynamodbWitnessRegion: strong by default wherever MRSC can apply."""
    raw_mode = r.string("dynamodbConsistency")
    witness = r.string("dynamodbWitnessRegion")
    if raw_mode is not None and raw_mode not in {m.value for m in Consistency}:
        r.problem("dynamodbConsistency", raw_mode, "allowed: 'strong' (multi-Region strong consistency: a payment is accepted "
                  "once across regions, RPO 0) or 'eventual' (once per region: see docs/data-tier.md for the gap)")
        return Consistency.EVENTUAL, None, None
    if witness is not None and witness not in KNOWN_REGIONS:
        r.problem("dynamodbWitnessRegion", witness, "must be an AWS region such as us-west-2")
        return Consistency.EVENTUAL, None, None
    if len(regions) < 2:
        return Consistency.EVENTUAL, None, None  # the regions' own errors are reported already
    if raw_mode == Consistency.EVENTUAL.value:
        if witness:
            r.problem("dynamodbWitnessRegion", witness, "applies only with dynamodbConsistency 'strong': remove it, or use strong")
        return Consistency.EVENTUAL, None, None
    if raw_mode == Consistency.STRONG.value:
        problem = _mrsc_problem(regions, witness)
        if problem:
            key, value = ("dynamodbWitnessRegion", witness) if witness else ("dynamodbConsistency", raw_mode)
            r.problem(key, value, f"multi-Region strong consistency cannot apply: {problem}; "
                      "or set dynamodbConsistency to 'eventual' and accept its gap (docs/data-tier.md)")
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
            r.problem("vpcCidrs", {region: cidr}, f"names a region that is not deployed (deployed: {', '.join(regions) or 'none valid'})")
            continue
        try:
            network = ipaddress.IPv4Network(str(cidr), strict=True)
        except ValueError:
            r.problem("vpcCidrs", {region: cidr}, "must be an IPv4 network like 10.20.0.0/16")
            continue
        # ipaddress calls loopback and link-local "private" too; a VPC takes only RFC 1918 blocks.
        if not any(network.subnet_of(block) for block in RFC1918_BLOCKS) or not 16 <= network.prefixlen <= MAX_VPC_PREFIX:
            r.problem("vpcCidrs", {region: cidr}, f"must be a private (RFC 1918) block from /16 to /{MAX_VPC_PREFIX}")
            continue
        clash = next((other for other, net in chosen.items() if net.overlaps(network)), None)
        if clash:
            r.problem("vpcCidrs", {region: cidr}, f"overlaps {clash}'s {chosen[clash]}: peered VPCs need disjoint blocks")
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


def _is_domain(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(DOMAIN_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def _check_zone(r: _Reader, domain: str, zone_name: str | None, zone_id: str | None, create: bool) -> None:
    if zone_id and not HOSTED_ZONE_ID_PATTERN.match(zone_id):
        r.problem("hostedZoneId", zone_id, "must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ")
    if zone_id and create:
        r.problem("createHostedZone", True, "cannot be combined with hostedZoneId (an existing zone)")
    if not zone_id and not zone_name:
        r.problems.append("hostedZoneName or hostedZoneId is required: the zone that serves domainName")
    if zone_name:
        if not _is_domain(zone_name):
            r.problem("hostedZoneName", zone_name, "must be a DNS name like example.com")
        elif domain and not (domain == zone_name.rstrip(".") or domain.endswith("." + zone_name.rstrip("."))):
            r.problem("hostedZoneName", zone_name, f"must be domainName ({domain}) or one of its parents")


def _window(r: _Reader, key: str, default: str) -> str:
    value = r.string(key, default) or default
    match = re.match(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$", value)
    if not match:
        r.problem(key, value, "must be a UTC window hh24:mi-hh24:mi like 03:00-04:00")
        return default
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if (end - start) % 1440 < 30:
        r.problem(key, value, "must be at least 30 minutes long (RDS rule)")
        return default
    return value


def load() -> StackConfig:
    """Reads the stack's config through Pulumi and validates it.

    Every key set in the namespace is passed on, so that a misspelt key is reported
    instead of silently falling back to a default.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{NAMESPACE}:"
    present = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    keys = {key[len(prefix):] for key in present if key.startswith(prefix)} | set(KNOWN_KEYS)
    config = pulumi.Config(NAMESPACE)
    return parse({key: config.get(key) for key in keys if config.get(key) is not None})
