"""Faults: a dependency goes down, every answer stays safe and clear, and all recovers by itself.

On the compose backend a service is stopped (connections refused); on the local backend its
processes are paused (connections accepted, never answered: time-outs). Either way:
  Redis down           -> every protected endpoint 503 with Retry-After (never a 200) once
                          a worker's revocation memory has lapsed (10 ms without a word
                          from Redis, revocation_cache.py), /readyz 503, and no restart
                          needed once Redis is back;
  auth_service down    -> users and orders keep verifying valid tokens (cached JWKS);
  users_service down   -> login answers a clear 503, not a 500 and not a hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests

from secure_service.revocation_cache import MAX_STALENESS_SECONDS
from tests.e2e.client import Client
from tests.e2e.stacks import Stack
from tests.support import eventually

#: The longest a request may take while a dependency is down (Redis time-outs are 1 s with
#: one retry, peer calls 3 s): an answer, not a hang.
ANSWER_WITHIN_SECONDS = 10
RECOVERY_SECONDS = 60


@contextmanager
def service_down(stack: Stack, name: str) -> Iterator[None]:
    stack.stop_service(name)
    try:
        yield
    finally:
        stack.start_service(name)


def timed(call: Callable[[], requests.Response]) -> requests.Response:
    started = time.monotonic()
    response = call()
    assert time.monotonic() - started < ANSWER_WITHIN_SECONDS
    return response


def test_redis_down_fails_closed_and_recovers_by_itself(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    access = tokens["access_token"]
    protected: dict[str, Callable[[], requests.Response]] = {
        "GET /users/me": lambda: client.me(access),
        "GET /orders": lambda: client.orders(access),
        "POST /orders": lambda: client.post(f"{stack.orders}/orders", access, {"item": "x", "quantity": 1}),
        "POST /auth/logout-all": lambda: client.post(f"{stack.auth}/auth/logout-all", access),
        "POST /auth/refresh": lambda: client.refresh(tokens["refresh_token"]),
        "POST /auth/login": lambda: client.http.post(
            f"{stack.auth}/auth/login", json={"username": user["username"], "password": "a wrong password"}
        ),
    }
    assert client.me(access).status_code == 200
    with service_down(stack, "redis"):
        # A worker may answer from memory while Redis confirmed its subscription less than
        # MAX_STALENESS_SECONDS ago (the bound every revocation keeps); after that, Redis.
        time.sleep(MAX_STALENESS_SECONDS * 5)
        for name, call in protected.items():
            response = timed(call)
            assert response.status_code == 503, f"{name}: {response.status_code} {response.text[:200]}"
            assert response.json()["error"] == "service_unavailable"
            assert int(response.headers["Retry-After"]) > 0
        for url in (stack.auth, stack.users, stack.orders):
            ready = timed(lambda url=url: requests.get(f"{url}/readyz", timeout=ANSWER_WITHIN_SECONDS))
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"] == "unavailable"
    # Nothing restarted but Redis: the services reconnect on their own.
    assert eventually(lambda: client.me(access).status_code == 200, RECOVERY_SECONDS)
    assert eventually(lambda: client.orders(access).status_code == 200, RECOVERY_SECONDS)
    assert client.login(user["username"])["access_token"]


def test_auth_service_down_does_not_stop_verification(client: Client, stack: Stack) -> None:
    _user, tokens = client.new_user()
    access = tokens["access_token"]
    assert client.me(access).status_code == 200 and client.orders(access).status_code == 200
    with service_down(stack, "auth_service"):
        for _ in range(5):  # several requests, so several gunicorn workers answer
            assert timed(lambda: client.me(access)).status_code == 200
            assert timed(lambda: client.orders(access)).status_code == 200
    assert eventually(lambda: requests.get(f"{stack.auth}/readyz", timeout=5).status_code == 200, RECOVERY_SECONDS)


def test_auth_service_down_makes_a_new_order_a_clear_503(client: Client, stack: Stack) -> None:
    # Placing an order needs a token exchanged at auth_service (orders_service never relays
    # the caller's own token): with auth_service down, a token not yet exchanged cannot
    # place one. The answer is a quick 503 the client may retry, never a relayed token.
    _user, tokens = client.new_user()
    access = tokens["access_token"]
    with service_down(stack, "auth_service"):
        created = timed(lambda: client.post(f"{stack.orders}/orders", access, {"item": "offline", "quantity": 1}))
        assert created.status_code == 503
        assert created.json()["error"] == "service_unavailable" and "Retry-After" in created.headers
        assert client.orders(access).json()["orders"] == []  # nothing was placed
    assert eventually(lambda: requests.get(f"{stack.auth}/readyz", timeout=5).status_code == 200, RECOVERY_SECONDS)
    created = client.post(f"{stack.orders}/orders", access, {"item": "back", "quantity": 1})
    assert created.status_code == 201


def test_users_service_down_makes_login_a_clear_503(client: Client, stack: Stack) -> None:
    user = client.sign_up()
    with service_down(stack, "users_service"):
        response = timed(
            lambda: client.http.post(
                f"{stack.auth}/auth/login",
                json={"username": user["username"], "password": "correct horse battery staple"},
                timeout=ANSWER_WITHIN_SECONDS,
            )
        )
        assert response.status_code == 503
        assert response.json()["error"] == "service_unavailable"
        assert "Retry-After" in response.headers
    assert eventually(lambda: requests.get(f"{stack.users}/readyz", timeout=5).status_code == 200, RECOVERY_SECONDS)
    tokens = client.login(user["username"])
    assert client.me(tokens["access_token"]).status_code == 200
