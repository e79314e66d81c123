"""The recovery budget (RTO and RPO) of a stack, read from its own evaluated resources.

Every number the stack sets is read from the resources the program declares: the Route 53 health
checks (``requestInterval`` × ``failureThreshold``), the alarm behind a CLOUDWATCH_METRIC check
(``period`` × datapoints), the failover records' ``ttl``, the Aurora lag alarm, the cluster parameter
``rds.global_db_rpo`` and the S3 rules' ``replicationTime``. Change the config, re-evaluate, and the
budget moves. What the stack cannot measure comes from AWS's published figures, kept in ``FIGURES``
with their sources and nowhere else. A piece the stack does not (yet) declare is reported as
"not found in the stack", never guessed. docs/recovery-budget.md explains each line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core import naming, routing
from core.config import KNOWN_REGIONS
from plan import scenarios, simulate
from plan.engine import COMPUTED, Evaluation, ResourceRecord
from policy import rules

HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
METRIC_ALARM = rules.METRIC_ALARM
GLOBAL_CLUSTER = "aws:rds/globalCluster:GlobalCluster"
CLUSTER = rules.RDS_CLUSTER
PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
TABLE = rules.TABLE
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
DOMAINS = ("aws:apigateway/domainName:DomainName", "aws:apigatewayv2/domainName:DomainName")
DYNAMODB_LAG_METRIC = ("AWS/DynamoDB", "ReplicationLatency")
S3_REPLICATION_METRICS = ("ReplicationLatency", "OperationsFailedReplication", "OperationsPendingReplication")
NOT_FOUND = "not found in the stack"


@dataclass(frozen=True)
class Figure:
    """A figure AWS publishes about something the stack cannot measure."""

    statement: str
    value: float | None  # what the budget uses; None where AWS publishes no number
    unit: str
    source: str  # docs.aws.amazon.com path (or page) it comes from

    def cite(self) -> str:
        return f"AWS: {self.statement} ({self.source})"


_R53 = "Route53/latest/DeveloperGuide"
_AURORA = "AmazonRDS/latest/AuroraUserGuide"
# The one place for AWS's figures (sources: docs/aws-facts.md and the pages cited).
FIGURES: dict[str, Figure] = {
    "route53-detection": Figure(
        "a checker marks an endpoint unhealthy after failureThreshold consecutive failed checks, one every "
        "requestInterval seconds (10 or 30); it stays healthy while more than 18 % of the checkers see it healthy: "
        "detection ≈ interval × threshold",
        None,
        "formula",
        f"{_R53}/dns-failover-determining-health-of-endpoints.html",
    ),
    "route53-default-interval": Figure(
        "requestInterval defaults to 30 seconds", 30, "s", f"{_R53}/health-checks-creating-values.html"
    ),
    "route53-default-threshold": Figure(
        "failureThreshold defaults to 3", 3, "checks", f"{_R53}/health-checks-creating-values.html"
    ),
    "alias-ttl": Figure(
        "an alias record to an AWS resource has no TTL of its own; Route 53 uses the target's (60 s fixed for "
        "ELB and S3 website targets; not published for API Gateway domains, so the budget assumes the same 60 s)",
        60,
        "s",
        f"{_R53}/resource-record-sets-values-alias.html; aws.amazon.com/route53/faqs",
    ),
    "client-caching": Figure(
        "resolvers and clients may cache an answer beyond its TTL (Route 53 advises a TTL of 60 s or less for "
        "failover records)",
        None,
        "s",
        "aws.amazon.com/route53/faqs (DNS failover)",
    ),
    "aurora-promotion": Figure(
        "a secondary cluster can be detached and promoted in under a minute",
        60,
        "s",
        f"{_AURORA}/aurora-global-database.html",
    ),
    "aurora-managed-failover": Figure(
        "managed failover (unplanned) has an RTO of the order of minutes",
        None,
        "s",
        f"{_AURORA}/aurora-global-database-disaster-recovery.html",
    ),
    "aurora-switchover-rpo": Figure(
        "a switchover (planned) synchronises the secondaries first: RPO 0",
        0,
        "s",
        f"{_AURORA}/aurora-global-database-disaster-recovery.html",
    ),
    "aurora-lag": Figure(
        "storage-level replication lag is typically under 1 second; an unplanned failover loses "
        "what had not replicated",
        1,
        "s",
        f"{_AURORA}/aurora-global-database.html",
    ),
    "aurora-global-db-rpo": Figure(
        "with rds.global_db_rpo set (min 20 s) the primary blocks commits when every secondary lags more than that",
        None,
        "s",
        f"{_AURORA}/aurora-global-database-disaster-recovery.html",
    ),
    "aurora-writer-endpoint": Figure(
        "the global writer endpoint follows the primary after switchover or failover "
        "(AWS-managed DNS, no published delay)",
        None,
        "s",
        f"{_AURORA}/aurora-global-database-connecting.html",
    ),
    "dynamodb-replication": Figure(
        "global tables (multi-Region eventual consistency) replicate typically within a "
        "second; no SLA on ReplicationLatency; last writer wins",
        1,
        "s",
        "amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html",
    ),
    "dynamodb-mrsc": Figure(
        "multi-Region strong consistency: a write succeeds only once a second Region (replica or "
        "witness) has it, so an acknowledged write survives the loss of any one Region",
        0,
        "s",
        "amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html",
    ),
    "s3-rtc": Figure(
        "Replication Time Control replicates 99.99 % of objects within 15 minutes",
        15 * 60,
        "s",
        "AmazonS3/latest/userguide/replication-time-control.html",
    ),
}


@dataclass(frozen=True)
class Part:
    """One term of an RTO."""

    what: str
    seconds: float | None  # None: not in the stack, or AWS publishes no bound
    source: str  # the resources it was read from, or the AWS figure it comes from
    counted: bool = True  # False: shown for completeness, not added to the total
    missing: bool = False  # the stack does not declare what this term is read from


@dataclass(frozen=True)
class Rto:
    what: str
    parts: tuple[Part, ...]

    @property
    def gaps(self) -> list[Part]:
        return [p for p in self.parts if p.counted and p.seconds is None]

    @property
    def known_seconds(self) -> float:
        return sum(p.seconds for p in self.parts if p.counted and p.seconds is not None)

    @property
    def seconds(self) -> float | None:
        """The worst case, or None while a counted term is missing or unbounded."""
        return None if self.gaps else self.known_seconds


@dataclass(frozen=True)
class Rpo:
    store: str
    bound: str  # the data loss to expect, in words
    seconds: float | None  # the bound in seconds (None: none)
    alarm: str  # the alarm that would show a breach, or why there is none
    source: str
    missing: bool = False


@dataclass(frozen=True)
class Check:
    """A Route 53 health check of the stack with its worst-case detection time."""

    name: str
    kind: str | None
    region: str | None
    type: str
    seconds: float | None
    basis: str


@dataclass(frozen=True)
class Budget:
    health_checks: tuple[Check, ...]
    api: Rto
    writes: Rto
    rpo: tuple[Rpo, ...]

    def rpo_of(self, store_prefix: str) -> Rpo:
        return next(r for r in self.rpo if r.store.startswith(store_prefix))


# --- reading the evaluated resources --------------------------------------------------------


def _number(value: Any) -> float | None:
    return (
        float(value)
        if known(value) and isinstance(value, (int, float, str)) and str(value).replace(".", "", 1).isdigit()
        else None
    )


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:g} s" if seconds < 120 else f"{seconds:g} s ({seconds / 60:g} min)"


def known(value: Any) -> bool:
    return value is not None and value != COMPUTED


def references(
    evaluation: Evaluation, record: ResourceRecord, values: Iterable[Any], outputs: Iterable[str], types: Iterable[str]
) -> list[ResourceRecord]:
    """The resources of `types` that `values` (inputs of `record`) point at: those whose mocked output
    holds the value (``Evaluation.by_output``, restricted to the types: a bucket's settings repeat its
    name), or, where a value is only known after apply, those `record` depends on."""
    types, outputs = tuple(types), tuple(outputs)
    candidates = [r for r in evaluation.resources if r.type in types]
    values = [v for v in values if v is not None]
    found = [c for v in values if known(v) for c in candidates if any(c.outputs.get(key) == v for key in outputs)]
    if any(not known(v) for v in values):
        found += [c for c in candidates if c.urn in record.dependencies and c not in found]
    return found


def alarms_of(evaluation: Evaluation, check: ResourceRecord) -> list[ResourceRecord]:
    """The alarm behind a CLOUDWATCH_METRIC health check, by name and region (alarm names repeat
    across regions), or by dependency where the name is only known after apply."""
    name, region = check.inputs.get("cloudwatchAlarmName"), check.inputs.get("cloudwatchAlarmRegion")
    return [
        a
        for a in evaluation.of_type(METRIC_ALARM)
        if (known(name) and a.inputs.get("name") == name and (not known(region) or a.region == region))
        or (not known(name) and a.urn in check.dependencies)
    ]


def _alarm_seconds(alarm: ResourceRecord) -> tuple[float | None, str]:
    """Worst case from a failure's start to ALARM: `period` × the breaching datapoints it needs, plus
    one period when the statistic can hide a failure that starts late in a period (an Average or Sum
    still looks healthy; a Maximum above / Minimum below the threshold breaches the period it is in)."""
    inputs = alarm.inputs
    period = _number(inputs.get("period"))
    if period is None:
        periods = [_number((q.get("metric") or {}).get("period")) for q in inputs.get("metricQueries") or []]
        period = next((p for p in periods if p is not None), None)
    evaluations = _number(inputs.get("evaluationPeriods"))
    datapoints = _number(inputs.get("datapointsToAlarm")) or evaluations
    if period is None or datapoints is None:
        return None, f"alarm {_alarm_name(alarm)}: period or evaluationPeriods unknown"
    statistic, operator = inputs.get("statistic"), str(inputs.get("comparisonOperator"))
    extreme = (statistic == "Maximum" and "Greater" in operator) or (statistic == "Minimum" and "Less" in operator)
    basis = f"alarm {_alarm_name(alarm)}: period {period:g} s × {datapoints:g} breaching datapoint(s)"
    if extreme:
        return period * datapoints, f"{basis} ({statistic}: the period a failure starts in breaches)"
    return period * (
        datapoints + 1
    ), f"{basis} + 1 period (the {statistic or 'statistic'} of the period a failure starts in may still look healthy)"


def _alarm_name(alarm: ResourceRecord) -> str:
    name = alarm.inputs.get("name")
    return name if isinstance(name, str) and known(name) else alarm.name


def _check_identity(record: ResourceRecord) -> tuple[str, str | None, str | None]:
    """(name, kind, region) from the Name tag `<HEALTH_CHECK base>-<kind>-<region>-<suffix>`."""
    name = (record.inputs.get("tags") or {}).get("Name") or record.name
    prefix = f"{naming.HEALTH_CHECK.base}-"
    if isinstance(name, str) and name.startswith(prefix):
        rest = name[len(prefix) :]
        for region in sorted(KNOWN_REGIONS, key=len, reverse=True):
            kind, sep, _ = rest.partition(f"-{region}-")
            if sep and kind in routing.ALARMED_CHECK_KINDS:
                return name, kind, region
    return str(name), None, None


def _detection(
    evaluation: Evaluation, record: ResourceRecord, seen: frozenset[str] = frozenset()
) -> tuple[float | None, str]:
    inputs = record.inputs
    check_type = inputs.get("type")
    if check_type == "CALCULATED":
        children = references(evaluation, record, inputs.get("childHealthchecks") or [], ["id"], [HEALTH_CHECK])
        children = [c for c in children if c.urn not in seen | {record.urn}]
        # Holds and routing controls are set after a region has failed (canary, drctl, operator): they keep
        # traffic away, they do not detect the outage (core/routing.py). The outage is detected by the others.
        children = [
            c
            for c in children
            if f"-{routing.HOLD}-" not in _check_identity(c)[0] and c.inputs.get("type") != "RECOVERY_CONTROL"
        ]
        threshold = _number(inputs.get("childHealthThreshold"))
        if not children or threshold is None:
            return None, "calculated health check: children or childHealthThreshold unknown"
        timings = sorted(
            (_detection(evaluation, c, seen | {record.urn}) for c in children), key=lambda t: (t[0] is None, t[0] or 0)
        )
        # Unhealthy once fewer than `threshold` children are healthy: when n - threshold + 1 have failed.
        needed = max(1, min(len(children), len(children) - int(threshold) + 1))
        seconds, basis = timings[needed - 1]
        names = ", ".join(_check_identity(c)[0] for c in children)
        decides = (
            "the fastest child decides" if needed == 1 else f"the slowest of the {needed} fastest children decides"
        )
        return seconds, (
            f"calculated over {len(children)} children ({names}), unhealthy when fewer than "
            f"{threshold:g} are healthy; a region outage fails them all, so {decides}: {basis}"
        )
    if check_type == "CLOUDWATCH_METRIC":
        alarms = alarms_of(evaluation, record)
        if not alarms:
            return (
                None,
                f"CLOUDWATCH_METRIC health check: its alarm ({inputs.get('cloudwatchAlarmName')}) is {NOT_FOUND}",
            )
        return _alarm_seconds(alarms[0])
    interval = _number(inputs.get("requestInterval"))
    threshold = _number(inputs.get("failureThreshold"))
    basis_interval = "requestInterval" if interval is not None else "default interval (AWS)"
    basis_threshold = "failureThreshold" if threshold is not None else "default threshold (AWS)"
    interval = interval if interval is not None else FIGURES["route53-default-interval"].value
    threshold = threshold if threshold is not None else FIGURES["route53-default-threshold"].value
    return (
        interval * threshold,
        f"{check_type} check: {basis_interval} {interval:g} s × {basis_threshold} {threshold:g}",
    )


def health_checks(evaluation: Evaluation) -> list[Check]:
    checks = []
    for record in evaluation.of_type(HEALTH_CHECK):
        name, kind, region = _check_identity(record)
        seconds, basis = _detection(evaluation, record)
        checks.append(Check(name, kind, region, str(record.inputs.get("type")), seconds, basis))
    return sorted(checks, key=lambda c: (c.kind or "~", c.region or "", c.name))


def dr_role(evaluation: Evaluation, record: ResourceRecord) -> str:
    """The DR-Role default tag of the record's provider (core/providers.py): primary, secondary or global;
    a provider record's own."""
    provider = (
        record
        if record.type.startswith("pulumi:providers:")
        else next((r for r in evaluation.resources if r.urn == record.provider_urn), None)
    )
    tags = ((provider.inputs.get("defaultTags") or {}).get("tags") or {}) if provider else {}
    return tags.get("DR-Role", "?")


