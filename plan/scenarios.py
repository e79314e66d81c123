"""Named outage scenarios played on the evaluated stack (plan/simulate.py), what they show, and the worst
case the recovery budget takes its RTOs from (plan/budget.py, docs/recovery-budget.md).

    python -m plan --simulate primary-region-lost
    python -m plan --simulate all

Each scenario is played once per alignment of the incident with the clock (``phase``: every `step` seconds
of a minute), which moves it against every alarm period, probe, canary tick and Route 53 checker; the
report shows the worst play. Regions are named by their place in the failover chain (primary, the first
DR region), so the same scenarios run on a two- and a three-region stack.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from plan import simulate
from plan.engine import Evaluation
from plan.simulate import API, CLOUDWATCH, DATABASE, PROBE, REGION, Model, Outage, Run

# Issue 13's goal: clients on a healthy region within 2 minutes of a primary region loss, worst case
# including DNS caching, default config.
GOAL_SECONDS = 120
HOUR = 3600
# The promotion of a secondary cluster once `drctl failover` runs: AWS publishes "under a minute" for
# promoting a secondary, and "order of minutes", unbounded, for a managed failover end to end
# (AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html). The database RTO
# counts this figure; the decision to fail over is not counted (the operator acts when first paged).
PROMOTION_SECONDS = 60
PHASE_STEP = 5


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    outages: Callable[[tuple[str, ...]], list[Outage]]  # from the chain (primary first)
    duration: int  # seconds played after the incident's start
    operator_failover: bool = False  # the on-call runs drctl failover when first paged
    api_moves: bool = False  # the serving region stops serving: API clients must move (API RTO)
    writer_moves: bool = False  # the writer's cluster is lost: the writer name must move (database RTO)
    recovery: int | None = None  # when the primary comes back: DNS must not fail back on its own
    pages: bool = True  # something is broken that someone must hear of
    phase_step: int | None = None  # fewer alignments for a long scenario whose start is another's


def _primary(chain):
    return chain[0]


def _dr(chain):
    return chain[1]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "primary-region-lost",
        "the primary region is lost (every service in it)",
        lambda c: [Outage(REGION, _primary(c), 0)],
        900,
        operator_failover=True,
        api_moves=True,
        writer_moves=True,
    ),
    Scenario(
        "primary-api-lost",
        "the primary's payment API fails (/health answers nothing); the rest of the region is up",
        lambda c: [Outage(API, _primary(c), 0)],
        900,
        api_moves=True,
    ),
    Scenario(
        "primary-database-lost",
        "the primary's Aurora cluster is unreachable; payments (DynamoDB, S3) keep working",
        lambda c: [Outage(DATABASE, _primary(c), 0)],
        900,
        operator_failover=True,
        writer_moves=True,
    ),
    Scenario(
        "dr-probe-outage-during-primary-loss",
        "the primary region is lost while the first DR region's database probe is out (from 2 min before to 10 min after)",
        lambda c: [Outage(REGION, _primary(c), 0), Outage(PROBE, _dr(c), -120, 600)],
        900,
        operator_failover=True,
        api_moves=True,
    ),
    # Payments and routing are unaffected; the primary's own alarms are silent, so the DR regions' canaries,
    # which ask the primary's CloudWatch every round (core/routing.py), must page.
    Scenario(
        "primary-cloudwatch-outage",
        "CloudWatch in the primary region is down for 30 minutes; everything else works",
        lambda c: [Outage(CLOUDWATCH, _primary(c), 0, 1800)],
        2100,
    ),
    Scenario(
        "primary-recovery-after-an-hour",
        "the primary region is lost and comes back an hour later: no automatic fail-back",
        lambda c: [Outage(REGION, _primary(c), 0, HOUR)],
        HOUR + 900,
        operator_failover=True,
        api_moves=True,
        writer_moves=True,
        recovery=HOUR,
        phase_step=20,
    ),
)
BY_KEY = {s.key: s for s in SCENARIOS}


def scenario(key: str) -> Scenario:
    if key not in BY_KEY:
        raise simulate.SimulationError(f"unknown scenario {key!r}: expected one of {', '.join(BY_KEY)} or all")
    return BY_KEY[key]


# --- what a play shows ---------------------------------------------------------------------------


def _good_api(run: Run, region: str | None, t: int) -> bool:
    return region is not None and run.world.serving(region, t)


def _good_writer(run: Run, region: str | None, t: int) -> bool:
    return region is not None and run.world.writable(region, t)


def bad_spans(run: Run, name: str, good: Callable[[Run, str | None, int], bool]) -> list[tuple[int, int]]:
    """The stretches (first, last second, from the incident on) during which some client holds an answer
    for `name` that is not good. The worst client resolved just before an answer changed and keeps it for
    the TTL, so an answer held until `until` is in clients' caches until `until - 1 + TTL - 1`."""
    ttl = run.ttls[name]
    changes = run.answers[name] + [(run.end, None)]
    bad = [False] * run.end
    for (since, region), (until, _) in itertools.pairwise(changes):
        for u in range(max(since, 0), min(until - 1 + ttl, run.end)):
            if not bad[u] and not good(run, region, u):
                bad[u] = True
    spans: list[tuple[int, int]] = []
    for u, is_bad in enumerate(bad):
        if is_bad and spans and spans[-1][1] == u - 1:
            spans[-1] = (spans[-1][0], u)
        elif is_bad:
            spans.append((u, u))
    return spans


def settled(run: Run, name: str, good: Callable[[Run, str | None, int], bool]) -> int | None:
    """Seconds from the incident until every client of `name` holds a good answer: the end of the first bad
    stretch (0 when there is none, None when it lasts to the end of the run). Later stretches are relapses."""
    spans = bad_spans(run, name, good)
    if not spans:
        return 0
    first = spans[0]
    return None if first[1] >= run.end - 1 else first[1] + 1


def relapses(run: Run, name: str, good: Callable[[Run, str | None, int], bool], what: str) -> list[str]:
    return [
        f"{what}: clients of {name} on a bad answer again from {a} s to {b} s"
        for a, b in bad_spans(run, name, good)[1:]
    ]


def returns_to_down_region(run: Run) -> list[str]:
    """Once DNS has left a region that is not serving, it must never answer that region again."""
    problems = []
    name = run.model.public_name
    changes = run.answers[name]
    for (_, before), (t1, _) in itertools.pairwise(changes):
        if t1 < 0 or before is None or run.world.serving(before, t1):
            continue
        back = next((t for t, region in changes if t > t1 and region == before), None)
        if back is not None:
            problems.append(f"DNS left {before} (not serving) at {t1} s and answered it again at {back} s")
    return problems


def fail_back(run: Run, recovery: int | None) -> str | None:
    if recovery is None:
        return None
    primary = run.model.chain[0]
    back = next((t for t, region in run.answers[run.model.public_name] if t >= recovery and region == primary), None)
    return (
        None
        if back is None
        else f"DNS moved back to {primary} on its own at {back} s (the region recovered at {recovery} s)"
    )


def pages_from_up_regions(run: Run) -> list[simulate.Page]:
    return [p for p in run.pages if p.t >= 0 and not run.world.down(REGION, p.topic_region, p.t)]


def pages_during_incident(run: Run) -> list[simulate.Page]:
    """The pages from up regions that arrive while the incident lasts: an alarm that fires only once a
    region's CloudWatch is back (its backlog) told nobody in time."""
    ends = [o.end for o in run.world.outages]
    last = None if any(end is None for end in ends) else max(ends, default=None)
    return [p for p in pages_from_up_regions(run) if last is None or p.t < last]


