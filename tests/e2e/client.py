"""What a client application does against the stack, over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import requests

from tests.e2e.stacks import Stack
from tests.support import bearer

PASSWORD = "correct horse battery staple"
REQUEST_TIMEOUT_SECONDS = 15


class _TimedSession(requests.Session):
    """A session whose every request has a timeout: a hung service fails the test, not CI."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        return super().request(method, url, *args, **kwargs)


class Client:
    """What a client application does against the stack."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.http = _TimedSession()

    def sign_up(self) -> dict[str, Any]:
        username = f"e2e-{uuid.uuid4().hex[:10]}"
        response = self.http.post(f"{self.stack.users}/users", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.http.post(f"{self.stack.auth}/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def new_user(self) -> tuple[dict[str, Any], dict[str, Any]]:
        user = self.sign_up()
        return user, self.login(user["username"])

    def me(self, token: str) -> requests.Response:
        return self.http.get(f"{self.stack.users}/users/me", headers=bearer(token))

    def orders(self, token: str) -> requests.Response:
        return self.http.get(f"{self.stack.orders}/orders", headers=bearer(token))

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.http.post(f"{self.stack.auth}/auth/refresh", headers=bearer(refresh_token))

    def post(self, url: str, token: str, body: Any = None) -> requests.Response:
        return self.http.post(url, headers=bearer(token), json=body)