def primary_region(evaluation: Evaluation) -> str | None:
    return next(
        (
            p.region
            for p in evaluation.resources
            if p.type == "pulumi:providers:aws" and dr_role(evaluation, p) == "primary"
        ),
        None,
    )


def _failover_type(record: ResourceRecord) -> str | None:
    policies = record.inputs.get("failoverRoutingPolicies") or []
    return policies[0].get("type") if policies else None


def _is_database_record(evaluation: Evaluation, record: ResourceRecord) -> bool:
    targets = record.inputs.get("records") or []
    endpoints = {c.outputs.get(k) for c in evaluation.of_type(CLUSTER) for k in ("endpoint", "readerEndpoint")}
    return any(t in endpoints or (isinstance(t, str) and ".rds.amazonaws.com" in t) for t in targets) or any(
        c.urn in record.dependencies for c in evaluation.of_type(CLUSTER)
    )


def _target_region(evaluation: Evaluation, record: ResourceRecord) -> str | None:
    """The region of what a record points at (an API custom domain, a cluster endpoint)."""
    values = [a.get("name") for a in record.inputs.get("aliases") or []] + list(record.inputs.get("records") or [])
    for candidate in evaluation.managed:
        if candidate.type in (CLUSTER, *DOMAINS) and any(
            known(v) and v in (candidate.outputs.get(k) for k in ("regionalDomainName", "endpoint")) for v in values
        ):
            return candidate.region
    return None


