"""Synthetic evaluations for the budget, diagram and policy tests: ResourceRecords built by hand,
with providers tagged like core/providers.py tags them, and a way to break a copy of a real one."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from plan.engine import Evaluation, ResourceRecord

STACK = "urn:pulumi:dev::payment-dr::"


def provider(region: str, role: str, name: str | None = None) -> ResourceRecord:
    if name is None:
        name = "aws-global" if role == "global" else f"aws-{region}"
    tags = {"Environment": "development", "Region": "global" if role == "global" else region, "DR-Role": role}
    return ResourceRecord(
        urn=f"{STACK}pulumi:providers:aws::{name}",
        type="pulumi:providers:aws",
        name=name,
        inputs={"region": region, "defaultTags": {"tags": tags}},
        outputs={},
        custom=True,
        provider_urn=None,
        parent_urn=None,
        dependencies=[],
        ignore_changes=[],
        protect=False,
        delete_before_replace=False,
        region=region,
    )


def record(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    *,
    on: ResourceRecord,
    outputs: dict[str, Any] | None = None,
    deps: Iterable[ResourceRecord] = (),
) -> ResourceRecord:
    """A managed resource on provider `on`; outputs are its inputs plus an id, as the mock engine returns them."""
    return ResourceRecord(
        urn=f"{STACK}{type_}::{name}",
        type=type_,
        name=name,
        inputs=inputs,
        outputs={"id": f"{name}-id", **inputs, **(outputs or {})},
        custom=True,
        provider_urn=on.urn,
        parent_urn=None,
        dependencies=[d.urn for d in deps],
        ignore_changes=[],
        protect=False,
        delete_before_replace=False,
        region=inputs.get("region") or on.region,
    )


def evaluation(*records: ResourceRecord) -> Evaluation:
    return Evaluation(resources=list(records), outputs={})


def broken(
    original: Evaluation,
    type_: str,
    change: Callable[[ResourceRecord], None],
    which: Callable[[ResourceRecord], bool] = lambda r: True,
) -> tuple[Evaluation, ResourceRecord]:
    """A deep copy of `original` with `change` applied to the record of `type_` matching `which` that
    comes first by URN (the mock engine registers resources in no fixed order)."""
    copied = copy.deepcopy(original)
    target = min((r for r in copied.resources if r.type == type_ and which(r)), key=lambda r: r.urn)
    change(target)
    return copied, target
