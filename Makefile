# Two commands do all the set-up on a fresh machine:
#   make plan   the offline plan of the example stack (no AWS, no Pulumi CLI needed)
#   make test   the whole test suite (CI runs exactly this)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: plan test benchmark clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

plan: $(VENV)/.installed
	$(PY) -m plan --stack $(STACK)

test: $(VENV)/.installed
	$(PY) -m pytest

benchmark: $(VENV)/.installed
	$(PY) -m pytest tests/benchmarks --benchmark-only

clean:
	rm -rf $(VENV) build *.egg-info
