"""Outage simulation: the evaluated stack's own Route 53 health checks, CloudWatch alarms, metric producers
and DNS records, played second by second against a scenario (plan/scenarios.py names them).

Nothing here is typed twice: every interval, threshold, period, missing-data rule, TTL and alias comes from
the resources `plan/engine.py` recorded. The producers of the metrics (the database probe, the region
canary, Route 53's own HealthCheckStatus) are modelled from the functions' settings (their environment
variables on the evaluated Lambda resource) and from the routing contract (core/routing.py). Where AWS
publishes a behaviour, the code cites the page; where it publishes none (how fast Route 53 reads an alarm,
how fast a status change reaches its DNS servers, the TTL of an API Gateway alias target), the model
takes the stated assumption listed in ``ASSUMPTIONS`` and printed with every report.

Sources (docs.aws.amazon.com):
- HEALTH: Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html — checkers,
  failure threshold, the 18 % rule, CLOUDWATCH_METRIC and CALCULATED status.
- CONFIG: Route53/latest/APIReference/API_HealthCheckConfig.html — RequestInterval, FailureThreshold,
  Inverted, Disabled, HealthThreshold, InsufficientDataHealthStatus (LastKnownStatus: a new check is healthy).
- FAILOVER: Route53/latest/DeveloperGuide/dns-failover-complex-configs.html — alias trees, Evaluate Target
  Health, and failover records when every record is unhealthy (Route 53 answers the primary).
- ALIAS: Route53/latest/APIReference/API_AliasTarget.html and
  Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html — an alias has no TTL
  of its own: an AWS target's TTL, or the aliased record's TTL in the same zone.
- ALARMS: AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html — period, evaluation periods,
  datapoints to alarm (M out of N), statistics, comparison operators, actions to SNS.
- MISSING: AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html — breaching, notBreaching,
  ignore (the state is kept), missing (INSUFFICIENT_DATA when the whole range is missing; the default).
- R53_METRICS: Route53/latest/DeveloperGuide/monitoring-health-checks.html — HealthCheckStatus (1/0) per
  minute, in us-east-1 only.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core import routing
from core.config import KNOWN_REGIONS
from core.providers import ROUTE53_METRICS_REGION
from plan.engine import COMPUTED, Evaluation, ResourceRecord

DOCS = "https://docs.aws.amazon.com/"
SOURCES = {
    "HEALTH": DOCS + "Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html",
    "CONFIG": DOCS + "Route53/latest/APIReference/API_HealthCheckConfig.html",
    "FAILOVER": DOCS + "Route53/latest/DeveloperGuide/dns-failover-complex-configs.html",
    "ALIAS": DOCS + "Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html",
    "ALIAS_TARGET": DOCS + "Route53/latest/APIReference/API_AliasTarget.html",
    "ALARMS": DOCS + "AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html",
    "MISSING": DOCS + "AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html",
    "R53_METRICS": DOCS + "Route53/latest/DeveloperGuide/monitoring-health-checks.html",
}

HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
FUNCTION = "aws:lambda/function:Function"
CLUSTER = "aws:rds/cluster:Cluster"
DOMAINS = ("aws:apigateway/domainName:DomainName", "aws:apigatewayv2/domainName:DomainName")

# Route 53's defaults when a check leaves them unset (CONFIG): 30 s, 3 failures, LastKnownStatus.
DEFAULT_INTERVAL, DEFAULT_THRESHOLD, DEFAULT_INSUFFICIENT = 30, 3, "LastKnownStatus"
# HEALTH: healthy while MORE than 18 % of the checkers report healthy.
HEALTHY_SHARE = 0.18
# Checkers in the default locations; they do not coordinate (HEALTH), so they are spread evenly over the
# interval. AWS does not publish their number: 16 is a modelling choice, the 18 % rule makes the result
# insensitive to it (a failure is seen once > 82 % of them saw `threshold` failures).
CHECKERS = 16
# What AWS does not publish, and what the model takes instead (printed with every report).
ALIAS_TTL_SECONDS = 60
ASSUMPTIONS = (
    "Route 53 reads a watched alarm's state, and a health-check status reaches its DNS answers, within the "
    "second (AWS publishes no delay)",
    f"an alias to an API Gateway domain answers with a {ALIAS_TTL_SECONDS} s TTL (AWS publishes none; 60 s is "
    "the TTL it sets for other AWS targets such as ELB)",
    "clients and resolvers keep an answer exactly its TTL (some clients keep it longer: not bounded)",
    "CloudWatch evaluates an alarm at each minute boundary, on the periods that have closed, and a datapoint "
    "counts in the period it was published in (no ingestion delay)",
    "a CloudWatch outage in a region: nothing is published or evaluated there and Route 53 gets no data for "
    "the alarms there (their checks take their insufficient-data status)",
    "an alias to an API Gateway domain with Evaluate Target Health never turns unhealthy: detection is the stack's "
    'own health checks (AWS API reference, AliasTarget: for API Gateway it "provides no operational benefit")',
)

# Component names of a scenario's outages.
REGION, API, DATABASE, PROBE, CANARY, CLOUDWATCH, SNS = (
    "region",
    "api",
    "database",
    "probe",
    "canary",
    "cloudwatch",
    "sns",
)
COMPONENTS = (REGION, API, DATABASE, PROBE, CANARY, CLOUDWATCH, SNS)
OK, ALARM_STATE, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"


class SimulationError(ValueError):
    """The evaluated stack cannot be simulated as declared (the message names the resource and the input)."""


# --- the model, read from the evaluated resources ---------------------------------------------------


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    type: str
    kind: str | None  # from the Name tag: api, db, writer, region, hold (core/routing.py)
    region: str | None  # the region the check is about (for a hold: the held region)
    holder: str | None  # a hold check's holder region
    endpoint_region: str | None  # HTTP(S)/TCP: the region of the host it requests
    interval: int
    threshold: int
    inverted: bool
    disabled: bool
    children: tuple[str, ...]
    child_threshold: int
    alarm: tuple[str, str] | None  # (name, region)
    insufficient: str


@dataclass(frozen=True)
class Alarm:
    name: str
    region: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period: int
    evaluation_periods: int
    datapoints: int
    threshold: float
    comparison: str
    missing: str
    alarm_topics: tuple[str, ...]  # the regions of the SNS topics notified on ALARM

    @property
    def key(self) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
        return (self.region, self.namespace, self.metric, self.dimensions)


@dataclass(frozen=True)
class RecordSet:
    name: str
    zone: str
    type: str
    set_id: str | None
    failover: str | None
    health_check: str | None
    alias: str | None  # the aliased DNS name
    evaluate_target_health: bool
    ttl: int | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    """The database probe of a region (functions/db_probe): a probe every `interval` s publishing
    DatabaseReachable and DatabaseWritable (core/routing.py) for its cluster."""

    function: str
    region: str
    namespace: str
    interval: int
    cluster: str


@dataclass(frozen=True)
class Canary:
    """The region canary (core/routing.py, functions/canary): one invocation a minute runs `rounds` rounds
    `interval` s apart; each probes every target and publishes TargetHealthy per target; consecutive
    failures count within one invocation; holds are published once per invocation. Each round it also asks
    CloudWatch in every region of `cloudwatch` (the others) and publishes TargetHealthy{Target=cloudwatch-<r>};
    that answer never counts toward a hold."""

    function: str
    region: str
    namespace: str
    interval: int
    rounds: int
    threshold: int
    chain: tuple[str, ...]
    targets: tuple[str, ...]  # region names and/or routing.PUBLIC_TARGET
    hold_namespace: str
    cloudwatch: tuple[str, ...] = ()  # the other regions whose CloudWatch it asks each round


@dataclass
class Model:
    chain: tuple[str, ...]  # the API failover chain, primary first
    public_name: str
    writer_name: str | None
    checks: dict[str, Check]
    alarms: list[Alarm]
    records: dict[str, list[RecordSet]]  # by DNS name
    probes: list[Probe]
    canaries: list[Canary]
    endpoints: dict[str, str]  # API host name -> region
    clusters: dict[str, tuple[str, str]]  # endpoint host -> (region, cluster identifier)
    gaps: list[str] = field(default_factory=list)  # parts of the contract the stack does not (yet) declare

    def check_named(self, name: str) -> Check:
        return next(c for c in self.checks.values() if c.name == name)


def _known(value: Any) -> bool:
    return value is not None and value != COMPUTED


def _int(value: Any, default: int | None, what: str) -> int:
    if not _known(value):
        if default is None:
            raise SimulationError(f"{what} is not known before apply ({value!r}): the simulation needs a number")
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise SimulationError(f"{what} is {value!r}, not a number") from None


_REGION_IN_HOST = re.compile(r"\.(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d)\.(?:amazonaws\.com|on\.aws)")


def parse_check_name(name: str) -> tuple[str | None, str | None, str | None]:
    """(kind, region, holder) from ``payment-health-<kind>-<region>-<suffix>`` or, for a hold,
    ``payment-health-hold-<held>-<holder>-<suffix>`` (core/routing.py)."""
    prefix = "payment-health-"
    if not name.startswith(prefix):
        return None, None, None
    rest = name[len(prefix) :]
    regions = sorted(KNOWN_REGIONS, key=len, reverse=True)
    for region in regions:
        kind, sep, tail = rest.partition(f"-{region}-")
        if not sep:
            continue
        if kind == routing.HOLD:
            holder = next((h for h in regions if tail.startswith(f"{h}-")), None)
            return kind, region, holder
        return kind, region, None
    return None, None, None


def _check(record: ResourceRecord, endpoints: dict[str, str]) -> Check:
    inputs = record.inputs
    name = (inputs.get("tags") or {}).get("Name") or record.name
    kind, region, holder = parse_check_name(str(name))
    check_type = str(inputs.get("type"))
    what = f"health check {name}"
    fqdn = inputs.get("fqdn")
    endpoint_region = None
    if check_type in ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"):
        match = _REGION_IN_HOST.search(str(fqdn or ""))
        endpoint_region = endpoints.get(str(fqdn)) or (match.group("region") if match else None) or region
        if endpoint_region is None:
            raise SimulationError(f"{what}: fqdn {fqdn!r} names no region the simulation can place")
    alarm = None
    if check_type == "CLOUDWATCH_METRIC":
        alarm_name, alarm_region = inputs.get("cloudwatchAlarmName"), inputs.get("cloudwatchAlarmRegion")
        if not (_known(alarm_name) and _known(alarm_region)):
            raise SimulationError(f"{what}: cloudwatchAlarmName/cloudwatchAlarmRegion unknown before apply")
        alarm = (str(alarm_name), str(alarm_region))
    return Check(
        id=str(record.outputs.get("id")),
        name=str(name),
        type=check_type,
        kind=kind,
        region=region,
        holder=holder,
        endpoint_region=endpoint_region,
        interval=_int(inputs.get("requestInterval"), DEFAULT_INTERVAL, f"{what} requestInterval"),
        threshold=_int(inputs.get("failureThreshold"), DEFAULT_THRESHOLD, f"{what} failureThreshold"),
        inverted=bool(inputs.get("invertHealthcheck")),
        disabled=bool(inputs.get("disabled")),
        children=tuple(str(c) for c in inputs.get("childHealthchecks") or []),
        child_threshold=_int(inputs.get("childHealthThreshold"), 0, f"{what} childHealthThreshold"),
        alarm=alarm,
        insufficient=str(inputs.get("insufficientDataHealthStatus") or DEFAULT_INSUFFICIENT),
    )


def _alarm(record: ResourceRecord, topics: dict[str, str]) -> Alarm | None:
    """A single-metric alarm; metric-math alarms are not modelled (None)."""
    inputs = record.inputs
    if inputs.get("metricQueries") or not _known(inputs.get("metricName")):
        return None
    name = str(inputs.get("name") or record.name)
    what = f"alarm {name} ({record.region})"
    evaluations = _int(inputs.get("evaluationPeriods"), None, f"{what} evaluationPeriods")
    return Alarm(
        name=name,
        region=str(record.region),
        namespace=str(inputs.get("namespace")),
        metric=str(inputs.get("metricName")),
        dimensions=tuple(sorted((str(k), str(v)) for k, v in (inputs.get("dimensions") or {}).items())),
        statistic=str(inputs.get("statistic") or "Average"),
        period=_int(inputs.get("period"), None, f"{what} period"),
        evaluation_periods=evaluations,
        datapoints=_int(inputs.get("datapointsToAlarm"), evaluations, f"{what} datapointsToAlarm"),
        threshold=float(inputs.get("threshold")),
        comparison=str(inputs.get("comparisonOperator")),
        missing=str(inputs.get("treatMissingData") or "missing"),  # MISSING: `missing` is the default
        alarm_topics=tuple(topics[a] for a in inputs.get("alarmActions") or [] if a in topics),
    )


def _record(record: ResourceRecord) -> RecordSet:
    inputs = record.inputs
    aliases = inputs.get("aliases") or []
    policies = inputs.get("failoverRoutingPolicies") or []
    return RecordSet(
        name=str(inputs.get("name")).rstrip("."),
        zone=str(inputs.get("zoneId")),
        type=str(inputs.get("type")),
        set_id=inputs.get("setIdentifier"),
        failover=policies[0].get("type") if policies else None,
        health_check=inputs.get("healthCheckId"),
        alias=str(aliases[0].get("name")).rstrip(".") if aliases else None,
        evaluate_target_health=bool(aliases[0].get("evaluateTargetHealth")) if aliases else False,
        ttl=_int(inputs.get("ttl"), None, f"record {record.name} ttl") if _known(inputs.get("ttl")) else None,
        values=tuple(str(v).rstrip(".") for v in inputs.get("records") or []),
    )


def _variables(function: ResourceRecord) -> dict[str, str]:
    return {k: str(v) for k, v in ((function.inputs.get("environment") or {}).get("variables") or {}).items()}


# The environment variables the model reads: the canary's own names (core/routing.py CANARY_ENV_*), each
# with the contract's value when the function does not set it.
PROBE_NAMESPACE = "PaymentDR/DatabaseProbe"
CANARY_ENV = {
    "namespace": getattr(routing, "CANARY_ENV_NAMESPACE", "CANARY_NAMESPACE"),
    "interval": getattr(routing, "CANARY_ENV_INTERVAL", "INTERVAL_SECONDS"),
    "rounds": getattr(routing, "CANARY_ENV_ROUNDS", "ROUNDS"),
    "threshold": getattr(routing, "CANARY_ENV_FAILURE_THRESHOLD", "FAILURE_THRESHOLD"),
    "chain": getattr(routing, "CANARY_ENV_CHAIN", "CHAIN"),
    "targets": getattr(routing, "CANARY_ENV_TARGETS", "TARGETS"),
    "hold_namespace": getattr(routing, "CANARY_ENV_ROUTING_NAMESPACE", "ROUTING_NAMESPACE"),
}


def _probe(function: ResourceRecord, variables: dict[str, str]) -> Probe:
    what = f"database probe {function.name} ({function.region})"
    return Probe(
        function=str(function.inputs.get("name") or function.name),
        region=str(function.region),
        namespace=variables["METRIC_NAMESPACE"],
        interval=_int(variables.get("PROBE_INTERVAL_SECONDS"), None, f"{what} PROBE_INTERVAL_SECONDS"),
        cluster=variables.get("DB_CLUSTER_IDENTIFIER") or "",
    )


def _targets(raw: str | None, chain: tuple[str, ...], region: str) -> tuple[str, ...]:
    """A canary's targets from its environment (a JSON object target -> /health URL, a JSON list, or comma
    separated names: region names and routing.PUBLIC_TARGET); by default every region and the public name."""
    import json

    if raw is None:
        return (*tuple(chain), routing.PUBLIC_TARGET)
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(parsed, dict):
        parsed = list(parsed)
    names = []
    for entry in parsed:
        if isinstance(entry, dict):
            entry = entry.get("region") or entry.get("name") or entry.get("target")
        names.append(str(entry))
    return tuple(names)


def _canary(
    function: ResourceRecord, variables: dict[str, str], chain: tuple[str, ...], default_threshold: int, gaps: list[str]
) -> Canary:
    region = str(function.region)
    read = {key: variables.get(name) for key, name in CANARY_ENV.items()}
    for key, value in read.items():
        if not _known(value):
            read[key] = None
            gaps.append(
                f"canary {function.name} ({region}): no {CANARY_ENV[key]} in its environment; the simulation "
                "takes core/routing.py's value"
            )
    what = f"canary {function.name} ({region})"
    asked = variables.get(routing.CANARY_ENV_CLOUDWATCH_ALARMS)
    if not _known(asked):
        asked = "{}"
        gaps.append(
            f"canary {function.name} ({region}): no {routing.CANARY_ENV_CLOUDWATCH_ALARMS} in its environment; "
            "nothing outside a region watches its CloudWatch"
        )
    own_chain = tuple(r.strip() for r in read["chain"].split(",") if r.strip()) if read["chain"] else chain
    return Canary(
        function=str(function.inputs.get("name") or function.name),
        region=region,
        namespace=read["namespace"] or routing.CANARY_NAMESPACE,
        interval=_int(read["interval"], routing.CANARY_INTERVAL_SECONDS, f"{what} {CANARY_ENV['interval']}"),
        rounds=_int(
            read["rounds"],
            getattr(routing, "CANARY_ROUNDS", 60 // routing.CANARY_INTERVAL_SECONDS),
            f"{what} {CANARY_ENV['rounds']}",
        ),
        threshold=_int(read["threshold"], default_threshold, f"{what} {CANARY_ENV['threshold']}"),
        chain=own_chain,
        targets=_targets(read["targets"], chain, region),
        hold_namespace=read["hold_namespace"] or routing.ROUTING_NAMESPACE,
        cloudwatch=tuple(r for r in _targets(asked, (), region) if r != region),
    )


def _is_canary(function: ResourceRecord, variables: dict[str, str]) -> bool:
    name = str(function.inputs.get("name") or function.name)
    return "canary" in name or routing.CANARY_NAMESPACE in variables.values()


def _chain(records: dict[str, list[RecordSet]], endpoints: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """The public name (a failover name no alias points at, whose answers are API endpoints) and the regions
    in the order its failover tree tries them."""
    aliased = {r.alias for sets in records.values() for r in sets if r.alias}
    roots = [
        name
        for name, sets in records.items()
        if name not in aliased and any(r.failover for r in sets) and any(r.alias for r in sets)
    ]
    for root in sorted(roots, key=len):
        order = _tree_regions(records, endpoints, root, set())
        if order:
            return root, tuple(order)
    raise SimulationError("no failover record set whose aliases lead to API endpoints: nothing to route")


def _tree_regions(records, endpoints, name: str, seen: set[str]) -> list[str]:
    if name in endpoints:
        return [endpoints[name]]
    if name in seen:
        return []
    seen.add(name)
    order: list[str] = []
    for record in sorted(records.get(name, []), key=lambda r: (r.failover != "PRIMARY", r.set_id or "")):
        for region in _tree_regions(records, endpoints, record.alias, seen) if record.alias else []:
            if region not in order:
                order.append(region)
    return order


def build_model(evaluation: Evaluation) -> Model:
    """The simulation's view of the evaluated stack."""
    endpoints: dict[str, str] = {}
    for domain in (r for r in evaluation.resources if r.type in DOMAINS):
        if _known(domain.outputs.get("regionalDomainName")):
            endpoints[str(domain.outputs["regionalDomainName"]).rstrip(".")] = str(domain.region)
    clusters = {}
    for cluster in evaluation.of_type(CLUSTER):
        for key in ("endpoint", "readerEndpoint"):
            if _known(cluster.outputs.get(key)):
                clusters[str(cluster.outputs[key])] = (
                    str(cluster.region),
                    str(cluster.inputs.get("clusterIdentifier")),
                )
    topics = {str(t.outputs.get("arn")): str(t.region) for t in evaluation.of_type(TOPIC)}
    checks = {c.id: c for c in (_check(r, endpoints) for r in evaluation.of_type(HEALTH_CHECK))}
    alarms = [a for a in (_alarm(r, topics) for r in evaluation.of_type(ALARM)) if a is not None]
    records: dict[str, list[RecordSet]] = {}
    for record in evaluation.of_type(RECORD):
        parsed = _record(record)
        records.setdefault(parsed.name, []).append(parsed)
    public_name, chain = _chain(records, endpoints)
    writer_name = next(
        (
            name
            for name, sets in records.items()
            if any(r.failover for r in sets) and any(v in clusters for r in sets for v in r.values)
        ),
        None,
    )
    gaps: list[str] = []
    thresholds = [c.threshold for c in checks.values() if c.kind == routing.API]
    probes, canaries = [], []
    for function in evaluation.of_type(FUNCTION):
        variables = _variables(function)
        if variables.get("METRIC_NAMESPACE") == PROBE_NAMESPACE:
            probes.append(_probe(function, variables))
        elif _is_canary(function, variables):
            canaries.append(_canary(function, variables, chain, max(thresholds, default=DEFAULT_THRESHOLD), gaps))
    # Registration order under the mock engine is not fixed: order what the clock depends on by the chain.
    position = {region: index for index, region in enumerate(chain)}
    probes.sort(key=lambda p: (position.get(p.region, len(chain)), p.region, p.function))
    canaries.sort(key=lambda c: (position.get(c.region, len(chain)), c.region, c.function))
    kinds = {c.kind for c in checks.values()}
    for kind in (routing.HOLD, routing.WRITER):
        if kind not in kinds:
            gaps.append(f"no `{kind}` health checks (core/routing.py): the stack does not declare them yet")
    if not canaries:
        gaps.append("no region canary function (core/routing.py): nothing sets holds or pages from a surviving region")
    if not any(a.metric == routing.WRITABLE_METRIC for a in alarms):
        gaps.append(f"no alarm on {routing.WRITABLE_METRIC}: the writer record cannot follow writability")
    return Model(
        chain=chain,
        public_name=public_name,
        writer_name=writer_name,
        checks=checks,
        alarms=alarms,
        records=records,
        probes=probes,
        canaries=canaries,
        endpoints=endpoints,
        clusters=clusters,
        gaps=gaps,
    )


# --- the world: what is up, second by second ------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    component: str  # one of COMPONENTS
    region: str
    start: int  # seconds from the incident's start
    end: int | None = None  # None: until the end of the run

    def __post_init__(self):
        if self.component not in COMPONENTS:
            raise SimulationError(f"outage component {self.component!r}: expected one of {', '.join(COMPONENTS)}")

    def covers(self, t: int) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


class World:
    """Which services are up at second t (relative to the incident's start), and which region's cluster is
    the database writer (it moves when the operator fails over)."""

    def __init__(self, regions: Iterable[str], outages: Iterable[Outage], writer: str):
        self.regions = tuple(regions)
        self.outages = tuple(outages)
        self.writers: list[tuple[int, str]] = [(-(10**9), writer)]
        self._cached_t: int | None = None
        self._cached: set[tuple[str, str]] = set()
        unknown = {o.region for o in self.outages} - set(self.regions)
        if unknown:
            raise SimulationError(
                f"outage in {', '.join(sorted(unknown))}: not a region of the stack ({', '.join(self.regions)})"
            )

    def down(self, component: str, region: str, t: int) -> bool:
        if t == self._cached_t:
            return (component, region) in self._cached or (REGION, region) in self._cached
        return any(o.region == region and o.component in (component, REGION) and o.covers(t) for o in self.outages)

    def at(self, t: int) -> None:
        """Caches what is down at second t (the simulation asks many times per second)."""
        self._cached_t, self._cached = t, {(o.component, o.region) for o in self.outages if o.covers(t)}

    def serving(self, region: str, t: int) -> bool:
        """The region takes payments: its API (and /health) answers."""
        return not self.down(API, region, t)

    def cloudwatch(self, region: str, t: int) -> bool:
        return not self.down(CLOUDWATCH, region, t)

    def writer_at(self, t: int) -> str:
        return next(region for since, region in reversed(self.writers) if since <= t)

    def set_writer(self, t: int, region: str) -> None:
        self.writers.append((t, region))

    def writable(self, region: str, t: int) -> bool:
        return region == self.writer_at(t) and not self.down(DATABASE, region, t)


# --- the simulation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    t: int
    alarm: str
    alarm_region: str
    topic_region: str


@dataclass
class Run:
    """What one play of a scenario produced; every time is seconds from the incident's start."""

    model: Model
    world: World
    start: int
    end: int
    check_flips: list[tuple[int, str, bool]] = field(default_factory=list)
    alarm_flips: list[tuple[int, str, str, str]] = field(default_factory=list)  # (t, name, region, state)
    answers: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)  # name -> (t, region) changes
    pages: list[Page] = field(default_factory=list)
    lost_pages: list[tuple[int, str, str, str]] = field(default_factory=list)  # (t, alarm, region, why)
    actions: list[tuple[int, str]] = field(default_factory=list)
    ttls: dict[str, int] = field(default_factory=dict)  # the TTL clients cache each name's answer for

    def answer_at(self, name: str, t: int) -> str | None:
        changes = self.answers[name]
        index = bisect.bisect_right([c[0] for c in changes], t) - 1
        return changes[index][1] if index >= 0 else None


class _Metrics:
    """Datapoints per (region, namespace, metric, dimensions), as CloudWatch stores them."""

    def __init__(self):
        self.points: dict[tuple, tuple[list[int], list[float]]] = {}

    def put(self, key: tuple, t: int, value: float) -> None:
        times, values = self.points.setdefault(key, ([], []))
        times.append(t)
        values.append(value)

    def window(self, key: tuple, start: int, end: int) -> list[float]:
        times, values = self.points.get(key, ((), ()))
        return list(values[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)])


_STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Average": lambda v: sum(v) / len(v),
    "Minimum": min,
    "Maximum": max,
    "Sum": sum,
    "SampleCount": len,
}
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def evaluate_alarm(alarm: Alarm, state: str, values_per_period: list[list[float]]) -> str:
    """The alarm's next state from its last `evaluation_periods` periods, oldest first (ALARMS, MISSING).

    A period's datapoint is the statistic of its values; an empty period is missing. Missing datapoints are
    breaching or not breaching as `treat_missing_data` says; with `ignore` an all-missing range keeps the
    state, with `missing` it is INSUFFICIENT_DATA, and otherwise only the datapoints present count. ALARM
    when at least `datapoints_to_alarm` datapoints breach."""
    statistic = _STATISTICS.get(alarm.statistic)
    compare = _COMPARISONS.get(alarm.comparison)
    if statistic is None or compare is None:
        raise SimulationError(
            f"alarm {alarm.name}: statistic {alarm.statistic!r} / comparison {alarm.comparison!r} not modelled"
        )
    breaching = present = 0
    for values in values_per_period:
        if values:
            present += 1
            breaching += compare(statistic(values), alarm.threshold)
        elif alarm.missing == "breaching":
            present += 1
            breaching += 1
        elif alarm.missing == "notBreaching":
            present += 1
    if present == 0:
        return state if alarm.missing == "ignore" else INSUFFICIENT
    return ALARM_STATE if breaching >= alarm.datapoints else OK