@dataclass
class Result:
    """A scenario's plays: the worst one and the figures the budget and the tests read."""

    scenario: Scenario
    model: Model
    plays: dict[int, Run]  # phase -> run
    api_rto: dict[int, int | None] = field(default_factory=dict)
    writer_rto: dict[int, int | None] = field(default_factory=dict)

    @staticmethod
    def _worst(values: dict[int, int | None]) -> tuple[int, int | None]:
        if any(v is None for v in values.values()):
            phase = next(p for p, v in values.items() if v is None)
            return phase, None
        phase = max(values, key=lambda p: (values[p], -p))
        return phase, values[phase]

    @property
    def worst_api(self) -> tuple[int, int | None]:
        return self._worst(self.api_rto)

    @property
    def worst_writer(self) -> tuple[int, int | None]:
        return self._worst(self.writer_rto)

    @property
    def worst_phase(self) -> int:
        if self.scenario.api_moves:
            return self.worst_api[0]
        if self.scenario.writer_moves:
            return self.worst_writer[0]
        return min(self.plays)

    @property
    def worst(self) -> Run:
        return self.plays[self.worst_phase]

    def problems(self) -> list[str]:
        """What the issue's done-when forbids, in any play, each with the plays (phases) that show it."""
        found: dict[str, list[int]] = {}
        for phase, run in sorted(self.plays.items()):
            messages = returns_to_down_region(run) + relapses(run, self.model.public_name, _good_api, "API")
            if self.model.writer_name:
                messages += relapses(run, self.model.writer_name, _good_writer, "database")
            back = fail_back(run, self.scenario.recovery)
            if back:
                messages.append(back)
            if self.scenario.api_moves and (self.api_rto[phase] is None or self.api_rto[phase] > GOAL_SECONDS):
                messages.append(
                    f"API clients on a healthy region after {_secs(self.api_rto[phase])} (goal {GOAL_SECONDS} s)"
                )
            if self.scenario.pages and not pages_during_incident(run):
                messages.append("nobody is paged from a region that is up (while the incident lasts)")
            for message in messages:
                found.setdefault(re.sub(r"\d+", "#", message), []).append((phase, message))
        total = len(self.plays)
        # One line per kind of problem: how many plays show it, and the play with the largest figures.
        return [f"{max(seen, key=_figures_in)[1]} [{len(seen)} of {total} plays]" for seen in found.values()]


def _figures_in(entry: tuple[int, str]) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", entry[1])]


def _secs(value: int | None) -> str:
    return "never (within the run)" if value is None else f"{value} s"


def run_scenario(model: Model, chosen: Scenario, *, step: int = PHASE_STEP) -> Result:
    if len(model.chain) < 2:
        raise simulate.SimulationError(f"the failover chain has {len(model.chain)} region(s): nothing to fail over to")
    result = Result(chosen, model, {})
    for phase in range(0, 60, max(step, chosen.phase_step or 0)):
        run = simulate.play(
            model,
            chosen.outages(model.chain),
            duration=chosen.duration,
            phase=phase,
            operator_failover=chosen.operator_failover,
            promotion_seconds=PROMOTION_SECONDS,
        )
        result.plays[phase] = run
        if chosen.api_moves:
            result.api_rto[phase] = settled(run, model.public_name, _good_api)
        if chosen.writer_moves and model.writer_name:
            result.writer_rto[phase] = settled(run, model.writer_name, _good_writer)
    return result


def run_all(model: Model, keys: Iterable[str] | None = None, *, step: int = PHASE_STEP) -> list[Result]:
    chosen = [scenario(k) for k in keys] if keys else list(SCENARIOS)
    return [run_scenario(model, s, step=step) for s in chosen]


@dataclass(frozen=True)
class Figures:
    """The recovery figures: worst case over every scenario and alignment."""

    api_seconds: int | None
    api_scenario: str
    writer_seconds: int | None
    writer_scenario: str
    goal_met: bool
    problems: tuple[str, ...]
    gaps: tuple[str, ...]


def figures(results: list[Result], model: Model) -> Figures:
    api = [(r.worst_api[1], r.scenario.key) for r in results if r.scenario.api_moves]
    writer = [(r.worst_writer[1], r.scenario.key) for r in results if r.scenario.writer_moves and r.writer_rto]

    def worst(pairs):
        if not pairs:
            return None, "-"
        missing = next((p for p in pairs if p[0] is None), None)
        return missing if missing else max(pairs)

    api_seconds, api_key = worst(api)
    writer_seconds, writer_key = worst(writer)
    problems = tuple(f"{r.scenario.key}: {p}" for r in results for p in r.problems())
    return Figures(
        api_seconds,
        api_key,
        writer_seconds,
        writer_key,
        goal_met=api_seconds is not None and api_seconds <= GOAL_SECONDS,
        problems=problems,
        gaps=tuple(model.gaps),
    )


