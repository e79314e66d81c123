"""Every action as a plan: read-only pre-checks, then steps that the runner executes or only prints.

Switchover, failover, drill and the DNS override share this: the plan is built from reads alone
(so a dry run shows exactly what would happen and why it would be refused), each step is timed,
and a failure after the first change reports the state now and the commands to continue or roll
back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from drctl import aurora, dns
from drctl.aurora import Member, Topology
from drctl.aws import Rejected, Unreachable
from drctl.context import Context
from drctl.errors import DrctlError, OperationFailed, Refused
from drctl.failback import announce, keep_lost_writes, reconcile_ledger
from drctl.metrics import UNKNOWN
from drctl.stack import ROUTING_CHECK
from drctl.waiters import WaitTimeout, wait_for

DNS_VERIFY_TIMEOUT = 60.0  # Route 53 applies health-check updates at once; this only bounds the read-back

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[], object]
    changes: bool  # False: reads and waits
    timed: str | None = None  # steps sharing a label add up to one measured duration (e.g. an RTO)


@dataclass
class Plan:
    summary: str
    checks: list[Check]
    steps: list[Step]
    state: Callable[[], str]  # reads the state now, for a failure report
    next_steps: tuple[str, ...]
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # goes into the SNS message and audit line
    forced: bool = False  # --force: failed checks are shown, and do not refuse
    refusal_hint: str | None = None  # what to do when the checks refuse


@dataclass(frozen=True)
class Outcome:
    durations: dict[str, float]  # step title -> seconds
    measured: dict[str, float]  # timed label -> seconds


def require_checks(plan: Plan) -> None:
    refused = [check for check in plan.checks if not check.ok]
    if refused and not plan.forced:
        raise Refused(
            "pre-checks failed, nothing was changed: " + "; ".join(f"{c.name}: {c.detail}" for c in refused),
            next_steps=(plan.refusal_hint,) if plan.refusal_hint else (),
        )


def execute(ctx: Context, plan: Plan) -> Outcome:
    require_checks(plan)
    durations: dict[str, float] = {}
    measured: dict[str, float] = {}
    changing = False
    for step in plan.steps:
        ctx.say(f"→ {step.title}")
        changed_before = changing
        changing = changing or step.changes
        start = ctx.clock.monotonic()
        try:
            step.run()
        except (DrctlError, Unreachable, KeyboardInterrupt) as error:  # Ctrl-C in a long wait too: say what is running
            if not changing:
                raise
            if isinstance(error, Rejected) and not changed_before:
                # AWS refused the first change itself (e.g. InvalidGlobalClusterStateFault): nothing moved.
                raise Refused(f"AWS refused {step.title}: {error}; nothing was changed") from error
            reason = str(error) or "interrupted by the operator"
            message = reason if isinstance(error, WaitTimeout) else f"{step.title}: {reason}"
            raise OperationFailed(message, state=_state_now(plan, error), next_steps=plan.next_steps) from error
        durations[step.title] = ctx.clock.monotonic() - start
        if step.timed:
            measured[step.timed] = measured.get(step.timed, 0.0) + durations[step.title]
        ctx.say(f"  ✓ {durations[step.title]:.0f} s")
    return Outcome(durations, measured)


def switchover_plan(ctx: Context, region: str, timeout: float) -> Plan:
    topology, target, source = _promotion_target(ctx, region)
    return Plan(
        summary=f"switchover of {topology.identifier} from {source} to {region}: planned, no data loss (RPO 0)",
        checks=readiness(ctx, topology, target),
        steps=_promotion(ctx, target, source, allow_data_loss=False, timeout=timeout),
        state=partial(_topology_now, ctx, region),
        next_steps=_recovery(ctx, region, back_to=topology.writer),
        details={"from": source, "to": region},
    )


def failover_plan(ctx: Context, region: str, timeout: float) -> Plan:
    topology, target, source = _promotion_target(ctx, region)
    metric, lag = _read(
        lambda: aurora.data_loss_lag(ctx, target), (f"{aurora.RPO_LAG_METRIC} or {aurora.LAG_METRIC}", UNKNOWN)
    )
    rpo = (
        f"last measured {metric} {lag.show()} (at {lag.at})"
        if lag.value is not None
        else f"unknown: no {metric} datapoint for {target.identifier} in the last minutes"
    )
    # The writes given up survive only in the snapshot Aurora takes of the old primary's volume when its
    # region is back, and only for its backup retention: preserving it comes first (drctl/failback.py).
    keep = keep_lost_writes(ctx.stack, topology, region)
    # The ledger's lost postings are recovered at once, from the surviving DynamoDB (drctl/ledger.py).
    ledger = reconcile_ledger(ctx.stack)
    return Plan(
        summary=f"FAILOVER of {topology.identifier} from {source} to {region}: unplanned, writes not yet replicated are lost",
        checks=[_cluster_available(ctx, target)],
        steps=[
            *_promotion(ctx, target, source, allow_data_loss=True, timeout=timeout),
            Step(
                "next: what to run when the old primary's region is back",
                partial(announce, ctx.say, keep),
                changes=False,
            ),
            Step("next: reconcile the ledger", partial(announce, ctx.say, ledger), changes=False),
        ],
        state=partial(_topology_now, ctx, region),
        next_steps=(
            *_recovery(ctx, region, back_to=None),
            f"retry if {region} is still not the writer: {ctx.stack.command(f'failover --to {region} --allow-data-loss')}",
            *keep,
            *ledger,
        ),
        notes=[f"RPO accepted: {rpo}"],
        details={
            "from": source,
            "to": region,
            "rpo_accepted_ms": lag.value,
            "lag_metric": metric,
            "lag_measured_at": lag.at,
        },
    )


def drill_plan(ctx: Context, region: str | None, timeout: float) -> Plan:
    """Switchover to a secondary and back, each direction's RTO measured."""
    topology = aurora.read_topology(ctx, prefer=region)
    home = topology.writer
    if home is None:
        raise Refused(f"no writer in {topology.describe()}: not the time for a drill")
    region = region or next((r for r in ctx.stack.regions if topology.member(r) and r != home.region), None)
    if region is None:
        raise Refused(f"no secondary to drill with in {topology.identifier}")
    target = aurora.promotable(topology, region)
    out, back = f"{home.region} → {region}", f"{region} → {home.region}"
    ready_again = Step(
        f"wait until {home.region} is ready to take the writer role back",
        partial(_wait_ready, ctx, home, timeout),
        changes=False,
    )
    return Plan(
        summary=f"drill: switchover {out}, then {back}; RTO measured in each direction",
        checks=readiness(ctx, topology, target),
        steps=[
            *_promotion(ctx, target, home.region, allow_data_loss=False, timeout=timeout),
            ready_again,
            *_promotion(ctx, home, region, allow_data_loss=False, timeout=timeout),
        ],
        state=partial(_topology_now, ctx, region),
        next_steps=_recovery(ctx, region, back_to=home),
        details={"home": home.region, "to": region},
    )


