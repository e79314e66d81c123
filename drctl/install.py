"""Puts `drctl` on PATH: `make drctl` writes a launcher into ~/.local/bin (or BINDIR).

The launcher runs this checkout's drctl with the checkout's virtualenv, so operators type `drctl` as
the runbook shows it, from any directory (stack files are still read from the current directory,
--project-dir or DRCTL_PROJECT_DIR). Re-running replaces the launcher; deleting it uninstalls.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_BINDIR = Path("~/.local/bin")


def launcher(python: Path, checkout: Path) -> str:
    """A POSIX sh script: this checkout first on the import path, the venv's interpreter (never resolved:
    the symlink is what makes it the venv's), and -P so that a `drctl/` folder in the operator's current
    directory is never imported instead."""
    return (
        "#!/bin/sh\n"
        f"# drctl launcher written by `make drctl` in {checkout}; delete this file to uninstall.\n"
        f"PYTHONPATH={shlex.quote(str(checkout))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        "export PYTHONPATH\n"
        f'exec {shlex.quote(str(python))} -P -m drctl "$@"\n'
    )


def install(bindir: Path, python: Path, checkout: Path = CHECKOUT) -> Path:
    bindir = bindir.expanduser()
    bindir.mkdir(parents=True, exist_ok=True)
    target = bindir / "drctl"
    target.write_text(launcher(python, checkout))
    target.chmod(0o755)
    return target


def on_path(bindir: Path, path: str | None = None) -> bool:
    entries = (os.environ.get("PATH", "") if path is None else path).split(os.pathsep)
    wanted = bindir.expanduser().resolve()
    return any(entry and Path(entry).expanduser().resolve() == wanted for entry in entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drctl.install", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bindir", type=Path, default=DEFAULT_BINDIR, help="where to put the launcher (default: ~/.local/bin)"
    )
    args = parser.parse_args(argv)
    target = install(args.bindir, Path(sys.executable))
    print(f"installed {target}: runs {sys.executable} -m drctl from {CHECKOUT}")
    if on_path(args.bindir):
        print("it is on PATH: try `drctl --version`")
    else:
        print(f"{args.bindir} is not on PATH; add this line to your shell profile (~/.profile, ~/.bashrc or ~/.zshrc):")
        print(f'export PATH="{args.bindir.expanduser()}:$PATH"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