def _primary_record(evaluation: Evaluation, database: bool, region: str | None) -> ResourceRecord | None:
    """The PRIMARY failover record of the API (an alias) or of the database writer (a CNAME to a
    cluster endpoint), preferring the one that points into the primary region."""
    found = [
        r
        for r in evaluation.of_type(RECORD)
        if _failover_type(r) == "PRIMARY"
        and (
            _is_database_record(evaluation, r)
            if database
            else bool(r.inputs.get("aliases") or not _is_database_record(evaluation, r))
        )
    ]
    return min(found, key=lambda r: (_target_region(evaluation, r) != region, r.name), default=None)


def _detection_part(
    evaluation: Evaluation, record: ResourceRecord | None, fallback_kinds: Sequence[str], region: str | None
) -> Part:
    """The detection term: the health check on the PRIMARY record, else the primary region's check
    of the given kinds (by Name tag)."""
    checks = {c.name: c for c in health_checks(evaluation)}
    chosen: Check | None = None
    how = ""
    if record is not None and record.inputs.get("healthCheckId") is not None:
        linked = references(evaluation, record, [record.inputs.get("healthCheckId")], ["id"], [HEALTH_CHECK])
        if linked:
            chosen = checks.get(_check_identity(linked[0])[0])
            how = f"on PRIMARY record {record.name}"
    if chosen is None:
        for kind in fallback_kinds:
            chosen = next((c for c in checks.values() if c.kind == kind and c.region == region), None)
            if chosen:
                how = f"{kind} check of the primary region"
                break
    if chosen is None:
        return Part(
            "detection (Route 53 health check)",
            None,
            f"health check ({'/'.join(fallback_kinds)}, {region}): {NOT_FOUND}",
            missing=True,
        )
    return Part(f"detection: {chosen.name} ({how})", chosen.seconds, chosen.basis)


