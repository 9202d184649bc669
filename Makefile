# Every command the README names. On a fresh machine `make dev` / `make up` and `make test`
# install what they need (a virtualenv with the pinned dependencies, redis-server if missing).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# End-to-end backends: all three when a Docker engine answers, else the local processes only.
E2E_BACKEND ?= $(shell docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1 && echo local,compose,scaled || echo local)

# Whether the composed stack runs here; if not, the commands below act on make dev's.
COMPOSE_RUNS := docker compose ps --quiet 2>/dev/null | grep -q .
DATA_DIR ?= var

.PHONY: help install dev up down up-scaled down-scaled env test test-unit test-e2e lint format clean audit walkthrough bench auth-cli redis-cli metrics logs
.DEFAULT_GOAL := help

## This list: every target, from the ## comment above it.
help:
	@awk '/^## /{doc = doc (doc ? " " : "") substr($$0, 4); next} /^[A-Z_]+ *[?:]?=/{next} /^[a-z][a-z0-9-]*:/{if (doc) {split($$0, t, ":"); printf "  make %-12s %s\n", t[1], doc} doc = ""; next} {doc = ""}' $(firstword $(MAKEFILE_LIST))

$(VENV)/.installed: requirements.txt requirements-dev.txt shared/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e shared
	touch $@

## The virtualenv with the pinned dependencies, and redis-server (as root: Debian's package).
install: $(VENV)/.installed
	@scripts/ensure-packages.sh redis-server

## With Docker: build and start the composed stack on 127.0.0.1:8001-8003, wait until healthy.
up: .env
	docker compose up --build --detach --wait
	@echo "stack up: auth http://127.0.0.1:8001  users http://127.0.0.1:8002  orders http://127.0.0.1:8003"

## Stop the composed stack; its volumes (users, orders, keys, revocations) are kept.
down:
	docker compose down

SCALED_COMPOSE := docker compose -f docker-compose.yml -f compose.scale.yml

## With Docker, scaled out: replicas behind HAProxy, Redis with Sentinel, the same ports (docs/operations.md).
up-scaled: .env
	$(SCALED_COMPOSE) up --build --detach --wait
	@echo "scaled stack up behind the load balancer: console http://127.0.0.1:8000, auth :8001, users :8002, orders :8003"

## Stop the scaled stack; its volumes are kept.
down-scaled:
	$(SCALED_COMPOSE) down

## A .env with generated secrets for docker compose (never overwrites an existing one).
env: .env
.env:
	$(PYTHON) scripts/make_env.py .env

## Without Docker: Redis and the three services as local processes (Ctrl-C stops them).
dev: install
	$(BIN)/python scripts/devstack.py

## Lint, unit tests and the end-to-end suite, in one pytest run.
test: lint
	@scripts/ensure-packages.sh wrk
	@echo "end-to-end backends: $(E2E_BACKEND)"
	E2E_BACKEND=$(E2E_BACKEND) $(BIN)/python -m pytest tests/unit tests/e2e

## The unit tests only (each service built by its factory, real Redis and SQLite).
test-unit: install
	$(BIN)/python -m pytest tests/unit

## The end-to-end suite only, on E2E_BACKEND (local, compose, scaled, or several: local,compose,scaled).
test-e2e: install
	@scripts/ensure-packages.sh wrk
	E2E_BACKEND=$(E2E_BACKEND) $(BIN)/python -m pytest tests/e2e

## ruff (format and checks), mypy --strict on shared/, hadolint on the Dockerfiles.
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile .ci/standin/*.Dockerfile

## Rewrite the code in the house format and apply ruff's safe fixes.
format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Remove the virtualenv and the tools' caches (var/ with make dev's state stays).
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## Security events of the last MINUTES (default 15): the composed stack's logs if it runs, else make dev's.
MINUTES ?= 15
audit: install
	@if $(COMPOSE_RUNS); then \
		docker compose logs --no-log-prefix --since $(MINUTES)m | $(BIN)/python scripts/audit_summary.py --minutes $(MINUTES); \
	else \
		$(BIN)/python scripts/audit_summary.py --minutes $(MINUTES) $(DATA_DIR)/logs/*.log; \
	fi

## auth_service's command line where the stack runs (in its container under compose, with
## make dev's environment otherwise), e.g. make auth-cli ARGS='keys rotate'.
auth-cli:
	@if $(COMPOSE_RUNS); then \
		docker compose exec -T auth_service flask --app auth_service $(ARGS); \
	else \
		$(MAKE) -s install && $(BIN)/python scripts/devstack.py auth-cli $(ARGS); \
	fi

## redis-cli as the Redis operator (the default user), e.g. make redis-cli ARGS='info clients'.
redis-cli:
	@if $(COMPOSE_RUNS); then \
		docker compose exec -T redis redis-cli $(ARGS); \
	else \
		$(PYTHON) scripts/devstack.py redis-cli $(ARGS); \
	fi

## One service's Prometheus metrics, summed over its replicas, e.g. make metrics SERVICE=users_service.
metrics:
	@if $(COMPOSE_RUNS); then \
		for container in $$(docker compose ps --quiet $(SERVICE)); do \
			docker exec $$container python3 -c 'import os, urllib.request as u; print(u.urlopen("http://127.0.0.1:%s/metrics" % os.environ["PORT"], timeout=10).read().decode())'; \
		done | $(PYTHON) scripts/sum_metrics.py; \
	else \
		$(PYTHON) scripts/devstack.py metrics $(SERVICE); \
	fi

## One service's log lines (JSON), e.g. make logs SERVICE=users_service.
logs:
	@if $(COMPOSE_RUNS); then \
		docker compose logs --no-log-prefix $(SERVICE); \
	else \
		cat $(DATA_DIR)/logs/$(SERVICE).log; \
	fi

## Run the README's curl session and docs/tutorial.md against the running stack (the admin
## account and the client secrets they use from .env or var/dev.env, unless set).
walkthrough: install
	@if $(COMPOSE_RUNS); then file=.env; else file=$(DATA_DIR)/dev.env; fi; \
	if [ -z "$$ADMIN_PASSWORD" ]; then export ADMIN_PASSWORD="$$(sed -n 's/^ADMIN_PASSWORD=//p' $$file)"; fi; \
	if [ -z "$$ADMIN_USERNAME" ]; then export ADMIN_USERNAME="$$(sed -n 's/^ADMIN_USERNAME=//p' $$file)"; fi; \
	if [ -z "$$ORDERS_SERVICE_CLIENT_SECRET" ]; then export ORDERS_SERVICE_CLIENT_SECRET="$$(sed -n 's/^ORDERS_SERVICE_CLIENT_SECRET=//p' $$file)"; fi; \
	if [ -z "$$DEV_CLIENT_SECRET" ]; then export DEV_CLIENT_SECRET="$$(sed -n 's/^DEV_CLIENT_SECRET=//p' $$file)"; fi; \
	$(BIN)/python scripts/walkthrough.py

## What authentication costs per request: starts its own stack on free ports, prints a
## table with the targets, writes bench/results/{results.json,chart.png}. BENCH_ARGS=--quick
## for a short smoke run; WEB_CONCURRENCY / GUNICORN_THREADS choose the gunicorn workers;
## BENCH_ARGS=--scaled measures the scaled stack instead (1 vs 3 replicas; needs Docker).
BENCH_ARGS ?=
bench: install
	@scripts/ensure-packages.sh wrk
	$(BIN)/python bench/run.py $(BENCH_ARGS)
