"""Restarts forget nothing: users, orders, signing keys and revocations survive them."""

from __future__ import annotations

from tests.e2e.client import Client, bearer
from tests.e2e.stacks import Stack
from tests.support import stack_services


def test_data_keys_and_revocations_survive_restarts(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    access = tokens["access_token"]
    order = client.post(f"{stack.orders}/orders", access, {"item": "kept across restarts", "quantity": 1}).json()
    _revoked_user, revoked = client.new_user()
    assert client.post(f"{stack.auth}/auth/logout", revoked["access_token"]).status_code == 204

    # The services and the database restart: rows are still there and the same signing
    # key still verifies tokens issued before.
    stack.restart([*(s.name for s in stack_services()), "postgres"])
    assert client.me(access).json()["id"] == user["id"]
    fetched = client.http.get(f"{stack.orders}/orders/{order['id']}", headers=bearer(access))
    assert fetched.status_code == 200 and fetched.json() == order
    assert client.login(user["username"])["access_token"]

    # Redis restarts: a token revoked before it is still rejected after it, everywhere.
    stack.restart(["redis"])
    assert client.me(revoked["access_token"]).status_code == 401
    assert client.orders(revoked["access_token"]).status_code == 401
    assert client.me(access).status_code == 200
