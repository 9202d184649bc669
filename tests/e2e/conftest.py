"""Start the whole stack once per session and drive it over HTTP.

One switch, ``E2E_BACKEND``, chooses how the stack runs; the tests are the same:
  local    (default) the local processes of ``make dev`` (scripts/devstack.py), with a
           fresh data directory and free ports.
  compose  docker-compose.yml, built and started by testcontainers' DockerCompose under
           its own project name and free ports, torn down with its volumes afterwards.
  scaled   docker-compose.yml with compose.scale.yml: replicas behind HAProxy, Redis with
           Sentinel.
  E2E_BACKEND=local,compose,scaled runs every test on each, one backend after the other
  (the test ids say which: ``[local]``, ``[compose]``, ``[scaled]``).
A test marked ``compose_only`` (containers) runs on the composed stacks only, one marked
``scaled_only`` (replicas, failover) on the scaled stack only; elsewhere it is deselected,
and pytest's summary counts it so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.e2e.stacks import BACKENDS, Stack, compose_stack, local_stack

if TYPE_CHECKING:
    from tests.e2e.client import Client


def chosen_backends() -> list[str]:
    chosen = [b.strip() for b in os.environ.get("E2E_BACKEND", "local").split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown or not chosen:
        raise pytest.UsageError(f"E2E_BACKEND={','.join(chosen)!r}; choose from {', '.join(BACKENDS)}")
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "compose_only: about the containers; runs on the composed stacks only")
    config.addinivalue_line("markers", "scaled_only: about replicas and failover; runs on the scaled stack only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect compose_only and scaled_only tests on every other backend (pytest reports them as deselected)."""
    runs_on = {"compose_only": ("compose", "scaled"), "scaled_only": ("scaled",)}

    def backend(item: pytest.Item) -> object:
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("stack") if callspec is not None else None

    elsewhere = [
        item
        for item in items
        if any(item.get_closest_marker(marker) and backend(item) not in on for marker, on in runs_on.items())
    ]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if item not in elsewhere]


# Session-scoped and parametrized: pytest runs all tests on one backend, tears it down,
# then starts the next, so two stacks never run at once.
@pytest.fixture(scope="session", params=chosen_backends())
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    scratch = tmp_path_factory.mktemp(request.param)
    if request.param == "local":
        started = local_stack(scratch)
    else:
        started = compose_stack(scratch, scaled=request.param == "scaled")
    with started as running:
        yield running


@pytest.fixture
def client(stack: Stack) -> Client:
    from tests.e2e.client import Client

    return Client(stack)
