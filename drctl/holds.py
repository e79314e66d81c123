"""Routing holds through CloudWatch alone: Route 53's data plane does the rest (core/routing.py).

A region R is held out of routing while the hold alarm ``payment-routing-hold-<R>-<suffix>`` is in
ALARM in any other region (the holder regions): each holder's alarm backs one child of R's
CALCULATED ``region`` check, so one alarm in ALARM is enough to make R unhealthy for the failover
records. Holding needs PutMetricData in one region that answers; releasing needs a 0 in every
holder region, since a hold left in one keeps R out. The alarms treat missing data as ``ignore``
(their state is kept), so nobody has to keep publishing. No Route 53 API is called: this works with
Route 53's control plane (us-east-1) down (Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html,
"control and data plane"; health checks on CloudWatch alarms:
Route53/latest/DeveloperGuide/health-checks-types.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core import routing
from drctl.aws import Unreachable
from drctl.context import Context

HELD_STATE = "ALARM"


@dataclass(frozen=True)
class Hold:
    """One hold alarm: `held` as watched in `holder`."""

    held: str
    holder: str
    alarm: str
    state: str | None  # ALARM | OK | INSUFFICIENT_DATA; None: not read (why says why)
    why: str | None = None

    @property
    def holding(self) -> bool | None:
        """ALARM holds; OK and INSUFFICIENT_DATA (never set: the health check's LastKnownStatus) do not."""
        return None if self.state is None else self.state == HELD_STATE


@dataclass(frozen=True)
class RegionHold:
    region: str
    holds: tuple[Hold, ...]

    @property
    def held(self) -> bool | None:
        """True when any holder holds it; None when none does but some could not be read."""
        if any(h.holding for h in self.holds):
            return True
        return None if any(h.holding is None for h in self.holds) else False

    def describe(self) -> str:
        by = [h.holder for h in self.holds if h.holding]
        unread = [f"{h.holder} ({h.why})" for h in self.holds if h.holding is None]
        if by:
            return f"{self.region} HELD by the hold alarm in {', '.join(by)}"
        if unread:
            return f"{self.region} hold unknown: not read in {'; '.join(unread)}"
        return f"{self.region} not held"


def read(ctx: Context) -> dict[str, RegionHold]:
    """Every region's hold, from DescribeAlarms in each holder region (one call per region)."""
    found: dict[tuple[str, str], Hold] = {}
    for holder in ctx.stack.regions:
        names = {ctx.stack.hold_alarm(held): held for held in ctx.stack.regions if held != holder}
        try:
            answer = ctx.clients.call(
                "cloudwatch", holder, "describe_alarms", AlarmNames=list(names), AlarmTypes=["MetricAlarm"]
            )
        except Unreachable as error:
            for name, held in names.items():
                found[(held, holder)] = Hold(held, holder, name, None, f"CloudWatch did not answer: {error}")
            continue
        states = {alarm["AlarmName"]: alarm["StateValue"] for alarm in answer.get("MetricAlarms", [])}
        for name, held in names.items():
            found[(held, holder)] = Hold(
                held, holder, name, states.get(name), None if name in states else f"alarm {name} not found"
            )
    return {
        held: RegionHold(held, tuple(found[(held, h)] for h in ctx.stack.holders(held))) for held in ctx.stack.regions
    }


def publish(ctx: Context, held: str, value: float) -> dict[str, str]:
    """RegionHeldOut{Region=held}=value in every holder region; each holder's result ("published" or why not).

    A release (0) is also stamped at the start of the next minute: the alarm takes the minute's Maximum, so a 1
    published earlier in this minute (by the canary) would otherwise keep this minute, and the hold, at 1.
    CloudWatch accepts datapoints up to two hours into the future (AmazonCloudWatch/latest/monitoring/
    cloudwatch_concepts.html, "Time stamps").
    """
    now = datetime.now(UTC)
    stamps = [now] if value == routing.HELD else [now, now.replace(second=0, microsecond=0) + timedelta(minutes=1)]
    data = [
        {
            "MetricName": routing.HELD_OUT_METRIC,
            "Dimensions": [{"Name": routing.HELD_OUT_DIMENSION, "Value": held}],
            "Value": value,
            "Timestamp": stamp,
        }
        for stamp in stamps
    ]
    results = {}
    for holder in ctx.stack.holders(held):
        try:
            ctx.clients.call(
                "cloudwatch", holder, "put_metric_data", Namespace=routing.ROUTING_NAMESPACE, MetricData=data
            )
            results[holder] = "published"
        except Unreachable as error:
            results[holder] = f"not published: {error}"
    return results


def metric_line(held: str) -> str:
    return f"{routing.ROUTING_NAMESPACE} {routing.HELD_OUT_METRIC} {{{routing.HELD_OUT_DIMENSION}={held}}}"