def dns_plan(ctx: Context, region: str | None) -> Plan:
    """Forces traffic to `region` (None: releases every override). Idempotent: unchanged checks are skipped."""
    checks = _read_or_refuse(lambda: dns.routing_checks(ctx))
    wanted = {r: _override(region, r) for r in checks}
    # The target first: it is always healthy before the others turn unhealthy, never all at once.
    order = sorted(checks, key=lambda r: r != region)
    steps = [
        Step(
            f"set {checks[r].name}: {dns.describe_flags(wanted[r])}",
            partial(dns.set_flags, ctx, checks[r], wanted[r]),
            changes=True,
        )
        for r in order
        if checks[r].flags != wanted[r]
    ]
    verify = Step(
        "read back the flags and the route of " + ctx.stack.cfg.domain_name,
        partial(_verify_dns, ctx, wanted),
        changes=False,
    )
    already = [
        f"{checks[r].name} is already {dns.describe_flags(wanted[r])}" for r in order if checks[r].flags == wanted[r]
    ]
    summary = f"force traffic for {ctx.stack.cfg.domain_name} to {region}" if region else "release every DNS override"
    return Plan(
        summary=f"{summary} (no data moves; clients follow within the record TTL, {ctx.stack.cfg.dns_ttl_seconds} s, plus resolver caching)",
        checks=[],
        steps=[*steps, verify],
        state=partial(_flags_now, ctx),
        next_steps=(
            f"re-run: {ctx.stack.command(f'dns --to {region}' if region else 'dns --release')}",
            f"undo: {ctx.stack.command('dns --release')}",
        ),
        notes=already,
        details={"to": region, "changed": [checks[r].name for r in order if checks[r].flags != wanted[r]]},
    )


