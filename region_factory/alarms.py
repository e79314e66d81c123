"""Every CloudWatch alarm of the program is an ``AlarmSpec`` declared by ``declare_alarm``.

A spec is data: what the alarm watches, when it fires, how missing data counts and whom it notifies. The
one declaring function turns it into the one ``aws.cloudwatch.MetricAlarm`` call of the program
(tests/infra/test_alarms.py scans the source tree for others). Where an alarm lives (its provider and
parent), its logical name and its physical name (core/naming.py) are the caller's; the names shared with
drctl and the plan are in core/alarms.py.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


class Actions(enum.Enum):
    """Whom the alarm tells about its state changes."""

    NOTIFY = "ALARM and OK to one topic"  # pages: both ways, so a recovery is announced as well
    NONE = "no actions"  # watched by something else only (a Route 53 health check), never pages


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    """One alarm as data. Exactly one of ``statistic`` and ``extended_statistic`` (a percentile, "p99")."""

    key: str  # the "<what>" of its name; the logical name of the alarms declared per region (monitoring.py)
    description: str
    namespace: str
    metric: str
    dimensions: Mapping[str, pulumi.Input[str]]
    period: int
    comparison: str
    threshold: pulumi.Input[float]
    missing_data: str
    statistic: str | None = None
    extended_statistic: str | None = None
    datapoints: int = 1
    evaluation_periods: int = 0  # 0: as many as datapoints (N of N)
    actions: Actions = Actions.NOTIFY

    def __post_init__(self) -> None:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError(f"alarm {self.key!r}: give exactly one of statistic and extended_statistic")
        if self.datapoints < 1 or self.evaluation_periods < 0 or self.evaluations < self.datapoints:
            raise ValueError(
                f"alarm {self.key!r}: datapoints={self.datapoints} of evaluation_periods={self.evaluation_periods}: "
                "need 1 <= datapoints <= evaluation periods"
            )

    @property
    def evaluations(self) -> int:
        return self.evaluation_periods or self.datapoints


def declare_alarm(
    spec: AlarmSpec, *, logical: str, name: str, topic_arn: pulumi.Input[str] | None, opts: pulumi.ResourceOptions
) -> aws.cloudwatch.MetricAlarm:
    """The one place an alarm is created. ``Actions.NOTIFY`` sends ALARM and OK to ``topic_arn``;
    ``Actions.NONE`` takes no topic, so an alarm that must not page cannot be given one by mistake."""
    if spec.actions is Actions.NOTIFY and topic_arn is None:
        raise ValueError(f"alarm {name!r} notifies: give the topic it sends ALARM and OK to")
    if spec.actions is Actions.NONE and topic_arn is not None:
        raise ValueError(f"alarm {name!r} has no actions (Actions.NONE): give no topic")
    actions = [topic_arn] if spec.actions is Actions.NOTIFY else None
    return aws.cloudwatch.MetricAlarm(
        logical,
        name=name,
        alarm_description=spec.description,
        namespace=spec.namespace,
        metric_name=spec.metric,
        dimensions=dict(spec.dimensions),
        statistic=spec.statistic,
        extended_statistic=spec.extended_statistic,
        period=spec.period,
        evaluation_periods=spec.evaluations,
        datapoints_to_alarm=spec.datapoints,
        comparison_operator=spec.comparison,
        threshold=spec.threshold,
        treat_missing_data=spec.missing_data,
        alarm_actions=actions,
        ok_actions=actions,
        opts=opts,
    )
