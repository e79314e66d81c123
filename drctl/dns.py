"""Route 53: the stack's health checks, the failover records, and the manual traffic override.

Override semantics (Route53/latest/APIReference/API_UpdateHealthCheck.html, `Disabled`; and
Route53/latest/DeveloperGuide/health-checks-invert.html): a disabled health check is always
considered healthy; Inverted flips the status, so disabled + inverted is always unhealthy. Setting
the `region` checks that the failover records use therefore forces traffic to one region without
touching any record, and clearing both flags hands routing back to the checkers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core import routing
from drctl.aws import ROUTE53_REGION, Unreachable
from drctl.context import Context
from drctl.metrics import WINDOW, Measurement, MetricQuery, latest
from drctl.stack import ROUTING_CHECK

# Route 53 calls an endpoint healthy when more than 18 % of its checkers see it healthy
# (Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
HEALTHY_SHARE = 0.18
TAGS_PER_CALL = 10  # ListTagsForResources accepts at most 10 ids
# GetHealthCheckStatus refuses CALCULATED checks (API_GetHealthCheckStatus.html): their status is the
# CloudWatch metric, published in us-east-1 like every health-check metric.
METRIC_TYPES = frozenset({"CALCULATED"})

Flags = tuple[bool, bool]  # (Disabled, Inverted)
NORMAL: Flags = (False, False)
ALWAYS_HEALTHY: Flags = (True, False)
ALWAYS_UNHEALTHY: Flags = (True, True)


@dataclass(frozen=True)
class HealthCheck:
    id: str
    name: str
    kind: str
    region: str
    type: str
    flags: Flags
    version: int

    @property
    def overridden(self) -> bool:
        return self.flags != NORMAL

    def effective(self, measured: bool | None) -> bool | None:
        """What routing sees. Assumes `measured` is the checkers' own verdict, before Inverted."""
        disabled, inverted = self.flags
        if disabled:
            return not inverted
        return None if measured is None else measured != inverted


@dataclass(frozen=True)
class Route:
    region: str | None  # where the failover record sends clients now; None when unresolvable or unknown
    path: tuple[str, ...]  # one line per failover pair Route 53 evaluates
    unknown: str | None = None  # why `region` is None although the records resolve: "health unreadable: ..."


def find_checks(ctx: Context) -> dict[tuple[str, str], HealthCheck]:
    """The stack's checks by (kind, region), found by their Name tag."""
    wanted = {
        ctx.stack.health_check(kind, region): (kind, region)
        for region in ctx.stack.regions
        for kind in routing.REGION_CHECK_KINDS
    }
    configs = {check["Id"]: check for check in _all_health_checks(ctx)}
    ids = list(configs)
    found: dict[tuple[str, str], HealthCheck] = {}
    for start in range(0, len(ids), TAGS_PER_CALL):
        answer = ctx.clients.call(
            "route53",
            ROUTE53_REGION,
            "list_tags_for_resources",
            ResourceType="healthcheck",
            ResourceIds=ids[start : start + TAGS_PER_CALL],
        )
        for tag_set in answer["ResourceTagSets"]:
            name = next((t["Value"] for t in tag_set.get("Tags", []) if t["Key"] == "Name"), None)
            if name in wanted:
                found[wanted[name]] = _health_check(configs[tag_set["ResourceId"]], name, *wanted[name])
    return found


def routing_checks(ctx: Context) -> dict[str, HealthCheck]:
    """The `region` check of every region; Unreachable names the missing ones."""
    checks = find_checks(ctx)
    missing = [ctx.stack.health_check(ROUTING_CHECK, r) for r in ctx.stack.regions if (ROUTING_CHECK, r) not in checks]
    if missing:
        raise Unreachable(f"health checks not found (by Name tag): {', '.join(missing)}")
    return {region: checks[(ROUTING_CHECK, region)] for region in ctx.stack.regions}


