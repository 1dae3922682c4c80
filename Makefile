# Two commands matter: `make run` (embedded, no services needed) and `make test` (PostgreSQL + Redis).
# The virtualenv is created on first use and re-synced only when a requirements file changes.

# Interpreter used to create the venv: python3.11 when it works, otherwise python3.
PYTHON ?= $(shell python3.11 -c 'import sys' >/dev/null 2>&1 && echo python3.11 || echo python3)
# Where the venv lives. CI points this at a throwaway directory: `VENV=$(mktemp -d)/venv make test`.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
MANAGE := $(BIN)/python manage.py

# Test services; the environment overrides these defaults.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/emergency
CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-m 'not browser' -x"`.
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one per core by default; 0 runs everything in one process. Each
# process has its own test database; tests that start real Celery workers stay on one process.
PYTEST_WORKERS ?= auto

.DEFAULT_GOAL := help
comma := ,
.PHONY: help venv run test lint worker beat messages

help:
	@echo "make run       migrate, load demo data and serve http://127.0.0.1:8000 (SQLite under var/, no services)"
	@echo "make test      run the test suite (needs PostgreSQL and Redis; DATABASE_URL / CELERY_BROKER_URL)"
	@echo "make lint      ruff check"
	@echo "make worker    Celery worker on every queue, or QUEUES=dispatch|ingest|reports[,…] (needs CELERY_BROKER_URL)"
	@echo "make beat      Celery beat with the database scheduler (needs CELERY_BROKER_URL)"
	@echo "make messages  makemessages (zh_Hans, en) + compilemessages (needs gettext); commit the .po and .mo"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file is newer than the stamp (or the venv is new).
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

# `make run` never reads DATABASE_URL/CELERY_BROKER_URL defaults from this file: they are
# only passed to the test target, so local runs stay on SQLite with in-process tasks.
run: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.local $(MANAGE) migrate
	DJANGO_SETTINGS_MODULE=config.settings.local $(MANAGE) load_demo
	DJANGO_SETTINGS_MODULE=config.settings.local $(MANAGE) runserver 127.0.0.1:8000

# axe-core for the browser tests' accessibility audit, from the npm registry at the locked version.
AXE := tests/browser/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund
	@touch $@

test: $(STAMP) $(AXE)
	DATABASE_URL='$(DATABASE_URL)' CELERY_BROKER_URL='$(CELERY_BROKER_URL)' \
		$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Every queue (dispatch, ingest, reports) unless QUEUES names some: `make worker QUEUES=ingest`.
worker: $(STAMP)
	$(BIN)/celery -A config worker -l info$(if $(QUEUES), -Q $(QUEUES) -n $(subst $(comma),-,$(QUEUES))@%h)

beat: $(STAMP)
	$(BIN)/celery -A config beat -l info --scheduler django_celery_beat.schedulers:DatabaseScheduler

# Hidden directories (.venv), var/ and an out-of-tree venv are skipped so only our strings are scanned.
messages: $(STAMP)
	DJANGO_SETTINGS_MODULE=config.settings.local $(MANAGE) makemessages -l zh_Hans -l en --ignore=tests \
		--ignore='.*' --ignore=var --ignore='$(VENV)'
	DJANGO_SETTINGS_MODULE=config.settings.local $(MANAGE) compilemessages \
		--ignore='.*' --ignore=var --ignore='$(VENV)'
