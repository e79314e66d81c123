"""The outage simulation on small synthetic stacks (tests/plan/sim_stack.py): AWS's documented semantics one
by one, then every scenario on the routing contract (as designed) and on the design it replaces (the
simulation must name issue 13's blockers there)."""

from __future__ import annotations

import dataclasses

import pytest

from plan import scenarios, simulate
from plan.simulate import ALARM_STATE, INSUFFICIENT, OK, Alarm, Outage
from tests.plan import sim_stack

PRIMARY, DR, THIRD = "us-east-1", "us-east-2", "us-west-2"


def alarm(missing: str, datapoints: int = 1, evaluations: int = 1, statistic: str = "Average") -> Alarm:
    return Alarm(
        "a", PRIMARY, "ns", "m", (), statistic, 60, evaluations, datapoints, 0.5, "LessThanThreshold", missing, ()
    )


@pytest.mark.parametrize(
    "missing,state,periods,expected",
    [
        ("breaching", OK, [[]], ALARM_STATE),
        ("notBreaching", ALARM_STATE, [[]], OK),
        ("ignore", ALARM_STATE, [[]], ALARM_STATE),  # the state is kept
        ("ignore", OK, [[]], OK),
        ("missing", OK, [[]], INSUFFICIENT),
        ("missing", OK, [[1.0, 0.0, 0.0]], ALARM_STATE),  # Average 1/3 < 0.5
        ("breaching", ALARM_STATE, [[1.0, 1.0, 0.0]], OK),
    ],
)
def test_an_alarm_treats_missing_data_as_configured(missing, state, periods, expected):
    assert simulate.evaluate_alarm(alarm(missing), state, periods) == expected


def test_m_out_of_n_needs_m_breaching_datapoints():
    two_of_three = alarm("notBreaching", datapoints=2, evaluations=3)
    assert simulate.evaluate_alarm(two_of_three, OK, [[0.0], [1.0], []]) == OK
    assert simulate.evaluate_alarm(two_of_three, OK, [[0.0], [1.0], [0.0]]) == ALARM_STATE
    assert simulate.evaluate_alarm(alarm("breaching", 2, 3), OK, [[0.0], [1.0], []]) == ALARM_STATE


def test_an_unmodelled_statistic_is_refused_by_name():
    with pytest.raises(simulate.SimulationError, match="statistic 'p99'"):
        simulate.evaluate_alarm(alarm("missing", statistic="p99"), OK, [[1.0]])


def flips(run, name):
    return [(t, healthy) for t, check, healthy in run.check_flips if check == name and t >= 0]


@pytest.mark.parametrize("interval,threshold", [(10, 3), (30, 3), (10, 1)])
def test_an_https_check_fails_once_more_than_82_percent_of_checkers_saw_threshold_failures(interval, threshold):
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR], interval=interval, threshold=threshold))
    for phase in range(0, 60, 7):
        run = simulate.play(model, [Outage(simulate.API, PRIMARY, 0)], duration=300, phase=phase)
        [(t, healthy)] = flips(run, "payment-health-api-us-east-1-dev")
        assert not healthy and (threshold - 1) * interval <= t <= threshold * interval


def test_a_calculated_check_needs_its_threshold_of_healthy_children_and_disabled_inverted_forces_it():
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR]))
    region = model.check_named("payment-health-region-us-east-1-dev")
    assert region.child_threshold == 2 and len(region.children) == 2
    # drctl dns: Disabled + Inverted is "always unhealthy" (Disabled alone is always healthy).
    model.checks[region.id] = dataclasses.replace(region, disabled=True, inverted=True)
    run = simulate.play(model, [], duration=60)
    assert run.answers[model.public_name][-1][1] == DR
    model.checks[region.id] = dataclasses.replace(region, disabled=True)
    run = simulate.play(model, [Outage(simulate.API, PRIMARY, 0)], duration=300)
    assert all(region == PRIMARY for _, region in run.answers[model.public_name])


def test_a_hold_without_data_is_healthy_and_a_set_hold_outlives_the_holder_going_quiet():
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR]))
    run = simulate.play(model, [Outage(simulate.REGION, PRIMARY, 0, 900)], duration=1500)
    hold = "payment-health-hold-us-east-1-us-east-2-dev"
    assert [healthy for _, healthy in flips(run, hold)] == [False]  # set once, never released (missing data: ignore)
    assert run.answers[model.public_name][-1][1] == DR


def test_with_every_record_unhealthy_route53_answers_the_primary():
    """The blocker of issue 13 on the design it replaces: the DR region's check needs the Aurora probe."""
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR], contract=False))
    result = scenarios.run_scenario(model, scenarios.scenario("dr-probe-outage-during-primary-loss"))
    _, rto = result.worst_api
    assert rto > scenarios.GOAL_SECONDS
    run = result.worst
    assert run.answer_at(model.public_name, 300) == PRIMARY and not run.world.serving(PRIMARY, 300)