def _dns_part(record: ResourceRecord | None, what: str) -> Part:
    if record is None:
        return Part(f"DNS shift ({what})", None, f"failover record: {NOT_FOUND}", missing=True)
    ttl = _number(record.inputs.get("ttl"))
    if ttl is not None:
        return Part(f"DNS shift: TTL of {record.name}", ttl, f"record {record.name}: ttl {ttl:g} s")
    if record.inputs.get("aliases"):
        figure = FIGURES["alias-ttl"]
        return Part(f"DNS shift: alias {record.name}", figure.value, figure.cite())
    return Part(f"DNS shift: {record.name}", None, f"record {record.name}: no ttl and no alias")


def _api_rto(evaluation: Evaluation, region: str | None) -> Rto:
    record = _primary_record(evaluation, database=False, region=region)
    detection = _detection_part(evaluation, record, ("region", "api"), region)
    caching = FIGURES["client-caching"]
    return Rto(
        "API (payment requests; DynamoDB and S3 take writes in every region)",
        (
            detection,
            _dns_part(record, "API failover record"),
            Part("client and resolver caching beyond the TTL", None, caching.cite(), counted=False),
        ),
    )


def _writes_rto(evaluation: Evaluation, region: str | None) -> Rto:
    record = _primary_record(evaluation, database=True, region=region)
    detection = _detection_part(evaluation, record, ("db",), region)
    promotion = FIGURES["aurora-promotion"]
    managed = FIGURES["aurora-managed-failover"]
    parts = [detection, Part("Aurora promotion of a secondary (detach and promote)", promotion.value, promotion.cite())]
    if record is not None:
        parts.append(_dns_part(record, "database record"))
    else:
        parts.append(
            Part("DNS shift: global writer endpoint", None, FIGURES["aurora-writer-endpoint"].cite(), counted=False)
        )
    parts += [
        Part("instead of detach-and-promote: managed failover", None, managed.cite(), counted=False),
        Part(
            "the decision to fail over (an operator or automation)",
            None,
            "not measured: add the runbook's response time",
            counted=False,
        ),
    ]
    return Rto("Aurora writes (the database's writer moves to a secondary)", tuple(parts))