def stack_figures(evaluation: Evaluation, *, step: int = PHASE_STEP) -> tuple[Figures, list[Result]]:
    model = simulate.build_model(evaluation)
    results = run_all(model, step=step)
    return figures(results, model), results


# --- the report ------------------------------------------------------------------------------------


def _events(run: Run) -> list[tuple[int, str]]:
    events: list[tuple[int, str]] = []
    for outage in run.world.outages:
        events.append((outage.start, f"outage begins: {outage.component} in {outage.region}"))
        if outage.end is not None:
            events.append((outage.end, f"outage ends: {outage.component} in {outage.region}"))
    events += [(t, f"check {name} -> {'healthy' if healthy else 'UNHEALTHY'}") for t, name, healthy in run.check_flips]
    events += [(t, f"alarm {name} ({region}) -> {state}") for t, name, region, state in run.alarm_flips]
    for name, changes in run.answers.items():
        events += [(t, f"DNS {name} answers {region or 'nothing'}") for t, region in changes if t >= 0]
    events += [(p.t, f"PAGE: alarm {p.alarm} ({p.alarm_region}) -> SNS topic in {p.topic_region}") for p in run.pages]
    events += [(t, f"page LOST: alarm {a} ({r}): {why}") for t, a, r, why in run.lost_pages]
    events += run.actions
    return sorted((e for e in events if e[0] >= -120), key=lambda e: e[0])


def report(result: Result) -> str:
    chosen, run = result.scenario, result.worst
    chain = " -> ".join(result.model.chain)
    lines = [
        f"Scenario {chosen.key}: {chosen.title}.",
        f"  chain {chain}; played at {len(result.plays)} alignments with the minute; the worst "
        f"(phase {result.worst_phase} s) shown; times in seconds from the incident's start.",
    ]
    for t, text in _events(run):
        lines.append(f"  {t:>+6} s  {text}")
    if chosen.api_moves:
        _, rto = result.worst_api
        values = [v for v in result.api_rto.values() if v is not None]
        lines.append(
            f"  API: every client on a serving region {_secs(rto)} after the incident, worst case "
            f"(best {min(values) if values else '-'} s; TTL {run.ttls[result.model.public_name]} s included); goal {GOAL_SECONDS} s: "
            f"{'met' if rto is not None and rto <= GOAL_SECONDS else 'MISSED'}"
        )
    if chosen.writer_moves and result.writer_rto:
        _, rto = result.worst_writer
        lines.append(
            f"  database: every client of {result.model.writer_name} on the writable cluster {_secs(rto)} after "
            f"the incident, worst case (operator acts when first paged; promotion {PROMOTION_SECONDS} s)"
        )
    pages = pages_from_up_regions(run)
    regions = sorted({p.topic_region for p in pages})
    lines.append(
        f"  paged: {len(pages)} alarm(s) through SNS in {', '.join(regions) if regions else 'no region'}"
        + (f", first at {min(p.t for p in pages)} s" if pages else "")
    )
    problems = result.problems()
    lines.append("  verdict: " + ("as designed" if not problems else "PROBLEMS:"))
    lines += [f"    - {p}" for p in problems[:12]]
    if len(problems) > 12:
        lines.append(f"    - ... and {len(problems) - 12} more")
    return "\n".join(lines)


def report_all(results: list[Result], model: Model) -> str:
    parts = [report(r) for r in results]
    summary = figures(results, model)
    parts.append(summary_text(summary))
    return "\n\n".join(parts)


def summary_text(summary: Figures) -> str:
    lines = [
        "Simulated recovery figures (worst case over the scenarios and alignments):",
        f"  API: {_secs(summary.api_seconds)} ({summary.api_scenario}); goal {GOAL_SECONDS} s: "
        f"{'met' if summary.goal_met else 'MISSED'}",
        f"  database writer name: {_secs(summary.writer_seconds)} ({summary.writer_scenario}; "
        f"decision time not counted, promotion {PROMOTION_SECONDS} s)",
    ]
    lines.append("  modelling assumptions (AWS publishes no figure): " + "; ".join(simulate.ASSUMPTIONS))
    if summary.gaps:
        lines.append("  the stack does not declare (core/routing.py): " + "; ".join(summary.gaps))
    return "\n".join(lines)
