"""The refactor guard (issue 16): the evaluated stack is the one recorded in tests/infra/snapshots/.

Every registration (provider, component, resource) is compared by URN with its type, provider, parent,
inputs, dependencies and options. A refactor may only:
- add a component (never a cloud resource), and
- move a resource under a new component that sits where the resource was, if the resource carries an
  `aliases` entry for its old URN (`pulumi up` then keeps its state: no replacement).
Any other difference fails. For a deliberate change of the stack, regenerate the snapshots
(`python -m tests.infra.snapshots.regenerate`, see its docstring) in the same commit as the change.

Deliberate URN changes of the refactor, each kept by an alias (docs/CONTRIBUTING-infra.md, "Moving a resource"):
NEW_COMPONENTS below lists the components added and why.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from plan import engine
from tests.infra.snapshots import regenerate

# Components the refactor added (type -> why). Their children keep their old URNs as aliases.
NEW_COMPONENTS: dict[str, str] = {
    # Each region's Aurora cluster, its instances and final-snapshot id, under the global database as before,
    # now grouped per region (issue 16, point 2). Moved with `aliases=[Alias(parent=<global database>)]`.
    "payment-dr:global:AuroraRegionalCluster": "one region's member of the global database, per DR role",
}


def _identities(evaluation: engine.Evaluation, before: dict[str, Any]) -> dict[str, str]:
    """Each registration's URN in the snapshot: its own, or the old URN its aliases carry."""
    identities = {}
    for r in evaluation.resources:
        if r.urn in before:
            identities[r.urn] = r.urn
            continue
        known = [alias for alias in r.aliases if alias in before]
        if known:
            identities[r.urn] = known[0]
    return identities


def _comparable(evaluation: engine.Evaluation, before: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The evaluation as a snapshot keyed by old URNs, new components seen through; and the new registrations."""
    identities = _identities(evaluation, before)
    by_urn = {r.urn: r for r in evaluation.resources}
    added = [r for r in evaluation.resources if r.urn not in identities]

    def through(urn: str | None) -> str | None:
        # A new component is transparent: its children compare as children of its parent.
        while urn is not None and urn not in identities and urn in by_urn:
            urn = by_urn[urn].parent_urn
        return identities.get(urn, urn) if urn else urn

    now = regenerate.snapshot(evaluation)
    comparable = {}
    for r in evaluation.resources:
        if r.urn not in identities:
            continue
        record = dict(now[r.urn])
        record["parent"] = through(r.parent_urn)
        record["provider"] = through(r.provider_urn)
        # Dependencies on a new component mean its children; compare the resources depended on.
        record["dependencies"] = sorted({identities[d] for d in r.dependencies if d in identities})
        comparable[identities[r.urn]] = record
    return comparable, [f"{r.type} {r.urn}" for r in added if r.custom or r.type not in NEW_COMPONENTS]


@functools.cache
def _evaluated(stack: str) -> engine.Evaluation:
    return engine.evaluate(regenerate.config_of(stack))


@pytest.mark.parametrize("stack", list(regenerate.STACKS))
def test_the_stack_is_the_one_in_the_snapshot(stack: str) -> None:
    before = regenerate.load(stack)
    evaluation = _evaluated(stack)
    now, added = _comparable(evaluation, before)
    assert not added, f"registrations that are neither in the snapshot nor an aliased move: {added}"
    assert sorted(set(before) - set(now)) == [], "registrations gone (or moved without an alias)"
    for urn, record in before.items():
        assert now[urn] == record, f"{urn} changed"


def test_the_guard_sees_a_changed_input() -> None:
    """The comparison is not vacuous: one changed input of one resource fails it."""
    before = regenerate.load("dev")
    evaluation = engine.evaluate(regenerate.config_of("dev"))
    bucket = next(r for r in evaluation.resources if r.type == "aws:s3/bucket:Bucket")
    bucket.inputs = {**bucket.inputs, "bucket": bucket.inputs["bucket"] + "-x"}
    now, _ = _comparable(evaluation, before)
    assert now[bucket.urn] != before[bucket.urn]


@pytest.mark.parametrize("stack", list(regenerate.STACKS))
def test_the_stack_exports_what_the_snapshot_records(stack: str) -> None:
    """The exports are an interface too: drctl, the plan and operators' scripts read them by name."""
    before = regenerate.load_exports(stack)
    now = regenerate.exports(_evaluated(stack))
    assert sorted(now) == sorted(before), "exports added or removed"
    for name, value in before.items():
        assert now[name] == value, f"export {name} changed"
