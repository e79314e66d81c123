"""Moving traffic through Route 53's data plane: `dns --to` holds regions out, `failback` and
`dns --release` let one back in, behind the drain gate (drctl/drain.py).

Mechanisms: CloudWatch holds always (drctl/holds.py: PutMetricData in the holder regions, no Route 53
API); with routingControl "arc", the ARC routing controls too (drctl/arc.py). The Route 53 health-check
flags (`dns --route53`, actions.dns_plan) remain a fallback that needs Route 53's control plane.
"""

from __future__ import annotations

from functools import partial

from core import routing
from drctl import arc, drain, holds
from drctl.actions import Check, Plan, Step
from drctl.aws import Unreachable
from drctl.context import Context
from drctl.errors import Refused

# A hold or release reaches Route 53 when the hold alarm next evaluates (its 60 s period) and then the hold
# health check's next reading (healthCheckIntervalSeconds, times the failure threshold to turn unhealthy).
ALARM_NOTE = (
    "Route 53 acts once each hold alarm has evaluated the new datapoint (within its {period} s period) "
    "and the hold health checks have read the alarm; clients follow within the record TTL, {ttl} s, plus resolver caching"
)


def hold_plan(ctx: Context, target: str) -> Plan:
    """Sends traffic to `target` by holding every region ahead of it in the chain."""
    now = _read_holds(ctx)
    ahead = routing.chain_ahead(ctx.stack.regions, target)
    checks = [
        Check(
            f"{target} is not held",
            now[target].held is not True,
            now[target].describe()
            + (
                ""
                if now[target].held is not True
                else f": release it first, behind the drain gate: {ctx.stack.command(f'failback --to {target}')}"
            ),
        )
    ]
    steps = [
        Step(
            f"hold {region}: publish {holds.metric_line(region)} = 1 in {', '.join(ctx.stack.holders(region))}",
            partial(_hold, ctx, region),
            changes=True,
        )
        for region in ahead
    ]
    mechanisms, notes = _finish(ctx, steps, {target: arc.ON, **{region: arc.OFF for region in ahead}})
    notes += [f"{now[region].describe()} already" for region in ahead if now[region].held]
    if not ahead:
        notes.append(f"{target} is first in the chain: nothing to hold")
    return Plan(
        summary=f"send traffic for {ctx.stack.cfg.domain_name} to {target}: hold {', '.join(ahead) or 'nothing'} (no data moves)",
        checks=checks,
        steps=steps,
        state=partial(_holds_now, ctx),
        next_steps=(
            f"re-run: {ctx.stack.command(f'dns --to {target}')}",
            f"undo, behind the drain gate: {ctx.stack.command(f'failback --to {ctx.stack.cfg.primary.name}')}",
        ),
        notes=notes,
        details={"to": target, "hold": list(ahead), "mechanism": mechanisms},
    )


def _finish(ctx: Context, steps: list[Step], arc_states: dict[str, str]) -> tuple[list[str], list[str]]:
    """What every traffic plan ends with: the ARC routing controls (routingControl "arc"), then a read-back
    of the hold alarms; returns the mechanisms used and the notes that name them."""
    mechanisms = ["CloudWatch holds"]
    if arc.enabled(ctx) and arc_states:
        steps.append(
            Step(
                f"ARC: set {arc.describe(arc_states, ctx)} (UpdateRoutingControlStates)",
                partial(arc.set_states, ctx, arc_states),
                changes=True,
            )
        )
        mechanisms.append("ARC routing controls")
    steps.append(Step("read back the hold alarms", partial(_show_holds, ctx), changes=False))
    return mechanisms, [f"mechanism: {' and '.join(mechanisms)}; no Route 53 API is called", _alarm_note(ctx)]


def release_plan(ctx: Context, targets: list[str] | None, *, force: bool, command: str) -> Plan:
    """Releases the hold on each target (None: every region held, or whose hold cannot be read), behind the gate."""
    now = _read_holds(ctx)
    chosen = targets if targets is not None else [r for r in ctx.stack.regions if now[r].held is not False]
    checks: list[Check] = []
    undrained: list[str] = []
    for target in chosen:
        unread = [f"{h.holder} ({h.why})" for h in now[target].holds if h.holding is None]
        checks.append(
            Check(
                f"hold on {target} readable in every holder region",
                not unread,
                "yes" if not unread else f"not in {'; '.join(unread)}: a hold left there keeps {target} out",
            )
        )
        for reading in drain.gate(ctx, target):
            checks.append(Check(reading.name, reading.ok, reading.detail()))
            undrained += [f"{reading.name}: {item.line()}" for item in reading.items if item.ok is False]
    steps = [
        Step(
            f"release {target}: publish {holds.metric_line(target)} = 0 in {', '.join(ctx.stack.holders(target))}",
            partial(_release, ctx, target),
            changes=True,
        )
        for target in chosen
    ]
    mechanisms, notes = _finish(ctx, steps, {target: arc.ON for target in chosen})
    if not chosen:
        notes.append("no region is held: nothing to release")
    if force and undrained:
        notes.append("--force: releasing although the gate refuses: " + "; ".join(undrained))
    where = ", ".join(chosen) or "nothing"
    return Plan(
        summary=f"release the hold on {where}: traffic for {ctx.stack.cfg.domain_name} may go there again (no data moves)",
        checks=checks,
        steps=steps,
        state=partial(_holds_now, ctx),
        next_steps=(f"watch: {ctx.stack.command('status')}", f"re-run: {command}"),
        notes=notes,
        forced=force,
        refusal_hint=f"wait for replication to drain and the region to serve, then re-run: {command}; or release anyway with --force",
        details={"release": chosen, "forced": force, "undrained": undrained, "mechanism": mechanisms},
    )


def _hold(ctx: Context, region: str) -> None:
    results = holds.publish(ctx, region, routing.HELD)
    _report(ctx, results)
    if not any(result == "published" for result in results.values()):
        raise Unreachable(
            f"the hold on {region} was published nowhere: " + "; ".join(f"{h}: {r}" for h, r in results.items())
        )


def _release(ctx: Context, region: str) -> None:
    results = holds.publish(ctx, region, routing.RELEASED)
    _report(ctx, results)
    stuck = {holder: result for holder, result in results.items() if result != "published"}
    if stuck:  # one hold left anywhere keeps the region out
        raise Unreachable(
            f"{region} stays held: the release did not reach " + "; ".join(f"{h} ({r})" for h, r in stuck.items())
        )


def _report(ctx: Context, results: dict[str, str]) -> None:
    for holder, result in results.items():
        ctx.say(f"  {holder}: {result}")


def _show_holds(ctx: Context) -> None:
    for region, hold in holds.read(ctx).items():
        states = ", ".join(f"{h.holder} {h.state or 'unread'}" for h in hold.holds)
        ctx.say(f"  {hold.describe()} [alarm {ctx.stack.hold_alarm(region)}: {states}]")


def _holds_now(ctx: Context) -> str:
    return "; ".join(hold.describe() for hold in holds.read(ctx).values())


def _read_holds(ctx: Context) -> dict[str, holds.RegionHold]:
    try:
        return holds.read(ctx)
    except Unreachable as error:  # read() turns each region's failure into an unread hold; this is the unforeseen rest
        raise Refused(f"cannot read the hold alarms: {error}") from error


def _alarm_note(ctx: Context) -> str:
    return ALARM_NOTE.format(period=routing.HOLD_PERIOD_SECONDS, ttl=ctx.stack.cfg.dns_ttl_seconds)