def readiness(ctx: Context, topology: Topology, target: Member) -> list[Check]:
    """What a switchover to `target` needs: a quiet global cluster, low lag, an available cluster, a healthy region."""
    threshold = ctx.stack.cfg.replication_lag_threshold_ms
    return [
        Check("global cluster", topology.status == aurora.AVAILABLE and not topology.in_flight, topology.describe()),
        _guarded("replication lag", lambda: _lag_check(ctx, target, threshold)),
        _cluster_available(ctx, target),
        _guarded(f"{target.region} health check", lambda: _region_health(ctx, target.region)),
    ]


def _promotion(ctx: Context, target: Member, source: str, *, allow_data_loss: bool, timeout: float) -> list[Step]:
    label = f"{source} → {target.region}"
    return [
        Step(
            aurora.promote_command(ctx, target, allow_data_loss=allow_data_loss),
            partial(aurora.promote, ctx, target, allow_data_loss=allow_data_loss),
            changes=True,
            timed=label,
        ),
        Step(
            f"wait until {target.region} is the writer{'' if allow_data_loss else ' and the global cluster available'} (timeout {timeout:.0f} s)",
            partial(aurora.wait_for_writer, ctx, target.region, timeout, whole=not allow_data_loss),
            changes=False,
            timed=label,
        ),
    ]


def _wait_ready(ctx: Context, member: Member, timeout: float) -> None:
    def read() -> list[Check]:
        topology = aurora.read_topology(ctx, prefer=member.region)
        return readiness(ctx, topology, aurora.promotable(topology, member.region))

    wait_for(
        f"{member.region} to be ready",
        read,
        lambda checks: all(c.ok for c in checks),
        lambda checks: "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok) or "ready",
        timeout=timeout,
        clock=ctx.clock,
        say=ctx.say,
    )


def _verify_dns(ctx: Context, wanted: dict[str, dns.Flags]) -> None:
    checks = wait_for(
        "the health-check flags",
        lambda: dns.routing_checks(ctx),
        lambda found: all(found[r].flags == wanted[r] for r in wanted),
        lambda found: ", ".join(f"{r} {dns.describe_flags(c.flags)}" for r, c in found.items()),
        timeout=DNS_VERIFY_TIMEOUT,
        clock=ctx.clock,
        say=ctx.say,
    )
    measured, unreadable = dns.read_health(ctx, [c for c in checks.values() if not c.overridden])
    route = dns.resolve(
        dns.failover_records(ctx),
        {c.id: c.effective(measured.get(c.id)) for c in checks.values()},
        ctx.stack.cfg.domain_name,
        unreadable,
    )
    for hop in route.path:
        ctx.say(f"  {hop}")
    ctx.say(f"  traffic goes to: {route.region or route.unknown or 'unresolved'}")


def _override(target: str | None, region: str) -> dns.Flags:
    if target is None:
        return dns.NORMAL
    return dns.ALWAYS_HEALTHY if region == target else dns.ALWAYS_UNHEALTHY