def _alarms_on(evaluation: Evaluation, names: Iterable[str], namespace: str | None = None) -> list[ResourceRecord]:
    wanted = set(names)
    found = [
        a
        for a in evaluation.of_type(METRIC_ALARM)
        if any(name in wanted and namespace in (None, space) for space, name in rules.metrics(a.inputs))
    ]
    return sorted(found, key=lambda a: (a.region or "", a.name))


def _alarm_list(alarms: Sequence[ResourceRecord], what: str) -> str:
    if not alarms:
        return f"alarm on {what}: {NOT_FOUND}"
    return ", ".join(_alarm_name(a) for a in alarms)


def _aurora_rpo(evaluation: Evaluation) -> list[Rpo]:
    if not evaluation.of_type(GLOBAL_CLUSTER):
        return [Rpo("Aurora", "-", None, "-", f"Aurora global cluster: {NOT_FOUND}", missing=True)]
    lag = FIGURES["aurora-lag"]
    rpo_parameter = [
        _number(p.get("value"))
        for g in evaluation.of_type(PARAMETER_GROUP)
        for p in g.inputs.get("parameters") or []
        if p.get("name") == "rds.global_db_rpo"
    ]
    rpo_parameter = [p for p in rpo_parameter if p is not None]
    alarms = _alarms_on(evaluation, [rules.LAG_METRIC])
    if alarms:
        details = []
        for alarm in alarms:
            threshold = _number(alarm.inputs.get("threshold"))
            seconds, _ = _alarm_seconds(alarm)
            details.append(
                f"{_alarm_name(alarm)} ({alarm.region}: lag > {threshold:g} ms, within {_fmt(seconds)})"
                if threshold is not None
                else _alarm_name(alarm)
            )
        alarm_text = "; ".join(details)
    else:
        alarm_text = _alarm_list(alarms, rules.LAG_METRIC)
    if rpo_parameter:
        bound = max(rpo_parameter)
        unplanned = Rpo(
            "Aurora, unplanned failover",
            f"≤ {bound:g} s (rds.global_db_rpo blocks commits beyond it); typically < {lag.value:g} s",
            bound,
            alarm_text,
            f"cluster parameter rds.global_db_rpo = {bound:g}; {FIGURES['aurora-global-db-rpo'].cite()}",
        )
    else:
        unplanned = Rpo(
            "Aurora, unplanned failover",
            f"the lag at the moment of failure: typically < {lag.value:g} s, not bounded "
            "(rds.global_db_rpo unset: auroraGlobalDbRpoSeconds)",
            None,
            alarm_text,
            lag.cite(),
        )
    switchover = FIGURES["aurora-switchover-rpo"]
    return [unplanned, Rpo("Aurora, switchover (planned)", "0 s", switchover.value, "-", switchover.cite())]


