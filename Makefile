# Two commands do all the set-up on a fresh machine:
#   make plan   the offline plan of the example stack (no AWS, no Pulumi CLI needed)
#   make test   the whole test suite (CI runs exactly this)
#   make drctl  puts the drctl launcher on PATH (~/.local/bin, or BINDIR=...)
PYTHON ?= python3
# The floor of pyproject.toml's requires-python (tests/test_requirements.py keeps them equal).
PYTHON_FLOOR := 3.11
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
# Where `make drctl` puts the drctl launcher.
BINDIR ?= $(HOME)/.local/bin

.PHONY: plan test benchmark clean postgres drctl

# The DB probe's tests start their own PostgreSQL server: Debian keeps its binaries off PATH.
export PATH := $(PATH):$(subst $(eval) ,:,$(wildcard /usr/lib/postgresql/*/bin))

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; floor = tuple(map(int, "$(PYTHON_FLOOR)".split("."))); sys.exit(None if sys.version_info >= floor else \
		"payment-dr needs Python >= $(PYTHON_FLOOR); $(PYTHON) is %d.%d (%s). Run with a newer one, e.g. make $(MAKECMDGOALS) PYTHON=python$(PYTHON_FLOOR)" \
		% (*sys.version_info[:2], sys.executable))'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

plan: $(VENV)/.installed
	$(PY) -m plan --stack $(STACK)

# Puts `drctl` on PATH: a launcher in $(BINDIR) that runs this checkout's drctl (prints the PATH line if needed).
drctl: $(VENV)/.installed
	$(PY) -m drctl.install --bindir $(BINDIR)

# Lint and format check first (seconds; pyproject.toml's [tool.ruff] says what and why), then the suite.
test: $(VENV)/.installed postgres
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

# Installs PostgreSQL's server binaries and openssl where they are missing (Debian, as root).
postgres:
	@command -v initdb >/dev/null && command -v openssl >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql openssl >/dev/null; }
	@command -v initdb >/dev/null || { echo "initdb not found even after installing postgresql" >&2; exit 1; }

benchmark: $(VENV)/.installed
	$(PY) -m pytest tests/benchmarks --benchmark-only

clean:
	rm -rf $(VENV) build *.egg-info
