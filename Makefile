# cais — quick start: `make demo` then `make test` (Debian 12, as root).
SHELL := /bin/sh
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test unit integration lint bench up clean fmt system-demo system-test system-bench

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test,bench]'
	@$(PY) -m compileall -q src
	@rm -f $(VENV)/.installed-*
	@touch $@

system-demo:
	@scripts/ensure-system.sh demo
system-test:
	@scripts/ensure-system.sh test
system-bench:
	@scripts/ensure-system.sh bench

demo: system-demo $(STAMP)
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/demo.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache src tests bench
	$(VENV)/bin/ruff format --no-cache --check src tests bench
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: system-test $(STAMP)
	$(PY) -m pytest -q tests/integration tests/e2e

test: system-test lint
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: system-bench $(STAMP)
	$(PY) -m bench

up: system-demo $(STAMP)
	$(VENV)/bin/cais up

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .mypy_cache .ruff_cache .pytest_cache

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench
