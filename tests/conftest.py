"""Shared fixtures: the example stack's config and the program evaluated under the mock engine."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from core import config as stack_config
from plan import engine

# The properties assert behaviour, not speed: a CI machine under load must not turn a slow
# example into a failure (Hypothesis' default 200 ms deadline does exactly that).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

ROOT = Path(__file__).resolve().parent.parent


def example_config() -> dict[str, Any]:
    return copy.deepcopy(engine.stack_config(ROOT / "Pulumi.dev.yaml"))


def fitting_consistency(regions: list[str]) -> dict[str, str]:
    """The example's strong acceptance table where MRSC fits `regions` (a witness from their region set
    for two, none for three), eventual elsewhere (core/config.py refuses strong there)."""
    region_set = stack_config.mrsc_region_set(regions)
    if region_set is None or len(regions) not in (2, 3):
        return {"dynamodbConsistency": "eventual", "dynamodbWitnessRegion": ""}
    witness = sorted(stack_config.MRSC_REGION_SETS[region_set] - set(regions))[0] if len(regions) == 2 else ""
    return {"dynamodbConsistency": "strong", "dynamodbWitnessRegion": witness}


def deployed_in(regions: list[str], **overrides: Any) -> dict[str, Any]:
    """The example stack deployed afresh in `regions`, the first one primary and the data tier's home."""
    return {
        **example_config(),
        "primaryRegion": regions[0],
        "secondaryRegions": list(regions[1:]),
        "dataHomeRegion": regions[0],
        **fitting_consistency(regions),
        **overrides,
    }


@pytest.fixture
def config() -> dict[str, Any]:
    """A fresh copy of the example stack's config for a test to change."""
    return example_config()


@pytest.fixture(scope="session")
def dev() -> engine.Evaluation:
    """The example stack (two regions), evaluated once per test session."""
    return engine.evaluate(example_config())


@pytest.fixture(scope="session")
def three_regions() -> engine.Evaluation:
    return engine.evaluate(
        {**example_config(), "secondaryRegions": ["us-east-2", "us-west-2"], "dynamodbWitnessRegion": ""}
    )