def _lag_check(ctx: Context, target: Member, threshold: int) -> tuple[bool, str]:
    metric, lag = aurora.data_loss_lag(ctx, target)
    return (
        lag.value is not None and lag.value < threshold,
        f"{target.identifier}: {metric} {lag.show()} (threshold {threshold} ms)",
    )


def _region_health(ctx: Context, region: str) -> tuple[bool, str]:
    """Known unhealthy refuses; unknown passes with a warning. Route 53's health is read in us-east-1
    (the API, and the only HealthCheckStatus metrics), so it goes unread when us-east-1 degrades:
    refusing then would leave only a failover, which loses data, while the primary still answers."""
    try:
        check = dns.routing_checks(ctx)[region]
    except Unreachable as error:
        detail, healthy, why = (
            f"{ctx.stack.health_check(ROUTING_CHECK, region)}: unknown",
            None,
            f"the check could not be read ({error})",
        )
    else:
        measured, unreadable = dns.read_health(ctx, [check])
        healthy = check.effective(measured.get(check.id))
        flags = "" if not check.overridden else f", {dns.describe_flags(check.flags)}"
        detail, why = f"{check.name}: {dns.health_word(healthy)}{flags}", unreadable.get(check.id, "no verdict")
    if healthy is None:
        return True, (
            f"{detail}; WARNING: health not verified: {why}. Passed because it is not known to be unhealthy; "
            f"if {region} is in fact failing, the new writer will be there: check {region}'s API and database before confirming"
        )
    return healthy is True, detail


def _cluster_available(ctx: Context, member: Member) -> Check:
    def read() -> tuple[bool, str]:
        status = aurora.cluster_status(ctx, member)
        return status == aurora.AVAILABLE, f"{member.identifier} {status}"

    return _guarded(f"{member.region} cluster", read)


def _guarded(name: str, read: Callable[[], tuple[bool, str]]) -> Check:
    try:
        ok, detail = read()
    except Unreachable as error:
        return Check(name, False, str(error))
    return Check(name, ok, detail)


def _read(read: Callable[[], T], default: T) -> T:
    try:
        return read()
    except Unreachable:
        return default


def _read_or_refuse(read: Callable[[], dict[str, dns.HealthCheck]]) -> dict[str, dns.HealthCheck]:
    try:
        return read()
    except Unreachable as error:
        raise Refused(f"cannot read the {ROUTING_CHECK} health checks: {error}") from error


def _promotion_target(ctx: Context, region: str) -> tuple[Topology, Member, str]:
    """The global cluster now (asked in the target region first), the member to promote, the writer's region."""
    topology = aurora.read_topology(ctx, prefer=region)
    target = aurora.promotable(topology, region)
    return topology, target, topology.writer.region if topology.writer else "no writer"


def _topology_now(ctx: Context, prefer: str | None) -> str:
    topology = aurora.read_topology(ctx, prefer=prefer)
    members = ", ".join(f"{m.region} ({'writer' if m.is_writer else 'secondary'})" for m in topology.members)
    return f"{topology.describe()}; members: {members}"


def _flags_now(ctx: Context) -> str:
    return ", ".join(f"{c.name}: {dns.describe_flags(c.flags)}" for c in dns.routing_checks(ctx).values())


def _state_now(plan: Plan, error: Exception) -> str:
    try:
        return plan.state()
    except (DrctlError, Unreachable) as unreadable:
        return getattr(error, "state", None) or f"could not read the state now: {unreadable}"


def _recovery(ctx: Context, region: str, back_to: Member | None) -> tuple[str, ...]:
    """What to run after a failure: watch, read with the AWS CLI, and switch back to `back_to` if given."""
    steps = [
        f"watch (AWS carries on with a started operation): {ctx.stack.command('status')}",
        f"AWS CLI: aws rds describe-global-clusters --region {region} --global-cluster-identifier {ctx.stack.global_cluster}",
    ]
    if back_to:
        steps.append(
            f"roll back once the global cluster is available: {ctx.stack.command(f'switchover --to {back_to.region}')}"
        )
    return tuple(steps)
