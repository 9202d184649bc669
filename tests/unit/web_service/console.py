"""A person's browser on the console, as the unit tests drive it (flaskr's AuthActions shape)."""

from __future__ import annotations

import ipaddress
import re
import secrets
import uuid
from typing import Any

from flask.testing import FlaskClient

from tests.unit.services import DEFAULT_PASSWORD

ORIGIN = "http://localhost:8000"


def some_address() -> str:
    """An address of its own: the limits behind the console count this browser alone."""
    return str(ipaddress.IPv4Address(0x0A000000 + secrets.randbelow(2**24)))


class Console:
    """A person's browser on the console, at an address of its own: it follows the forms it is shown."""

    def __init__(self, client: FlaskClient):
        self.client = client
        # Its own address, so failed logins in one test cannot lock another test's browser out.
        client.environ_base["REMOTE_ADDR"] = some_address()

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def csrf(self, path: str) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def post(self, path: str, data: dict[str, str], *, form_from: str | None = None, origin: str = ORIGIN) -> Any:
        token = self.csrf(form_from or path)
        return self.client.post(path, data={"csrf_token": token, **data}, headers={"Origin": origin})

    def sign_up(self, username: str | None = None) -> str:
        username = username or f"web-{uuid.uuid4().hex[:10]}"
        response = self.post("/signup", {"username": username, "password": DEFAULT_PASSWORD})
        assert response.status_code == 302 and response.headers["Location"].endswith("/profile"), response.data
        return username

    def cookie(self) -> str | None:
        cookie = self.client.get_cookie("console")
        return cookie.value if cookie else None
