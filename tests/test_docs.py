"""The README stays true to the code: every config key documented, every documented key real."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from core import settings_doc
from core.config import KNOWN_KEYS, SETTINGS

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


def test_readme_configuration_table_is_generated_from_the_settings_table():
    assert settings_doc.render(README) == README, (
        f"README.md's configuration table is stale: run `{settings_doc.COMMAND}` (it is generated from core/config.py's SETTINGS)"
    )
    # Every enforced limit is in the README: each setting's allowed text appears in its row.
    section = configuration_section()
    for setting in SETTINGS:
        row = next(line for line in section.splitlines() if line.startswith(f"| `{setting.key}` |"))
        assert settings_doc.allowed_text(setting).replace("|", "\\|") in row, setting.key


def test_the_staleness_check_catches_an_edited_table(tmp_path, monkeypatch):
    stale = README.replace("| `dnsTtlSeconds` | `60` |", "| `dnsTtlSeconds` | `61` |")
    assert stale != README and settings_doc.render(stale) == README
    monkeypatch.setattr(settings_doc, "README", tmp_path / "README.md")
    settings_doc.README.write_text(stale)
    assert settings_doc.main(["--check"]) == 1 and settings_doc.README.read_text() == stale
    assert settings_doc.main([]) == 0 and settings_doc.README.read_text() == README
    assert settings_doc.main(["--check"]) == 0


def test_readme_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "make test" in README and "make plan" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.MULTILINE) and re.search(r"^plan:", makefile, re.MULTILINE)


def test_docs_links_resolve():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(((?!https?://|#)[^)#]+)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


# A clone holds the repository and nothing else: no doc or code file may point outside it.
TEXT_SUFFIXES = {".md", ".py", ".txt", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".json", ".sh", ""}
RELATIVE_PATH = re.compile(r"(?<![\w.])((?:\.\./)+\w[\w.\-/]*)")  # "../x": names something; a bare "../.." does not
MARKDOWN_LINK = re.compile(r"\]\(((?!https?://|#|mailto:)[^)#\s]+)")
# Paths of the machine a file was written on, and the workspace's notes folder (this file names them:
# it is the one file the scan skips).
MACHINE_PATHS = re.compile("|".join(re.escape(p) for p in ("/work/", "/root/", "/home/", "/Users/", "shared/notes")))


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked archive)
        skip = {".git", ".venv", "venv", "__pycache__", ".hypothesis", ".pytest_cache", ".benchmarks", "build"}
        paths = [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    return [
        p
        for p in paths
        if p.is_file() and p.suffix in TEXT_SUFFIXES and p.name != "LICENSE" and p != Path(__file__).resolve()
    ]


def outside_references(path: Path, text: str) -> list[str]:
    """What `text` (the content of `path`) names outside the repository; relative paths resolve from its folder."""
    problems = [f"machine path {m.group(0)!r}" for m in MACHINE_PATHS.finditer(text)]
    links = set(MARKDOWN_LINK.findall(text)) if path.suffix == ".md" else set()
    for target in sorted(set(RELATIVE_PATH.findall(text)) | links):
        resolved = (path.parent / target).resolve()
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target} (outside the repository)")
        elif target in links and not resolved.exists():
            problems.append(f"{target} (missing)")
    return problems


def test_no_tracked_file_refers_outside_the_repository():
    files = tracked_files()
    assert any(p.name == "README.md" for p in files) and any(p.suffix == ".py" for p in files)
    found = {
        str(p.relative_to(ROOT)): problems
        for p in files
        if (problems := outside_references(p, p.read_text(errors="replace")))
    }
    assert not found, found


def test_the_outside_reference_check_catches_what_it_is_for():
    doc = ROOT / "docs" / "example.md"  # only its folder matters: relative paths resolve from it
    cases = {
        "see [facts](../../elsewhere/facts.md)": "outside the repository",
        "from `../shared/notes/x.md`": "machine path",
        "# checked against ../../x.md": "outside the repository",
        "[gone](missing-page.md)": "missing",
        "cp /work/main/x .": "machine path",
    }
    for text, expected in cases.items():
        problems = outside_references(doc, text)
        assert any(expected in p for p in problems), (text, problems)
    fine = "[runbook](runbook.md), [code](../core/naming.py), https://docs.aws.amazon.com/x, ~/.drctl/audit.jsonl"
    assert outside_references(doc, fine) == []
