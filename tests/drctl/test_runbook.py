"""docs/runbook.md stays true to drctl: every drctl command line it shows exists, with the options it uses,
and no step stops the surviving region's payments (issue 13)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer

from drctl.cli import app

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def command_lines(text: str) -> list[str]:
    """drctl command lines in code spans and in the decision tree's nodes."""
    spans = re.findall(r"`(drctl [^`]+)`", text) + re.findall(r'\["(drctl [^"<]+)', text)
    return [line.split(" (")[0].strip() for line in spans]


def options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_every_drctl_line_of_the_runbook_is_a_real_command_with_real_options() -> None:
    group = typer.main.get_command(app)
    assert hasattr(group, "commands")
    lines = command_lines(RUNBOOK.read_text())
    assert len(lines) > 15
    seen = set()
    for line in lines:
        words = shlex.split(line)[1:]
        while words and words[0] in options(group):  # --stack NAME, --region REGION, ...
            words = words[2:]
        if not words:
            continue  # global options only
        name, *rest = words
        assert name in group.commands, line
        seen.add(name)
        unknown = [w for w in rest if w.startswith("--") and w not in options(group.commands[name])]
        assert not unknown, (line, unknown)
    assert {"status", "switchover", "failover", "dns", "failback", "drill"} <= seen


def test_no_step_stops_the_survivor() -> None:
    text = RUNBOOK.read_text()
    assert "in every region while the old primary" not in text
    for match in re.finditer(r"put-function-concurrency --region (\S+)", text):
        assert match.group(1) == "OLD", match.group(0)
