"""The three services as the unit tests run them, and what a client does with them.

``Services`` is what the session's ``services`` fixture (conftest.py) builds; ``Actions``
signs up and logs in through the real services (flaskr's ``AuthActions`` shape).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from apiflask import APIFlask

ADMIN_USERNAME = "admin"
DEFAULT_PASSWORD = "a long enough password"


@dataclass
class Services:
    auth: APIFlask
    users: APIFlask
    orders: APIFlask
    config: dict[str, Any]
    admin_password: str
    client_id: str
    client_secret: str


class Actions:
    """Sign-up and login through the real services, the way a client does it."""

    def __init__(self, services: Services):
        self.services = services
        self.auth = services.auth.test_client()
        self.users = services.users.test_client()
        self.orders = services.orders.test_client()

    def sign_up(self, username: str | None = None, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
        username = username or f"user-{uuid.uuid4().hex[:12]}"
        response = self.users.post("/users", json={"username": username, "password": password})
        assert response.status_code == 201, response.json
        return {**response.json, "password": password}

    def login(self, username: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
        response = self.auth.post("/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.json
        return dict(response.json)

    def new_user(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A signed-up user and its first token pair."""
        user = self.sign_up()
        return user, self.login(user["username"])

    def admin_tokens(self) -> dict[str, Any]:
        return self.login(ADMIN_USERNAME, self.services.admin_password)
