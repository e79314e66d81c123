"""The stated Python floor is true: every pin, and everything a pin pulls in, accepts it.

pyproject.toml's requires-python is the one statement of the floor; the Makefile and the README repeat
it. The check reads the installed distributions' metadata (importlib.metadata), so it tests the
versions the suite runs with, not what a resolver might pick elsewhere.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "functions/db_probe/requirements.txt")


def stated_floor() -> Version:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    floors = [Version(s.version) for s in SpecifierSet(requires) if s.operator == ">="]
    assert len(floors) == 1, f"requires-python {requires!r}: expected exactly one '>=' floor"
    return floors[0]


def pins(path: Path) -> list[Requirement]:
    found = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            found.append(Requirement(line))
    return found


def closure(floor: Version) -> dict[str, tuple[str, str | None, str]]:
    """name -> (installed version, Requires-Python, who pulled it in), following markers as on the floor."""
    environment = {
        "python_version": f"{floor.major}.{floor.minor}",
        "python_full_version": f"{floor.major}.{floor.minor}.0",
    }
    seen: dict[str, tuple[str, str | None, str]] = {}
    followed: set[tuple[str, frozenset[str]]] = set()
    todo = [(req, path) for path in REQUIREMENT_FILES for req in pins(ROOT / path)]
    while todo:
        requirement, via = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in followed:
            continue
        followed.add((name, frozenset(requirement.extras)))
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            # Backports needed only on older Pythons than this one (exceptiongroup, tomli) are not installed here.
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            raise
        seen.setdefault(name, (dist.version, dist.metadata.get("Requires-Python"), via))
        for text in dist.requires or []:
            dependency = Requirement(text)
            if dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra}) for extra in [*requirement.extras, ""]
            ):
                todo.append((dependency, f"{via} > {requirement.name}"))
    return seen


def test_the_floor_is_one_every_pin_and_its_dependencies_accept():
    floor = stated_floor()
    refusing = {
        name: f"{version} requires Python {requires} (via {via})"
        for name, (version, requires, via) in closure(floor).items()
        if requires and not SpecifierSet(requires).contains(floor)
    }
    assert not refusing, f"requires-python says >={floor}, but: {refusing}"


def test_pins_are_what_is_installed():
    """Otherwise the check above would read the metadata of other versions than the pinned ones."""
    for path in REQUIREMENT_FILES:
        for requirement in pins(ROOT / path):
            installed = metadata.version(requirement.name)
            assert requirement.specifier.contains(installed), f"{path}: {requirement} but {installed} is installed"


def test_the_suite_runs_on_the_floor_or_newer():
    assert sys.version_info[:2] >= stated_floor().release[:2]


def test_makefile_and_readme_state_the_same_floor():
    floor = stated_floor()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^PYTHON_FLOOR := {re.escape(str(floor))}$", makefile, re.MULTILINE), "Makefile's PYTHON_FLOOR"
    readme = (ROOT / "README.md").read_text()
    stated = set(re.findall(r"Python ≥ (\d+\.\d+)", readme))
    assert stated == {str(floor)}, f"README states Python ≥ {sorted(stated)}; pyproject.toml says {floor}"