def test_the_replaced_design_fails_back_on_its_own_and_pages_nobody_from_the_survivor():
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR], contract=False))
    assert any("canary" in gap for gap in model.gaps)
    back = scenarios.run_scenario(model, scenarios.scenario("primary-recovery-after-an-hour"))
    assert any("on its own" in p for p in back.problems())
    lost = scenarios.run_scenario(model, scenarios.scenario("primary-region-lost"))
    assert any("nobody is paged" in p for p in lost.problems())


@pytest.mark.parametrize("regions", [[PRIMARY, DR], [PRIMARY, DR, THIRD]], ids=["two", "three"])
def test_every_scenario_on_the_contract_is_as_designed(regions):
    model = simulate.build_model(sim_stack.stack(regions))
    assert model.chain == tuple(regions) and model.gaps == []
    results = scenarios.run_all(model)
    assert {r.scenario.key: r.problems() for r in results} == {r.scenario.key: [] for r in results}
    summary = scenarios.figures(results, model)
    assert summary.goal_met and summary.api_seconds <= scenarios.GOAL_SECONDS
    for result in results:
        for run in result.plays.values():
            assert not scenarios.returns_to_down_region(run)
            if result.scenario.pages:
                assert any(
                    page.topic_region != PRIMARY for page in scenarios.pages_during_incident(run)
                ) or result.scenario.key in ("primary-api-lost", "primary-database-lost")


def test_a_cloudwatch_outage_pages_from_the_survivor_only_through_the_canarys_cloudwatch_check():
    outage = scenarios.scenario("primary-cloudwatch-outage")
    watched = scenarios.run_scenario(simulate.build_model(sim_stack.stack([PRIMARY, DR])), outage)
    assert watched.problems() == []
    for run in watched.plays.values():
        [first] = [p for p in scenarios.pages_from_up_regions(run) if p.t < 1800]
        assert (first.alarm, first.alarm_region, first.topic_region) == (
            "payment-canary-cloudwatch-us-east-1-dev",
            DR,
            DR,
        )
        assert first.t <= 120
        assert not [f for f in flips(run, "payment-health-hold-us-east-1-us-east-2-dev")]  # never a hold
    blind = scenarios.run_scenario(simulate.build_model(sim_stack.stack([PRIMARY, DR], CLOUDWATCH_ALARMS="{}")), outage)
    assert any("nobody is paged" in p for p in blind.problems())


def test_the_canary_holds_only_after_its_failure_threshold_within_an_invocation():
    slow = simulate.build_model(sim_stack.stack([PRIMARY, DR], FAILURE_THRESHOLD="6"))
    fast = simulate.build_model(sim_stack.stack([PRIMARY, DR], FAILURE_THRESHOLD="1"))
    hold = "payment-health-hold-us-east-1-us-east-2-dev"

    def held_at(model):
        run = simulate.play(model, [Outage(simulate.REGION, PRIMARY, 0)], duration=600, phase=0)
        return flips(run, hold)[0][0]

    assert held_at(fast) < held_at(slow)


def test_dns_ttls_come_from_the_records_and_alias_targets():
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR, THIRD]))
    run = simulate.play(model, [], duration=10)
    assert run.ttls == {sim_stack.PUBLIC: simulate.ALIAS_TTL_SECONDS, sim_stack.WRITER: 60}


def test_clients_settle_one_ttl_after_the_last_bad_answer():
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR]))
    run = simulate.play(model, [Outage(simulate.REGION, PRIMARY, 0)], duration=400)
    moved = next(t for t, region in run.answers[model.public_name] if t >= 0 and region == DR)
    assert scenarios.settled(run, model.public_name, scenarios._good_api) == moved - 1 + run.ttls[model.public_name]


def test_bad_input_is_named():
    model = simulate.build_model(sim_stack.stack([PRIMARY, DR]))
    with pytest.raises(simulate.SimulationError, match="outage component 'dns'"):
        Outage("dns", PRIMARY, 0)
    with pytest.raises(simulate.SimulationError, match="eu-west-1: not a region of the stack"):
        simulate.play(model, [Outage(simulate.REGION, "eu-west-1", 0)], duration=10)
    with pytest.raises(simulate.SimulationError, match="unknown scenario 'meteor'"):
        scenarios.scenario("meteor")
    broken = sim_stack.stack([PRIMARY, DR])
    next(r for r in broken.resources if r.type == sim_stack.HC and r.inputs["type"] == "CLOUDWATCH_METRIC").inputs[
        "cloudwatchAlarmName"
    ] = "nope"
    with pytest.raises(simulate.SimulationError, match="its alarm nope in"):
        simulate.play(simulate.build_model(broken), [], duration=5)
