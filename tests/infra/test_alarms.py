"""Every alarm is an AlarmSpec declared by region_factory/alarms.py's declare_alarm (issue 16, point 3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core import alarms as names
from plan import engine
from region_factory.alarms import Actions, AlarmSpec, declare_alarm

ROOT = Path(__file__).resolve().parents[2]
CONSTRUCTOR = "MetricAlarm" + "("  # split so this file is not a hit of its own scan
SKIPPED = {".venv", ".git", "build", "node_modules", "__pycache__"}


def spec(**changes) -> AlarmSpec:
    fields = dict(
        key="k",
        description="d",
        namespace="N",
        metric="M",
        dimensions={},
        statistic="Sum",
        period=60,
        comparison="GreaterThanThreshold",
        threshold=0,
        missing_data="notBreaching",
    )
    return AlarmSpec(**{**fields, **changes})


def test_metric_alarm_is_constructed_in_one_place_only() -> None:
    hits = []
    for path in ROOT.rglob("*.py"):
        if SKIPPED.intersection(path.relative_to(ROOT).parts):
            continue
        hits += [
            f"{path.relative_to(ROOT)}:{n}"
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if CONSTRUCTOR in line
        ]
    assert hits == [f"region_factory/alarms.py:{_line_of_constructor()}"], hits


def _line_of_constructor() -> int:
    lines = (ROOT / "region_factory" / "alarms.py").read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if CONSTRUCTOR in line)


def test_specs_are_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        AlarmSpec("k", "d", "N", "M", {}, 60, "GreaterThanThreshold", 0, "notBreaching", "Sum")  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec().threshold = 1  # type: ignore[misc]


@pytest.mark.parametrize("changes", [dict(statistic=None), dict(extended_statistic="p99")])
def test_exactly_one_statistic(changes) -> None:
    with pytest.raises(ValueError, match="exactly one of statistic and extended_statistic"):
        spec(**changes)


@pytest.mark.parametrize("changes", [dict(datapoints=0), dict(datapoints=3, evaluation_periods=2)])
def test_datapoints_fit_the_evaluation_periods(changes) -> None:
    with pytest.raises(ValueError, match="datapoints="):
        spec(**changes)


def test_a_percentile_alarm_is_a_spec() -> None:
    assert spec(statistic=None, extended_statistic="p99").evaluations == 1
    assert spec(datapoints=3, evaluation_periods=5).evaluations == 5


def test_the_actions_policy_decides_whether_a_topic_is_given() -> None:
    import pulumi

    opts = pulumi.ResourceOptions()
    with pytest.raises(ValueError, match="notifies: give the topic"):
        declare_alarm(spec(), logical="x", name="payment-x", topic_arn=None, opts=opts)
    with pytest.raises(ValueError, match=r"no actions \(Actions.NONE\): give no topic"):
        declare_alarm(spec(actions=Actions.NONE), logical="x", name="payment-x", topic_arn="arn:topic", opts=opts)


def test_alarms_without_actions_are_only_the_writability_alarms(dev: engine.Evaluation) -> None:
    """Every alarm pages through a topic both ways, except db-writable, in ALARM by design in a secondary."""
    alarms = dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    probed = sorted(a.region for a in alarms if a.inputs["name"] == f"payment-{names.DB_REACHABLE}-dev")
    silent = sorted((a.region, a.inputs["name"]) for a in alarms if not a.inputs.get("alarmActions"))
    assert len(probed) == 2 and silent == [(region, f"payment-{names.DB_WRITABLE}-dev") for region in probed]
    for alarm in alarms:
        if alarm.inputs.get("alarmActions"):
            assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] and len(alarm.inputs["alarmActions"]) == 1
