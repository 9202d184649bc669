# Every command the README names. On a fresh machine `make dev` and `make test` install what
# they need (a virtualenv with the pinned dependencies, and redis-server if it is missing).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install dev test test-unit test-e2e lint format clean

$(VENV)/.installed: requirements.txt requirements-dev.txt shared/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e shared
	touch $@

install: $(VENV)/.installed
	@scripts/ensure-redis.sh

## Run Redis and the three services as local processes on 8001/8002/8003 (Ctrl-C stops them).
dev: install
	$(BIN)/python scripts/devstack.py

## Lint, unit tests, then the end-to-end suite against a stack the suite starts itself.
test: lint
	$(BIN)/python -m pytest tests/unit tests/e2e

test-unit: install
	$(BIN)/python -m pytest tests/unit

## E2E_BACKEND=local (default) runs the stack as local processes.
test-e2e: install
	$(BIN)/python -m pytest tests/e2e

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
