# OpenROI developer commands. A fresh machine needs only Python 3.11+ (and GNU make):
#   make run    set up everything, seed a demo organisation, serve the app with a Celery worker and beat
#   make test   set up everything, run the whole suite        (make test ARGS="-k deadline -x")
# Without DATABASE_URL / REDIS_URL, both use embedded PostgreSQL and Valkey servers with their data in var/
# (roi/devstack.py). docs/running.md has the details.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Reinstalls only when requirements.lock changes (or the venv is new).
INSTALLED := $(VENV)/.installed-requirements
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test services stop lint fmt lock clean clean-data demo-code

help: ## Show this list
	@echo "OpenROI - make targets (PYTHON=$(PYTHON), venv in $(VENV)):"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@if [ -f benchmarks/__main__.py ]; then printf '  make %-12s %s\n' bench 'Run the benchmarks (python -m benchmarks; ARGS="..." passed on)'; fi

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "OpenROI needs Python 3.11 or newer; this is " + sys.version.split()[0] + ". Run make PYTHON=python3.11 ...")'
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "Could not create $(VENV). On Debian/Ubuntu: apt-get install python3-venv"; exit 1; }

$(INSTALLED): requirements.lock | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $@

install: $(INSTALLED) ## Create .venv and install requirements.lock (done by every target that needs it)

run: $(INSTALLED) ## Serve the app at http://127.0.0.1:8000/ (PORT=... to change) with worker and beat (Ctrl-C stops all)
	$(PY) -m roi.devstack run

test: $(INSTALLED) ## Run the test suite; pass pytest options with ARGS="..."
	$(PY) -m roi.devstack test -- $(ARGS)

services: $(INSTALLED) ## Only start PostgreSQL and Valkey; prints export lines for running pytest by hand
	$(PY) -m roi.devstack services

demo-code: $(INSTALLED) ## Print the demo accounts' current two-factor code (changes every 30 s)
	@$(PY) -m portal.demo_two_factor

stop: $(INSTALLED) ## Stop embedded servers left running for var/ (e.g. after a killed run)
	$(PY) -m roi.devstack stop

# Settings for the checks that import Django: well-formed, never connected to.
LINT_ENV := SECRET_KEY=lint-only-key-0123456789abcdef0123456789 DATABASE_URL=postgres://lint@127.0.0.1:1/lint \
	REDIS_URL=redis://127.0.0.1:1/0 DEBUG=false

lint: $(INSTALLED) ## ruff, the import contracts (app order, layers), mypy on roi/ and workflow/, no missing migration
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	env $(LINT_ENV) $(VENV)/bin/mypy
	env $(LINT_ENV) $(PY) -W ignore::RuntimeWarning manage.py makemigrations --check --dry-run --skip-checks

fmt: $(INSTALLED) ## Format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: ## Regenerate requirements.lock from requirements.in in a throwaway venv
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.in; \
	"$$tmp/venv/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable > "$$tmp/requirements.lock"; \
	mv "$$tmp/requirements.lock" requirements.lock; \
	echo "requirements.lock regenerated ($$(wc -l < requirements.lock) packages)"

ifneq ($(wildcard benchmarks/__main__.py),)
.PHONY: bench
bench: $(INSTALLED)
	$(PY) -m roi.devstack exec -- $(PY) -m benchmarks $(ARGS)
endif

.PHONY: load
load: $(INSTALLED) ## Load test of the production topology (python -m ops.load; ARGS="--seconds 60 --users 50")
	$(PY) -m ops.load $(ARGS)

clean: ## Remove the venv and tool caches (keeps var/ data)
	rm -rf $(VENV) .venv-load .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './var/*' -prune -exec rm -rf {} +

clean-data: ## Stop the embedded servers and delete var/ (database, Redis data, media, secret key)
	@if [ -x $(PY) ] && [ -d var ]; then $(PY) -m roi.devstack stop; fi
	rm -rf var
