# One command sets up and runs the demo (make demo), one sets up and runs the tests (make test).
# durable-rules builds a C extension that imports on Python 3.11 and 3.12 only, so we pick one of those.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

PYTHON ?= $(shell for p in python3.12 python3.11 python3 python; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' >/dev/null 2>&1; then \
	    echo $$p; break; fi; done)

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "decide needs Python 3.11 or 3.12 (durable-rules does not import on 3.13); none found on PATH." >&2; \
	  echo "Install one (e.g. 'apt-get install python3.11 python3.11-venv' or pyenv) and run make again." >&2; exit 1; fi
	@echo "using $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/decide demo

lint: $(STAMP)
	$(VENV)/bin/ruff check engine optimizer simulations decide tests benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict engine optimizer simulations decide

unit: $(STAMP)
	$(VENV)/bin/pytest -q tests

bench: $(STAMP)
	$(VENV)/bin/pytest benchmarks --size=1m -s

test: lint typecheck unit
	$(VENV)/bin/pytest -q benchmarks --benchmark-disable --size=smallest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks
