"""`make drctl` puts a launcher on PATH that runs this checkout's drctl from any directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from typer.testing import CliRunner

import drctl
from drctl import install
from drctl.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_the_package_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"drctl {drctl.__version__} (payment-dr)"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "drctl.__version__"}


def test_the_launcher_runs_drctl_from_any_directory(tmp_path):
    bindir = tmp_path / "bin"
    launcher = install.install(bindir, Path(sys.executable), ROOT)
    assert launcher == bindir / "drctl" and os.access(launcher, os.X_OK)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "drctl").mkdir(parents=True)  # a folder named drctl in the operator's directory is never imported
    (elsewhere / "drctl" / "__init__.py").write_text("raise SystemExit('the wrong drctl')\n")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "250"}
    env.pop("PYTHONPATH", None)
    version = subprocess.run(["drctl", "--version"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"drctl {drctl.__version__} (payment-dr)"
    usage = subprocess.run(
        ["drctl", "--stack", "nope", "status"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60
    )
    assert (
        usage.returncode == 2 and "Pulumi.nope.yaml" in usage.stdout + usage.stderr
    )  # the stack file is read from the current directory


def test_install_says_how_to_put_the_bindir_on_path(tmp_path, capsys, monkeypatch):
    bindir = tmp_path / "bin"
    monkeypatch.setenv("PATH", "/usr/bin")
    assert install.main(["--bindir", str(bindir)]) == 0
    out = capsys.readouterr().out
    assert f'export PATH="{bindir}:$PATH"' in out and (bindir / "drctl").is_file()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin")
    install.main(["--bindir", str(bindir)])
    assert "it is on PATH" in capsys.readouterr().out


def test_make_drctl_runs_the_installer():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(
        r"^drctl: \$\(VENV\)/\.installed\n\t\$\(PY\) -m drctl\.install --bindir \$\(BINDIR\)$", makefile, re.MULTILINE
    )
    assert re.search(r"^\.PHONY:.*\bdrctl\b", makefile, re.MULTILINE)


def test_the_installed_package_carries_every_module_drctl_imports(tmp_path):
    """The console script of `pip install -e .` (what `make` installs) imports drctl's every command,
    reconcile's ledger code under functions/ included, from a directory outside the checkout."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    probe = "import drctl.cli, drctl.ledger, functions.ledger.ledger_db as m; print(m.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # The checkout the editable install points at (this one, or the main one for a git worktree).
    assert Path(result.stdout.strip()).parts[-3:] == ("functions", "ledger", "ledger_db.py")