def read_health(ctx: Context, checks: list[HealthCheck]) -> tuple[dict[str, bool | None], dict[str, str]]:
    """The checkers' verdict per check id, and why, for each id whose verdict is None, it could not be read.

    Unreadable is most likely when us-east-1 is degraded: the metric is only there (METRIC_TYPES).
    """
    queries = {
        c.id: MetricQuery("AWS/Route53", "HealthCheckStatus", {"HealthCheckId": c.id}, "Minimum")
        for c in checks
        if c.type in METRIC_TYPES
    }
    metrics: dict[str, Measurement] = {}
    metric_error: str | None = None
    try:
        metrics = latest(ctx.clients, ROUTE53_REGION, queries)
    except Unreachable as error:
        metric_error = (
            f"CloudWatch {ROUTE53_REGION}, the only region with Route 53's HealthCheckStatus metric, "
            f"did not answer ({error})"
        )
    measured: dict[str, bool | None] = {}
    why: dict[str, str] = {}
    for check in checks:
        if check.type in METRIC_TYPES:
            value = metrics[check.id].value if check.id in metrics else None
            measured[check.id] = None if value is None else value >= 1
            if value is None:
                why[check.id] = metric_error or (
                    f"no HealthCheckStatus datapoint in CloudWatch {ROUTE53_REGION} "
                    f"in the last {WINDOW.total_seconds() / 60:g} minutes"
                )
        else:
            measured[check.id], reason = _status(ctx, check)
            if reason:
                why[check.id] = reason
    return measured, why


def set_flags(ctx: Context, check: HealthCheck, flags: Flags) -> None:
    # HealthCheckVersion makes Route 53 refuse the update if someone changed the check meanwhile.
    ctx.clients.call(
        "route53",
        ROUTE53_REGION,
        "update_health_check",
        HealthCheckId=check.id,
        HealthCheckVersion=check.version,
        Disabled=flags[0],
        Inverted=flags[1],
    )


def describe_flags(flags: Flags) -> str:
    return {
        NORMAL: "normal (checkers decide)",
        ALWAYS_HEALTHY: "always healthy (Disabled)",
        ALWAYS_UNHEALTHY: "always unhealthy (Disabled + Inverted)",
    }.get(flags, f"Disabled={flags[0]} Inverted={flags[1]}")


def failover_records(ctx: Context) -> list[dict[str, Any]]:
    """The zone's failover A records (the API's alias records and any nested pairs)."""
    zone = _zone_id(ctx)
    records, params = [], {"HostedZoneId": zone}
    while True:
        answer = ctx.clients.call("route53", ROUTE53_REGION, "list_resource_record_sets", **params)
        records += [r for r in answer["ResourceRecordSets"] if r.get("Failover") and r["Type"] == "A"]
        if not answer.get("IsTruncated"):
            return records
        params = {
            "HostedZoneId": zone,
            "StartRecordName": answer["NextRecordName"],
            "StartRecordType": answer["NextRecordType"],
            **({"StartRecordIdentifier": answer["NextRecordIdentifier"]} if answer.get("NextRecordIdentifier") else {}),
        }