def _strong(table: ResourceRecord) -> bool:
    """A multi-Region strongly consistent (MRSC) table: every replica's consistencyMode is STRONG."""
    replicas = table.inputs.get("replicas") or []
    return bool(replicas) and all(r.get("consistencyMode") == "STRONG" for r in replicas)


def _dynamodb_rpo(evaluation: Evaluation) -> list[Rpo]:
    tables = [t for t in evaluation.of_type(TABLE) if t.inputs.get("replicas")]
    if not tables:
        return [
            Rpo(
                "DynamoDB global tables",
                "-",
                None,
                "-",
                f"global table (a table with replicas): {NOT_FOUND}",
                missing=True,
            )
        ]
    found = []
    strong = sorted(str(t.inputs.get("name")) for t in tables if _strong(t))
    if strong:
        figure = FIGURES["dynamodb-mrsc"]
        found.append(
            Rpo(
                f"DynamoDB global tables, strong ({', '.join(strong)})",
                "0: nothing acknowledged is lost",
                figure.value,
                "- (a write that cannot reach a second Region fails: the client sees it)",
                figure.cite(),
            )
        )
    eventual = sorted(str(t.inputs.get("name")) for t in tables if not _strong(t))
    if eventual:
        figure = FIGURES["dynamodb-replication"]
        # The lag alarms of these tables (an MRSC table publishes no ReplicationLatency).
        alarms = [
            a
            for a in _alarms_on(evaluation, [DYNAMODB_LAG_METRIC[1]], DYNAMODB_LAG_METRIC[0])
            if (a.inputs.get("dimensions") or {}).get("TableName", eventual[0]) in eventual
        ]
        found.append(
            Rpo(
                f"DynamoDB global tables ({', '.join(eventual)})",
                f"typically ≤ {figure.value:g} s, no SLA",
                figure.value,
                _alarm_list(alarms, "/".join(DYNAMODB_LAG_METRIC)),
                figure.cite(),
            )
        )
    return found


