# The two commands of the README: `make run` and `make test`. Everything they need is installed here:
# uv into .tools/ (kept apart from the app's .venv, which `uv sync` owns), the locked dependencies,
# and, for the browser tests, Debian's Chromium.
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
UV := .tools/bin/uv
PYTHON ?= python3
export UV_PROJECT_ENVIRONMENT := .venv

.PHONY: help run test lint typecheck unit bench sync login-link

help:
	@echo "make run   - start SCORM Hub (embedded PostgreSQL, built-in player, prints a login link)"
	@echo "make test  - lint, type-check and run every test (installs what the tests need)"
	@echo "make bench - run the benchmarks and rewrite bench/RESULTS.md"
	@echo "make login-link - print a fresh one-time admin login link"

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

sync: .venv/.synced

run: .venv/.synced
	$(UV) run --frozen --no-sync scormhub serve

login-link: .venv/.synced
	@$(UV) run --frozen --no-sync scormhub login-link

lint: .venv/.synced
	$(UV) run --frozen --no-sync ruff check src tests bench
	$(UV) run --frozen --no-sync ruff format --check src tests bench

typecheck: .venv/.synced
	$(UV) run --frozen --no-sync mypy

test: .venv/.synced lint typecheck
	scripts/ensure-chromium
	# Two workers (the suite's 2,200+ tests, browsers included, fit the 15-minute budget on 2 cores only
	# in parallel); each worker has its own PostgreSQL, S3 server and Chromium.
	$(UV) run --frozen --no-sync pytest -n 2

unit: .venv/.synced
	$(UV) run --frozen --no-sync pytest tests/unit -q

bench: .venv/.synced
	$(UV) run --frozen --no-sync python -m bench