def resolve(
    records: list[dict[str, Any]],
    healthy: Mapping[str, bool | None],
    name: str,
    unreadable: Mapping[str, str] | None = None,
) -> Route:
    """Where Route 53 sends `name` now, following nested failover pairs (3+ regions) to a region.

    Route 53 answers with the PRIMARY unless it is unhealthy and the SECONDARY is not (every record
    unhealthy: the PRIMARY). Where a health that decides this is unknown (None), so is the answer:
    the Route has no region and says why (`unreadable`: check id -> why it could not be read).
    Guessing would be wrong when it matters most: the health metrics are only in us-east-1, so they
    go unread exactly when us-east-1 fails and Route 53 has moved its traffic.
    """
    why_unread = unreadable or {}
    pairs: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        pairs.setdefault(_dns(record["Name"]), {})[record["Failover"]] = record

    def record_health(record: dict[str, Any], seen: frozenset[str]) -> tuple[bool | None, tuple[tuple[str, str], ...]]:
        """The health routing sees, and while it is unknown, (record, why) for each health that could not be read."""
        if record.get("HealthCheckId"):
            check = record["HealthCheckId"]
            health = healthy.get(check)
            if health is not None:
                return health, ()
            return None, ((str(record.get("SetIdentifier")), why_unread.get(check, f"health check {check} not read")),)
        target = _alias(record)
        if target in pairs and target not in seen and (record.get("AliasTarget") or {}).get("EvaluateTargetHealth"):
            inner = [record_health(r, seen | {target}) for r in pairs[target].values()]
            if any(health is True for health, _ in inner):
                return True, ()
            if all(health is False for health, _ in inner):
                return False, ()
            return None, tuple(reason for health, reasons in inner if health is None for reason in reasons)
        return True, ()

    def pick(current: str, seen: frozenset[str]) -> Route:
        pair = pairs.get(current)
        if not pair:
            return Route(None, (f"{current}: no failover records",))
        primary, secondary = pair.get("PRIMARY"), pair.get("SECONDARY")
        read = {role: record_health(r, seen) for role, r in pair.items()}
        health = {role: h for role, (h, _) in read.items()}
        states = ", ".join(
            f"{role} {r.get('SetIdentifier')} {health_word(health[role])}" for role, r in sorted(pair.items())
        )
        if primary is None or secondary is None:
            chosen = primary or secondary
        elif health["PRIMARY"] is True or health["SECONDARY"] is False:
            chosen = primary  # the primary is healthy, or the secondary is not: the primary either way
        elif health["PRIMARY"] is False and health["SECONDARY"] is True:
            chosen = secondary
        else:  # the health that decides is unknown
            reasons: dict[str, list[str]] = {}
            for role in ("PRIMARY", "SECONDARY"):
                for record, why in read[role][1]:
                    reasons.setdefault(why, []).append(record)
            unknown = "; ".join(f"{', '.join(dict.fromkeys(where))}: {why}" for why, where in reasons.items())
            return Route(None, (f"{current}: {states} → unknown (health unreadable)",), f"health unreadable: {unknown}")
        assert chosen is not None  # a pair holds at least one record
        hop = f"{current}: {states} → {chosen['Failover']}"
        target = _alias(chosen)
        if target in pairs and target not in seen:
            inner = pick(target, seen | {current})
            return Route(inner.region, (hop, *inner.path), inner.unknown)
        return Route(chosen.get("SetIdentifier"), (hop,))

    return pick(_dns(name), frozenset())


def _all_health_checks(ctx: Context) -> Iterator[dict[str, Any]]:
    params: dict[str, str] = {}
    while True:
        answer = ctx.clients.call("route53", ROUTE53_REGION, "list_health_checks", **params)
        yield from answer["HealthChecks"]
        if not answer.get("IsTruncated"):
            return
        params = {"Marker": answer["NextMarker"]}


def _health_check(raw: dict[str, Any], name: str, kind: str, region: str) -> HealthCheck:
    config = raw["HealthCheckConfig"]
    return HealthCheck(
        id=raw["Id"],
        name=name,
        kind=kind,
        region=region,
        type=config["Type"],
        flags=(bool(config.get("Disabled")), bool(config.get("Inverted"))),
        version=int(raw.get("HealthCheckVersion", 1)),
    )


def _status(ctx: Context, check: HealthCheck) -> tuple[bool | None, str | None]:
    """The checkers' verdict, or None and why it cannot be read."""
    try:
        answer = ctx.clients.call("route53", ROUTE53_REGION, "get_health_check_status", HealthCheckId=check.id)
    except Unreachable as error:
        return None, f"GetHealthCheckStatus failed ({error})"
    observations = answer.get("HealthCheckObservations", [])
    if not observations:
        return None, "GetHealthCheckStatus returned no checker observations"
    passing = sum(1 for o in observations if o.get("StatusReport", {}).get("Status", "").startswith("Success"))
    return passing / len(observations) > HEALTHY_SHARE, None


def _zone_id(ctx: Context) -> str:
    cfg = ctx.stack.cfg
    if cfg.hosted_zone_id:
        return cfg.hosted_zone_id
    name = _dns(cfg.hosted_zone_name or "")
    answer = ctx.clients.call("route53", ROUTE53_REGION, "list_hosted_zones_by_name", DNSName=name)
    for zone in answer["HostedZones"]:
        if _dns(zone["Name"]) == name and not zone.get("Config", {}).get("PrivateZone"):
            return zone["Id"].rsplit("/", 1)[-1]
    raise Unreachable(f"public hosted zone {name} not found")


def _alias(record: dict[str, Any]) -> str | None:
    alias = record.get("AliasTarget")
    return _dns(alias["DNSName"]) if alias else None


def _dns(name: str) -> str:
    return name.rstrip(".").lower()


def health_word(healthy: bool | None) -> str:
    return {True: "healthy", False: "unhealthy", None: "unknown"}[healthy]