def _ledger_rpo(evaluation: Evaluation, dynamodb: list[Rpo]) -> Rpo:
    """The ledger's RPO is the acceptance table's: drctl reconcile re-posts from its records what an unplanned
    Aurora failover loses (docs/data-tier.md, "The ledger")."""
    acceptance = next((r for r in dynamodb if naming.IDEMPOTENCY_TABLE.base in r.store), None)
    ledger_alarm = naming.ALARM.base + "-ledger-"  # payment-ledger-lag-<suffix>, payment-ledger-failures-<suffix>
    alarm = (
        ", ".join(
            sorted(
                {
                    str(a.inputs.get("name"))
                    for a in evaluation.of_type(METRIC_ALARM)
                    if str(a.inputs.get("name")).startswith(ledger_alarm)
                }
            )
        )
        or f"ledger alarms: {NOT_FOUND}"
    )
    if acceptance is None or acceptance.missing:
        return Rpo("Ledger of record (Aurora)", "-", None, alarm, f"acceptance table: {NOT_FOUND}", missing=True)
    return Rpo(
        "Ledger of record (Aurora, double-entry)",
        f"{acceptance.bound} (the acceptance table's, not Aurora's lag)",
        acceptance.seconds,
        alarm,
        "postings an unplanned failover loses are re-posted from the surviving region's acceptance records by "
        f"`drctl reconcile` (functions/ledger: one journal entry per transaction id); {acceptance.source}",
    )


def _s3_rpo(evaluation: Evaluation) -> Rpo:
    minutes = []
    for config in evaluation.of_type(REPLICATION):
        for rule in config.inputs.get("rules") or []:
            replication_time = (rule.get("destination") or {}).get("replicationTime") or {}
            if replication_time.get("status") == "Enabled":
                minutes.append(_number((replication_time.get("time") or {}).get("minutes")))
    minutes = [m for m in minutes if m is not None]
    if not minutes:
        return Rpo(
            "S3 with RTC", "-", None, "-", f"replication rule with Replication Time Control: {NOT_FOUND}", missing=True
        )
    figure = FIGURES["s3-rtc"]
    alarms = _alarms_on(evaluation, S3_REPLICATION_METRICS, "AWS/S3")
    return Rpo(
        f"S3 with RTC ({len(minutes)} rules)",
        f"99.99 % of objects within {max(minutes):g} min",
        max(minutes) * 60,
        _alarm_list(alarms, "AWS/S3 " + "/".join(S3_REPLICATION_METRICS)),
        f"rules' replicationTime.time.minutes = {max(minutes):g}; {figure.cite()}",
    )


# --- the RTOs from the outage simulation (plan/simulate.py, plan/scenarios.py) ----------------------

_SIMULATED: dict[str, tuple[scenarios.Figures | None, str | None]] = {}
_ROUTING_TYPES = (
    HEALTH_CHECK,
    RECORD,
    METRIC_ALARM,
    CLUSTER,
    "aws:lambda/function:Function",
    "aws:sns/topic:Topic",
    *DOMAINS,
)


