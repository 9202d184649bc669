"""The three services built by their factories and served on loopback threads.

Each service calls its peers over real HTTP (JWKS, credential check, token relay), so the
unit tests run every app in-process behind a werkzeug server on a free port, with real
Redis and real SQLite files. Tests use ``app.test_client()`` for the service under test.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from auth_service import create_app as create_auth_app
from orders_service import create_app as create_orders_app
from tests.support import free_port, serve_on_loopback
from tests.unit.services import ADMIN_USERNAME, Actions, Services
from users_service import create_app as create_users_app


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
        "AUTH_SERVICE_URL": f"http://127.0.0.1:{ports['auth']}",
        "ORDERS_SERVICE_URL": f"http://127.0.0.1:{ports['orders']}",
        "ORDERS_SERVICE_CLIENT_SECRET": secrets.token_urlsafe(32),
        "WEB_SERVICE_CLIENT_SECRET": secrets.token_urlsafe(32),
        "KEYS_DIR": str(data / "keys"),
        "ADMIN_USERNAME": ADMIN_USERNAME,
        "ADMIN_PASSWORD": admin_password,
        "SERVICE_CLIENTS": json.dumps(
            {"reporting": {"secret": client_secret, "scopes": "users:read orders:read", "introspect": True}}
        ),
        "LOG_LEVEL": "WARNING",
        # Every sign-up of the suite comes from one address; the limit is tested on its own.
        "SIGNUP_LIMIT_PER_ADDRESS": "100000 per hour",
    }
    # In production order: auth_service first, so the others find its JWKS at start-up.
    auth = create_auth_app(config)
    servers = [serve_on_loopback(auth, ports["auth"])]
    users = create_users_app({**config, "DATABASE_URL": f"sqlite:///{data / 'users.db'}"})
    servers.append(serve_on_loopback(users, ports["users"]))
    orders = create_orders_app({**config, "DATABASE_URL": f"sqlite:///{data / 'orders.db'}"})
    servers.append(serve_on_loopback(orders, ports["orders"]))
    yield Services(auth, users, orders, config, admin_password, "reporting", client_secret)
    for server in servers:
        server.shutdown()


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
