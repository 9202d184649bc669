"""The three services built by their factories and served on loopback threads.

Each service calls its peers over real HTTP (JWKS, credential check, token relay), so the
unit tests run every app in-process behind a werkzeug server on a free port, with real
Redis and real SQLite files. Tests use ``app.test_client()`` for the service under test.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer, make_server

from auth_service import create_app as create_auth_app
from orders_service import create_app as create_orders_app
from tests.support import free_port
from users_service import create_app as create_users_app

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


def _serve(app: APIFlask, port: int) -> BaseWSGIServer:
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def services(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """auth, users and orders wired to each other exactly as in production."""
    data: Path = tmp_path_factory.mktemp("services")
    ports = {name: free_port() for name in ("auth", "users", "orders")}
    admin_password = secrets.token_urlsafe(16)
    client_secret = secrets.token_urlsafe(32)
    config = {
        "REDIS_URL": redis_url,
        "JWT_ISSUER": f"http://127.0.0.1:{ports['auth']}",
        "JWKS_URL": f"http://127.0.0.1:{ports['auth']}/.well-known/jwks.json",
        "USERS_SERVICE_URL": f"http://127.0.0.1:{ports['users']}",
        "KEYS_DIR": str(data / "keys"),
        "ADMIN_USERNAME": ADMIN_USERNAME,
        "ADMIN_PASSWORD": admin_password,
        "SERVICE_CLIENTS": f'{{"reporting": {{"secret": "{client_secret}", "scopes": "users:read orders:read"}}}}',
        "LOG_LEVEL": "WARNING",
        # Every sign-up of the suite comes from one address; the limit is tested on its own.
        "SIGNUP_LIMIT_PER_ADDRESS": "100000 per hour",
    }
    # In production order: auth_service first, so the others find its JWKS at start-up.
    auth = create_auth_app(config)
    servers = [_serve(auth, ports["auth"])]
    users = create_users_app({**config, "DATABASE_URL": f"sqlite:///{data / 'users.db'}"})
    servers.append(_serve(users, ports["users"]))
    orders = create_orders_app({**config, "DATABASE_URL": f"sqlite:///{data / 'orders.db'}"})
    servers.append(_serve(orders, ports["orders"]))
    yield Services(auth, users, orders, config, admin_password, "reporting", client_secret)
    for server in servers:
        server.shutdown()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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


@pytest.fixture
def actions(services: Services) -> Actions:
    return Actions(services)


@pytest.fixture
def auth_client(services: Services) -> FlaskClient:
    return services.auth.test_client()


@pytest.fixture
def users_client(services: Services) -> FlaskClient:
    return services.users.test_client()


@pytest.fixture
def orders_client(services: Services) -> FlaskClient:
    return services.orders.test_client()