def simulated(evaluation: Evaluation) -> tuple[scenarios.Figures | None, str | None]:
    """The simulation's worst-case figures, or why the stack cannot be simulated. Cached by what the
    simulation reads, so a copy of a stack with an unrelated change is not played again."""
    fingerprint = json.dumps(
        [(r.type, r.region, r.inputs, r.outputs) for r in evaluation.resources if r.type in _ROUTING_TYPES],
        sort_keys=True,
        default=str,
    )
    if fingerprint not in _SIMULATED:
        try:
            _SIMULATED[fingerprint] = (scenarios.stack_figures(evaluation)[0], None)
        except simulate.SimulationError as error:
            _SIMULATED[fingerprint] = (None, f"the outage simulation cannot run on this stack: {error}")
    return _SIMULATED[fingerprint]


def _from_simulation(rto: Rto, seconds: int | None, scenario: str, basis: str, error: str | None) -> Rto:
    """The simulation's worst case is the RTO; the formula's terms stay, shown and not counted."""
    if error is not None:
        return Rto(rto.what, (*rto.parts, Part("outage simulation", None, error, counted=False)))
    shown = tuple(replace(p, counted=False) for p in rto.parts)
    return Rto(rto.what, (*shown, Part(f"worst case of the outage simulation ({scenario})", seconds, basis)))


def compute(evaluation: Evaluation, *, simulate_outages: bool = True) -> Budget:
    region = primary_region(evaluation)
    dynamodb = _dynamodb_rpo(evaluation)
    api, writes = _api_rto(evaluation, region), _writes_rto(evaluation, region)
    if simulate_outages:
        figures, error = simulated(evaluation)
        common = "python -m plan --simulate all (its assumptions: docs/recovery-budget.md)"
        api = _from_simulation(
            api,
            figures and figures.api_seconds,
            figures.api_scenario if figures else "-",
            f"every API client on a serving region, DNS caching included; goal {scenarios.GOAL_SECONDS} s; {common}",
            error,
        )
        writes = _from_simulation(
            writes,
            figures and figures.writer_seconds,
            figures.writer_scenario if figures else "-",
            f"every client of the writer name on the writable cluster; the operator runs drctl failover when "
            f"first paged (the decision is not counted), promotion {scenarios.PROMOTION_SECONDS} s; {common}",
            error,
        )
    return Budget(
        health_checks=tuple(health_checks(evaluation)),
        api=api,
        writes=writes,
        rpo=(*_aurora_rpo(evaluation), *dynamodb, _s3_rpo(evaluation), _ledger_rpo(evaluation, dynamodb)),
    )


# --- text ------------------------------------------------------------------------------------


def _total(rto: Rto) -> str:
    if rto.seconds is not None:
        return f"{_fmt(rto.seconds)} worst case"
    missing = "; ".join(p.what for p in rto.gaps)
    return f"incomplete: at least {_fmt(rto.known_seconds)}; missing: {missing}"


def format_text(budget: Budget) -> str:
    """The budget as plain text (what `python -m plan` prints and docs/recovery-budget.md shows)."""
    lines = ["Recovery budget (read from the evaluated stack; AWS figures where the stack cannot measure)", ""]
    lines.append("Route 53 health checks (worst-case detection):")
    if not budget.health_checks:
        lines.append(f"  none: {NOT_FOUND}")
    for check in budget.health_checks:
        lines.append(f"  {check.name} [{check.kind or '?'}, {check.type}]: {_fmt(check.seconds)} — {check.basis}")
    for rto in (budget.api, budget.writes):
        lines += ["", f"RTO — {rto.what}:"]
        for part in rto.parts:
            mark = "  " if part.counted else "  (not counted) "
            lines.append(
                f"{mark}{part.what}: {_fmt(part.seconds) if part.seconds is not None else ('MISSING' if part.missing else 'no bound')} — {part.source}"
            )
        lines.append(f"  = {_total(rto)}")
    lines += ["", "RPO per data store:"]
    for rpo in budget.rpo:
        lines.append(f"  {rpo.store}: {rpo.bound}" + (" — MISSING" if rpo.missing else ""))
        lines.append(f"      breach shows in: {rpo.alarm}")
        lines.append(f"      from: {rpo.source}")
    return "\n".join(lines)
