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
    assert commands == ["$(PY) -m ruff check .", "$(PY) -m pytest"], commands


def test_the_tree_passes_ruff():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
