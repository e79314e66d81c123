"""The lint is part of the test command, and the tree passes it (pyproject.toml's [tool.ruff])."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_make_test_lints_before_the_suite():
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe, "Makefile has no test target"
    commands = [line.strip() for line in recipe.group(1).splitlines()]
    assert commands == ["$(PY) -m ruff check .", "$(PY) -m ruff format --check .", "$(PY) -m pytest"], commands


def test_the_tree_passes_ruff():
    for check in (["check", "--no-cache", "--output-format", "concise", "."], ["format", "--check", "--no-cache", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *check], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr


SKIPPED_DIRS = {".venv", "venv", "build", ".git", "__pycache__", ".hypothesis", ".benchmarks"}
SHORTHAND = re.compile(r"(?<![\w/-])(?:tf|pa)#\d+")


def test_provider_issues_are_cited_by_full_url():
    """A shorthand (`tf#` and a number) means nothing to a reader without the key; the URL does."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {match}"
        for path in sorted(ROOT.rglob("*"))
        if path.suffix in {".py", ".md", ".yaml", ".toml"} and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in SHORTHAND.findall(line)
    ]
    assert not found, found
