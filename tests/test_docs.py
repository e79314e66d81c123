"""The README stays true to the code: every config key documented, every documented key real."""

from __future__ import annotations

import re
from pathlib import Path

from core.config import KNOWN_KEYS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def configuration_section() -> str:
    return README.split("## Configuration", 1)[1].split("\n## ", 1)[0]


def test_every_config_key_is_documented():
    documented = set(re.findall(r"^\| `(\w+)` \|", configuration_section(), re.MULTILINE))
    assert documented == set(KNOWN_KEYS), {
        "undocumented": sorted(set(KNOWN_KEYS) - documented),
        "documented but unknown": sorted(documented - set(KNOWN_KEYS)),
    }


def test_readme_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "make test" in README and "make plan" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.MULTILINE) and re.search(r"^plan:", makefile, re.MULTILINE)


def test_docs_links_resolve():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(((?!https?://|#)[^)#]+)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