class _Checker:
    """One Route 53 health checker of an endpoint check: `threshold` consecutive results change its view
    (CONFIG, FailureThreshold: "pass or fail ... to change the current status")."""

    __slots__ = ("healthy", "phase", "streak")

    def __init__(self, phase: int):
        self.phase, self.healthy, self.streak = phase, True, 0

    def observe(self, ok: bool, threshold: int) -> None:
        if ok == self.healthy:
            self.streak = 0
            return
        self.streak += 1
        if self.streak >= threshold:
            self.healthy, self.streak = ok, 0


class Simulation:
    """Plays a World on a Model, one second at a time, from `-warmup` (steady state) to `duration`."""

    def __init__(
        self,
        model: Model,
        world: World,
        *,
        duration: int,
        warmup: int = 600,
        phase: int = 0,
        operator_failover: bool = False,
        promotion_seconds: int = 60,
        checkers: int = CHECKERS,
    ):
        self.model, self.world = model, world
        self.duration, self.warmup, self.phase = duration, warmup, phase
        self.operator_failover, self.promotion_seconds = operator_failover, promotion_seconds
        self.metrics = _Metrics()
        self.alarm_state = {(a.name, a.region): INSUFFICIENT for a in model.alarms}
        self.alarms_by_id = {(a.name, a.region): a for a in model.alarms}
        self.checkers = {
            c.id: [_Checker(round(i * c.interval / checkers) % c.interval) for i in range(checkers)]
            for c in model.checks.values()
            if c.endpoint_region is not None
        }
        # CLOUDWATCH_METRIC: the last status Route 53 knew (CONFIG: a new check without one is healthy).
        self.last_known = {c.id: True for c in model.checks.values()}
        self.status: dict[str, bool] = {c.id: True for c in model.checks.values()}
        self.canary_failures = {(c.region, target): 0 for c in model.canaries for target in c.targets}
        self.canary_engaged: dict[str, set[str]] = {c.region: set() for c in model.canaries}
        self.canary_dns: dict[str, tuple[int, str | None]] = {}  # canary region -> (expires, answered region)
        self.failover_at: int | None = None
        self.failover_target: str | None = None
        self._now = -warmup
        self._produced_keys: set[tuple] | None = None
        self.run = Run(model, world, -warmup, duration, answers={n: [] for n in self.names()})

    def names(self) -> list[str]:
        return [n for n in (self.model.public_name, self.model.writer_name) if n]

    # Time: `t` is relative to the incident; the clock's minute boundaries sit `phase` seconds off it, so
    # sweeping `phase` over a minute moves the incident against every period and checker.
    def _clock(self, t: int) -> int:
        return t + self.phase

    def play(self) -> Run:
        for t in range(-self.warmup, self.duration):
            self._step(t)
        self.run.ttls = {name: self.ttl(name) for name in self.names()}
        return self.run

    def _step(self, t: int) -> None:
        self._now = t
        self.world.at(t)
        clock = self._clock(t)
        self._probes(t, clock)
        self._canaries(t, clock)
        self._checkers(t, clock)
        self._evaluate_alarms(t, clock)
        self._route53_status(t)
        if clock % 10 == 0 and self.world.cloudwatch(ROUTE53_METRICS_REGION, t):
            # R53_METRICS: HealthCheckStatus, 1 healthy / 0 unhealthy, in us-east-1 only.
            for check in self.model.checks.values():
                key = (ROUTE53_METRICS_REGION, "AWS/Route53", "HealthCheckStatus", (("HealthCheckId", check.id),))
                self.metrics.put(key, clock, 1.0 if self.status[check.id] else 0.0)
        self._operator(t)
        for name in self.names():
            region = self.resolve(name)
            changes = self.run.answers[name]
            if not changes or changes[-1][1] != region:
                changes.append((t, region))

    # Producers ------------------------------------------------------------------------------------

    def _probes(self, t: int, clock: int) -> None:
        for probe in self.model.probes:
            if (
                clock % probe.interval
                or self.world.down(PROBE, probe.region, t)
                or not self.world.cloudwatch(probe.region, t)
            ):
                continue
            dims = (("ClusterIdentifier", probe.cluster),)
            reachable = not self.world.down(DATABASE, probe.region, t)
            self.metrics.put((probe.region, probe.namespace, "DatabaseReachable", dims), clock, float(reachable))
            writable = reachable and self.world.writable(probe.region, t)
            self.metrics.put((probe.region, probe.namespace, routing.WRITABLE_METRIC, dims), clock, float(writable))

    def _canaries(self, t: int, clock: int) -> None:
        for index, canary in enumerate(self.model.canaries):  # in chain order (build_model)
            offset = (clock + 7 * index) % 60  # the regions' schedules are not in step
            if (
                offset % canary.interval
                or offset // canary.interval >= canary.rounds
                or self.world.down(CANARY, canary.region, t)
            ):
                continue
            if offset == 0:  # a new invocation: streaks start at 0, holds may be published again
                for target in canary.targets:
                    self.canary_failures[(canary.region, target)] = 0
                self.canary_engaged[canary.region] = set()
            publish = self.world.cloudwatch(canary.region, t)
            answers = {}
            for target in canary.targets:
                region = self._canary_resolve(canary, t) if target == routing.PUBLIC_TARGET else target
                answers[target] = ok = region is not None and self.world.serving(region, t)
                key = (canary.region, target)
                self.canary_failures[key] = 0 if ok else self.canary_failures[key] + 1
                if publish:
                    self.metrics.put(
                        (canary.region, canary.namespace, routing.CANARY_METRIC, ((routing.CANARY_DIMENSION, target),)),
                        clock,
                        float(ok),
                    )
            for asked in canary.cloudwatch:  # DescribeAlarms there: answered while its CloudWatch is up; no hold
                if publish:
                    self.metrics.put(
                        (
                            canary.region,
                            canary.namespace,
                            routing.CANARY_METRIC,
                            ((routing.CANARY_DIMENSION, routing.cloudwatch_target(asked)),),
                        ),
                        clock,
                        float(self.world.cloudwatch(asked, t)),
                    )
            if not any(answers.values()):
                continue  # a blind canary holds nothing (its own path is the likelier failure)
            failing = [self.canary_failures.get((canary.region, r), 0) >= canary.threshold for r in canary.chain]
            for position, held in enumerate(canary.chain):
                # core/routing.py: hold R once R and every region ahead of it failed `threshold` rounds in a
                # row; never the canary's own region; once per invocation; only drctl releases (publishes 0).
                if (
                    held == canary.region
                    or not all(failing[: position + 1])
                    or held in self.canary_engaged[canary.region]
                ):
                    continue
                if publish:
                    self.metrics.put(
                        (
                            canary.region,
                            canary.hold_namespace,
                            routing.HELD_OUT_METRIC,
                            ((routing.HELD_OUT_DIMENSION, held),),
                        ),
                        clock,
                        routing.HELD,
                    )
                    self.canary_engaged[canary.region].add(held)

    def _canary_resolve(self, canary: Canary, t: int) -> str | None:
        """The canary's own DNS view of the public name: cached for the answer's TTL."""
        expires, region = self.canary_dns.get(canary.region, (-(10**9), None))
        if t >= expires:
            region = self.resolve(self.model.public_name)
            self.canary_dns[canary.region] = (t + self.ttl(self.model.public_name), region)
        return region

    # Route 53 ------------------------------------------------------------------------------------

    def _checkers(self, t: int, clock: int) -> None:
        for check_id, checkers in self.checkers.items():
            check = self.model.checks[check_id]
            ok = self.world.serving(check.endpoint_region, t)
            for checker in checkers:
                if (clock - checker.phase) % check.interval == 0:
                    checker.observe(ok, check.threshold)

    def _route53_status(self, t: int) -> None:
        done: dict[str, bool] = {}
        for check in self.model.checks.values():
            healthy = self._status(check, done, (), t)
            if healthy != self.status[check.id]:
                self.run.check_flips.append((t, check.name, healthy))
            self.status[check.id] = healthy

    def _status(self, check: Check, done: dict[str, bool], stack: tuple[str, ...], t: int) -> bool:
        if check.id in done:
            return done[check.id]
        if check.id in stack:
            raise SimulationError(f"health check {check.name}: CALCULATED children form a cycle")
        if check.disabled:
            healthy = True  # CONFIG, Disabled: "considers the status ... to always be healthy"
        elif check.type == "CALCULATED":
            # HEALTH/CONFIG: healthy when at least HealthThreshold children are (0: always healthy).
            children = [self.model.checks.get(c) for c in check.children]
            if any(c is None for c in children):
                raise SimulationError(f"health check {check.name}: a child is not a health check of the stack")
            count = sum(self._status(c, done, (*stack, check.id), t) for c in children)
            healthy = count >= check.child_threshold
        elif check.type == "CLOUDWATCH_METRIC":
            healthy = self._alarm_health(check, t)
        else:
            checkers = self.checkers[check.id]
            healthy = sum(c.healthy for c in checkers) / len(checkers) > HEALTHY_SHARE  # HEALTH: > 18 %
        healthy = not healthy if check.inverted else healthy  # CONFIG, Inverted
        done[check.id] = healthy
        return healthy

    def _alarm_health(self, check: Check, t: int) -> bool:
        """HEALTH: OK is healthy, ALARM unhealthy; INSUFFICIENT_DATA (or no data from CloudWatch at all)
        takes InsufficientDataHealthStatus: Healthy, Unhealthy or LastKnownStatus (CONFIG)."""
        name, region = check.alarm
        state = self.alarm_state.get((name, region))
        if state is None:
            raise SimulationError(f"health check {check.name}: its alarm {name} in {region} is not in the stack")
        if not self.world.cloudwatch(region, t):
            state = INSUFFICIENT
        if state in (OK, ALARM_STATE):
            self.last_known[check.id] = state == OK
            return state == OK
        if check.insufficient == "Healthy":
            return True
        if check.insufficient == "Unhealthy":
            return False
        return self.last_known[check.id]

    def record_healthy(self, record: RecordSet, depth: int = 0) -> bool:
        """A record's health: its health check (if any) and, with Evaluate Target Health, its alias target's
        (FAILOVER; ALIAS: an alias to a name in the zone is healthy while that name has a healthy answer)."""
        if record.health_check is not None:
            check = self.model.checks.get(record.health_check)
            if check is None:
                raise SimulationError(
                    f"record {record.name} ({record.set_id}): health check {record.health_check} not in the stack"
                )
            if not self.status[check.id]:
                return False
        if record.alias and record.evaluate_target_health:
            if record.alias in self.model.endpoints:
                return True  # ASSUMPTIONS: API Gateway gives Evaluate Target Health nothing to act on
            if depth > 16:
                raise SimulationError(f"record {record.name}: alias chain deeper than 16")
            return any(self.record_healthy(r, depth + 1) for r in self.model.records.get(record.alias, []))
        return True

    def resolve(self, name: str, depth: int = 0) -> str | None:
        """The region Route 53 answers for `name`: failover records take the PRIMARY while it is healthy,
        else a healthy SECONDARY, else the PRIMARY (FAILOVER: with every record unhealthy Route 53 answers
        the primary); an alias is followed to its target."""
        if name in self.model.endpoints:
            return self.model.endpoints[name]
        if name in self.model.clusters:
            return self.model.clusters[name][0]
        records = self.model.records.get(name, [])
        if not records or depth > 16:
            return None
        primary = next((r for r in records if r.failover == "PRIMARY"), records[0])
        secondary = next((r for r in records if r.failover == "SECONDARY"), None)
        chosen = primary
        if (
            primary.failover
            and not self.record_healthy(primary)
            and secondary is not None
            and self.record_healthy(secondary)
        ):
            chosen = secondary
        target = chosen.alias or (chosen.values[0] if chosen.values else None)
        return self.resolve(target, depth + 1) if target else None

    def ttl(self, name: str, depth: int = 0) -> int:
        """ALIAS: an alias has the TTL of what it aliases (an AWS target's: ALIAS_TTL_SECONDS, assumed)."""
        records = self.model.records.get(name, [])
        if not records or depth > 16:
            return ALIAS_TTL_SECONDS
        record = records[0]
        if record.alias:
            return ALIAS_TTL_SECONDS if record.alias in self.model.endpoints else self.ttl(record.alias, depth + 1)
        return record.ttl if record.ttl is not None else ALIAS_TTL_SECONDS

    # CloudWatch and SNS --------------------------------------------------------------------------

    def _evaluate_alarms(self, t: int, clock: int) -> None:
        """At each minute boundary, and at once where CloudWatch comes back from an outage (its alarms'
        states from before the outage are stale)."""
        back = {r for r in self.world.regions if self.world.cloudwatch(r, t) and not self.world.cloudwatch(r, t - 1)}
        if clock % 60 and not back:
            return
        for alarm in self.model.alarms:
            if not self.world.cloudwatch(alarm.region, t) or alarm.key not in self._produced:
                continue  # a metric nothing in the model produces stays in its steady state (not modelled)
            if clock % 60 and alarm.region not in back:
                continue
            end = clock - clock % alarm.period
            periods = [
                self.metrics.window(alarm.key, end - (i + 1) * alarm.period, end - i * alarm.period)
                for i in reversed(range(alarm.evaluation_periods))
            ]
            key = (alarm.name, alarm.region)
            before = self.alarm_state[key]
            after = evaluate_alarm(alarm, before, periods)
            if after == before:
                continue
            self.alarm_state[key] = after
            self.run.alarm_flips.append((t, alarm.name, alarm.region, after))
            if after == ALARM_STATE:
                for topic_region in alarm.alarm_topics:
                    # An alarm notifies SNS in its region only if SNS there is up (ALARMS: actions).
                    if self.world.down(SNS, topic_region, t):
                        self.run.lost_pages.append((t, alarm.name, alarm.region, f"SNS in {topic_region} is down"))
                    else:
                        self.run.pages.append(Page(t, alarm.name, alarm.region, topic_region))

    @property
    def _produced(self) -> set[tuple]:
        produced = self._produced_keys
        if produced is None:
            produced = set()
            for probe in self.model.probes:
                dims = (("ClusterIdentifier", probe.cluster),)
                produced |= {
                    (probe.region, probe.namespace, m, dims) for m in ("DatabaseReachable", routing.WRITABLE_METRIC)
                }
            for canary in self.model.canaries:
                produced |= {
                    (canary.region, canary.namespace, routing.CANARY_METRIC, ((routing.CANARY_DIMENSION, x),))
                    for x in (*canary.targets, *map(routing.cloudwatch_target, canary.cloudwatch))
                }
                produced |= {
                    (canary.region, canary.hold_namespace, routing.HELD_OUT_METRIC, ((routing.HELD_OUT_DIMENSION, r),))
                    for r in self.model.chain
                }
            produced |= {
                (ROUTE53_METRICS_REGION, "AWS/Route53", "HealthCheckStatus", (("HealthCheckId", c),))
                for c in self.model.checks
            }
            self._produced_keys = produced
        return produced

    # The operator (drctl failover) ------------------------------------------------------------------

    def _operator(self, t: int) -> None:
        """With `operator_failover`, the on-call runs `drctl failover` when first paged after the incident
        (decision time 0: not counted); the first healthy region after the writer in the chain becomes the
        writer `promotion_seconds` later."""
        if not self.operator_failover:
            return
        if self.failover_at is None and any(p.t >= 0 for p in self.run.pages):
            target = next(
                (r for r in self.model.chain if r != self.world.writer_at(t) and not self.world.down(DATABASE, r, t)),
                None,
            )
            if target is not None:
                self.failover_at = t + self.promotion_seconds
                self.failover_target = target
                self.run.actions.append((t, f"operator paged: drctl failover --to {target} --allow-data-loss"))
        if self.failover_at is not None and t == self.failover_at:
            self.world.set_writer(t, self.failover_target)
            self.run.actions.append((t, f"Aurora: {self.failover_target} is the writer"))


def play(
    model: Model,
    outages: Iterable[Outage],
    *,
    duration: int,
    phase: int = 0,
    operator_failover: bool = False,
    promotion_seconds: int = 60,
    warmup: int = 600,
) -> Run:
    """One play of an incident (outages relative to its start) on the model."""
    world = World(model.chain, outages, writer=model.chain[0])
    return Simulation(
        model,
        world,
        duration=duration,
        warmup=warmup,
        phase=phase,
        operator_failover=operator_failover,
        promotion_seconds=promotion_seconds,
    ).play()
