"""The database probe's code asset: its own files plus the pinned driver it vendors (pg8000 and the
packages it needs, functions/db_probe/requirements.txt), built when `pulumi up` deploys.

A pulumi-command ``local.Command`` runs ``pip install --target`` into a build directory, copies the
function's files next to the packages, and returns the directory as an archive (``archive_paths``):
that archive is the function's ``code``. Why a command rather than building in the program:

- nothing runs during ``pulumi preview`` or under the mock engine (tests and ``make plan`` need no
  network); the archive is unknown until the command has run, as it is on a real first deploy;
- the build re-runs only when its ``triggers`` change: a hash of the function's files, its
  requirements and this build script, and the build directory's checkout token (below). An unchanged
  tree keeps the deployed code (and its hash) as is;
- pip is told the target platform (Lambda's Python version and arm64 Linux), so a build on a
  developer's macOS or x86 laptop fetches the same wheels Lambda runs. Every pin is pure Python, so
  the bundle is the same on every machine.

One build per region, each in its own directory: regional stacks stay self-contained and identical
(the same pins give the same files, so every region runs the same bytes), and parallel builds never
share a directory. The directory is created by the program because pulumi-command requires ``dir`` to
exist; ``build/`` is git-ignored and ``make clean`` removes it.

The archive refers to the files in the build directory, and a later ``pulumi up`` that checks or
updates the function may read them again. A machine that has not built them (a fresh CI runner, a
colleague's checkout) must therefore rebuild even though the source did not change: the program gives every new
build directory a random checkout token, kept in the directory, and the token is a trigger. On the
machine that built it the token stays the same; anywhere else it differs and the build runs again.
The rebuilt files are the same bytes, so the function's code hash, and the function, do not change.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_command as command

from region_factory import lambda_runtime

ROOT = Path(__file__).resolve().parent.parent
# Relative to the project directory, where Pulumi runs the program and its plugins, so that the
# state does not record where a checkout lives.
SOURCE_DIR = "functions/db_probe"
BUILD_DIR = "build/db-probe"
REQUIREMENTS = "requirements.txt"
# Lambda's runtime and architecture (region_factory/lambda_runtime.py): python3.13 on arm64.
PYTHON_VERSION = lambda_runtime.RUNTIME.removeprefix("python")
PLATFORM = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}[lambda_runtime.ARCHITECTURE]
# Runs in the build directory (three levels below the project). The project's virtualenv (Pulumi.yaml)
# has pip; `--only-binary` is required by pip with `--platform`, and no .pyc files are written, so the
# bundle holds nothing machine-specific. The directory is emptied first: a removed pin leaves nothing behind.
BUILD_SCRIPT = """set -eu
find . -mindepth 1 ! -name .checkout-token -delete
"$PROJECT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-compile \\
  --target . --implementation cp --python-version "$PYTHON_VERSION" --platform "$PLATFORM" --only-binary=:all: \\
  --requirement "$PROJECT/$SOURCE/requirements.txt"
cp -R "$PROJECT/$SOURCE/." .
for extra in $EXTRA; do cp "$PROJECT/$extra" .; done
"""
# Local test runs leave bytecode in the source folder; the bundle never carries it, nor the pin file.
TOKEN_FILE = ".checkout-token"
ARCHIVE_PATHS = ["**", "!**/__pycache__/**", "!**/*.pyc", f"!{REQUIREMENTS}", f"!{TOKEN_FILE}"]


@dataclass(frozen=True)
class BundleSpec:
    """One function folder's bundle: its sources, what must be there, and project files copied beside them."""

    source_dir: str
    build_dir: str
    entry_points: tuple[str, ...]
    extra_files: tuple[str, ...] = ()


PROBE = BundleSpec(SOURCE_DIR, BUILD_DIR, ("app.py",))
# The ledger functions (poster, migrator) share one bundle; the payment function's currency table is
# copied in, so the ledger and the payment path read the same ISO 4217 minor units.
LEDGER = BundleSpec(
    "functions/ledger",
    "build/ledger",
    ("poster.py", "migrate.py", "ledger_db.py"),
    ("functions/payment_validation/payment_money.py",),
)


def source_files(spec: BundleSpec = PROBE) -> list[Path]:
    folder = ROOT / spec.source_dir
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    names = {p.name for p in files}
    missing = [name for name in (*spec.entry_points, REQUIREMENTS) if name not in names]
    if missing:
        raise FileNotFoundError(f"{spec.source_dir} needs {', '.join(missing)}: its code asset cannot be built")
    return files + [ROOT / extra for extra in spec.extra_files]


def source_hash(spec: BundleSpec = PROBE) -> str:
    """What the bundle is made of: every source file (path and bytes) and the build script."""
    digest = hashlib.sha256(BUILD_SCRIPT.encode())
    for path in source_files(spec):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def checkout_token(build_dir: Path) -> str:
    """The build directory's token: made once when the directory is new, then read back (module docstring)."""
    path = build_dir / TOKEN_FILE
    if not path.is_file():
        path.write_text(uuid.uuid4().hex + "\n")
    return path.read_text().strip()


def bundle(spec: BundleSpec, logical_name: str, region: str, parent: pulumi.Resource) -> command.local.Command:
    """The build of one region's bundle of `spec`; its ``archive`` output is the function's code."""
    build_dir = f"{spec.build_dir}/{region}"
    (ROOT / build_dir).mkdir(parents=True, exist_ok=True)
    return command.local.Command(
        logical_name,
        create=BUILD_SCRIPT,
        dir=build_dir,
        environment={
            "PROJECT": "../../..",
            "SOURCE": spec.source_dir,
            "EXTRA": " ".join(spec.extra_files),
            "PYTHON_VERSION": PYTHON_VERSION,
            "PLATFORM": PLATFORM,
        },
        archive_paths=ARCHIVE_PATHS,
        triggers=[source_hash(spec), checkout_token(ROOT / build_dir)],
        # pulumi-command resources take the command provider, not the region's AWS provider.
        opts=pulumi.ResourceOptions(parent=parent),
    )
