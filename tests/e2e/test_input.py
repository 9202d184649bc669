"""Hostile input on the running stack: a clear JSON 4xx each time, and nothing stored."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.client import PASSWORD, Client, bearer
from tests.e2e.stacks import USERNAME_LIMIT_FAILURES, USERNAME_LIMIT_SECONDS, Stack

SIGN_UPS = {
    "username-too-short": {"username": "ab", "password": PASSWORD},
    "username-too-long": {"username": "u" * 33, "password": PASSWORD},
    "username-unicode-lookalike": {"username": "аdmin", "password": PASSWORD},  # Cyrillic а
    "username-with-newline": {"username": "admin\n", "password": PASSWORD},
    "password-too-short": {"username": "short-pw-user", "password": "x"},
    "password-not-a-string": {"username": "number-pw-user", "password": 123456789012345},
    "extra-role-field": {"username": "sneaky-user", "password": PASSWORD, "roles": ["admin"]},
    "nul-in-username": {"username": "nul\u0000user", "password": PASSWORD},
}
ORDERS = {
    "zero-quantity": {"item": "x", "quantity": 0},
    "quantity-as-string": {"item": "x", "quantity": "2"},
    "quantity-as-float": {"item": "x", "quantity": 2.5},
    "huge-quantity": {"item": "x", "quantity": 10**30},
    "empty-item": {"item": "", "quantity": 1},
    "item-too-long": {"item": "x" * 201, "quantity": 1},
    "spoofed-owner": {"item": "x", "quantity": 1, "user_id": "someone-else"},
    "lone-surrogate": '{"item": "\\ud800", "quantity": 1}',
}


def admin_user_count(client: Client, stack: Stack) -> int:
    token = client.login(stack.admin_username, stack.admin_password)["access_token"]
    total, offset = 0, 0
    while True:
        page = client.http.get(f"{stack.users}/users?limit=100&offset={offset}", headers=bearer(token)).json()["users"]
        total += len(page)
        if len(page) < 100:
            return total
        offset += 100


def post_json(client: Client, url: str, body: Any, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    if isinstance(body, str):
        return client.http.post(url, data=body.encode(), headers=headers)
    return client.http.post(url, json=body, headers=headers)


def test_bad_sign_ups_are_refused_and_store_nothing(client: Client, stack: Stack) -> None:
    before = admin_user_count(client, stack)
    for name, body in SIGN_UPS.items():
        response = post_json(client, f"{stack.users}/users", body)
        assert response.status_code == 400, name
        assert response.json()["error"] == "invalid_request", name
    assert admin_user_count(client, stack) == before


def test_bad_orders_are_refused_and_store_nothing(client: Client, stack: Stack) -> None:
    _user, tokens = client.new_user()
    for name, body in ORDERS.items():
        response = post_json(client, f"{stack.orders}/orders", body, tokens["access_token"])
        assert response.status_code == 400, name
        assert set(response.json()) >= {"error", "message"}, name
    assert client.orders(tokens["access_token"]).json() == {"orders": []}


@pytest.mark.parametrize("path", ["/users", "/orders"])
def test_a_huge_body_is_413(client: Client, stack: Stack, path: str) -> None:
    _user, tokens = client.new_user()
    base = stack.users if path == "/users" else stack.orders
    response = post_json(
        client, base + path, {"item": "x" * 200_000, "username": "x", "quantity": 1}, tokens["access_token"]
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_non_json_body_is_refused(client: Client, stack: Stack, content_type: str) -> None:
    response = client.http.post(
        f"{stack.users}/users", data=b"username=x&password=y", headers={"Content-Type": content_type}
    )
    assert response.status_code in (400, 415)
    assert "error" in response.json()


def test_unicode_is_kept_as_sent(client: Client, stack: Stack) -> None:
    _user, tokens = client.new_user()
    item = "茶 · thé · 🍵"
    response = post_json(client, f"{stack.orders}/orders", {"item": item, "quantity": 1}, tokens["access_token"])
    assert response.status_code == 201
    assert response.json()["item"] == item


def test_login_lockout_is_429_and_expires_by_itself(client: Client, stack: Stack) -> None:
    user = client.sign_up()
    for _ in range(USERNAME_LIMIT_FAILURES):
        wrong = client.http.post(f"{stack.auth}/auth/login", json={"username": user["username"], "password": "nope!"})
        assert wrong.status_code == 401
    locked = client.http.post(f"{stack.auth}/auth/login", json={"username": user["username"], "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_requests"
    assert 0 < int(locked.headers["Retry-After"]) <= USERNAME_LIMIT_SECONDS
    # Another user is not affected, and the lock ends by itself.
    assert client.new_user()[1]["access_token"]
    time.sleep(USERNAME_LIMIT_SECONDS + 1)
    assert client.login(user["username"])["access_token"]
