"""Regenerates the refactor-invariance snapshots (tests/infra/test_refactor_invariance.py).

Run ONLY for a deliberate change of the stack (a new resource, a changed input or export), never to make a
refactor's test pass: the snapshot is the evidence that a refactor changed nothing.

    python -m tests.infra.snapshots.regenerate   # from the checkout's root, with the project's venv
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from plan import engine
from region_factory import packaging
from tests.conftest import example_config

HERE = Path(__file__).resolve().parent
ROOT = engine.ROOT

# The stacks the guard compares: the example (two regions) and the example with a third region.
STACKS: dict[str, dict[str, Any]] = {
    "dev": {},
    "three_regions": {"secondaryRegions": ["us-east-2", "us-west-2"], "dynamodbWitnessRegion": ""},
}


def config_of(stack: str) -> dict[str, Any]:
    return {**example_config(), **STACKS[stack]}


def _checkout_tokens() -> list[str]:
    """The build directories' random checkout tokens (region_factory/packaging.py): a trigger of each bundle
    build, new in every checkout by design, so they say nothing about the stack's shape."""
    return sorted(
        {path.read_text().strip() for path in (ROOT / "build").glob(f"**/{packaging.TOKEN_FILE}")},
        key=len,
        reverse=True,
    )


def _stable(value: Any) -> Any:
    """What depends on where the code runs: the checkout's absolute path (in code assets) and its build tokens."""
    text = json.dumps(value, sort_keys=True, default=str).replace(str(ROOT), "<root>")
    for token in _checkout_tokens():
        text = text.replace(token, "<checkout-token>")
    return json.loads(text)


def snapshot(evaluation: engine.Evaluation) -> dict[str, dict[str, Any]]:
    """Every registration (providers, components, resources) by URN with what decides a `pulumi up`."""
    records: dict[str, dict[str, Any]] = {}
    for r in evaluation.resources:
        assert r.urn not in records, f"duplicate URN {r.urn}"
        records[r.urn] = _stable(
            {
                "type": r.type,
                "provider": r.provider_urn,
                "parent": r.parent_urn,
                "inputs": r.inputs,
                "dependencies": sorted(r.dependencies),
                "ignoreChanges": sorted(r.ignore_changes),
                "protect": r.protect,
                "deleteBeforeReplace": r.delete_before_replace,
            }
        )
    return records


def load(stack: str) -> dict[str, dict[str, Any]]:
    return json.loads(path_of(stack).read_text())


def path_of(stack: str) -> Path:
    return HERE / f"{stack}.json"


def exports(evaluation: engine.Evaluation) -> dict[str, Any]:
    """The stack's outputs (what drctl, the plan and operators read), as stable as the registrations."""
    return _stable(evaluation.outputs)


def load_exports(stack: str) -> dict[str, Any]:
    return json.loads(exports_path_of(stack).read_text())


def exports_path_of(stack: str) -> Path:
    return HERE / f"{stack}.exports.json"


def main() -> None:
    for stack in STACKS:
        evaluation = engine.evaluate(config_of(stack))
        exports_path_of(stack).write_text(json.dumps(exports(evaluation), sort_keys=True, indent=1) + "\n")
        records = snapshot(evaluation)
        # One registration a line: a deliberate change shows as a readable diff.
        lines = [
            f"{json.dumps(urn)}:{json.dumps(record, sort_keys=True, separators=(',', ':'))}"
            for urn, record in sorted(records.items())
        ]
        path_of(stack).write_text("{\n" + ",\n".join(lines) + "\n}\n")
        print(f"{path_of(stack).relative_to(ROOT)}: {len(records)} registrations", file=sys.stderr)


if __name__ == "__main__":
    main()
