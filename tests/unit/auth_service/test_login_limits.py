"""Login brute-force limits: per username and per address, 429 + Retry-After, self-expiring."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from apiflask import APIFlask

from auth_service import create_app
from secure_service import SettingsError
from tests.support import free_port
from tests.unit.services import DEFAULT_PASSWORD, Actions, Services

WINDOW_SECONDS = 3
Login = Callable[..., Any]


@pytest.fixture
def limited_app(services: Services) -> APIFlask:
    return create_app(
        {
            **services.config,
            "LOGIN_LIMIT_PER_USERNAME": f"3 per {WINDOW_SECONDS} seconds",
            "LOGIN_LIMIT_PER_ADDRESS": f"6 per {WINDOW_SECONDS} seconds",
        }
    )


@pytest.fixture
def login(limited_app: APIFlask) -> Login:
    client = limited_app.test_client()
    default_address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"

    def _login(username: str, password: str, address: str = default_address) -> Any:
        return client.post(
            "/auth/login",
            json={"username": username, "password": password},
            environ_base={"REMOTE_ADDR": address},
        )

    return _login


def test_a_username_is_locked_after_repeated_failures_even_for_the_right_password(
    actions: Actions, login: Login
) -> None:
    user = actions.sign_up()
    for _ in range(3):
        assert login(user["username"], "wrong password!").status_code == 401
    locked = login(user["username"], DEFAULT_PASSWORD, address="192.0.2.1")
    assert locked.status_code == 429
    assert locked.json["error"] == "too_many_requests"
    assert 0 < int(locked.headers["Retry-After"]) <= WINDOW_SECONDS


def test_the_username_counter_ignores_case(actions: Actions, login: Login) -> None:
    user = actions.sign_up()
    for name in (user["username"], user["username"].upper(), user["username"].title()):
        login(name, "wrong password!")
    assert login(user["username"], DEFAULT_PASSWORD).status_code == 429


def test_another_users_success_does_not_reset_a_locked_counter(actions: Actions, login: Login) -> None:
    victim, other = actions.sign_up(), actions.sign_up()
    for _ in range(3):
        login(victim["username"], "wrong password!", address="192.0.2.2")
    assert login(other["username"], DEFAULT_PASSWORD, address="192.0.2.3").status_code == 200
    assert login(victim["username"], DEFAULT_PASSWORD, address="192.0.2.4").status_code == 429


def test_the_lock_expires_by_itself(actions: Actions, login: Login) -> None:
    user = actions.sign_up()
    for _ in range(3):
        login(user["username"], "wrong password!")
    assert login(user["username"], DEFAULT_PASSWORD).status_code == 429
    time.sleep(WINDOW_SECONDS + 0.5)
    assert login(user["username"], DEFAULT_PASSWORD).status_code == 200


def test_one_address_cannot_spray_many_usernames(actions: Actions, login: Login) -> None:
    for attempt in range(6):
        assert login(f"sprayed-{attempt}-{secrets.token_hex(4)}", "guess!", address="198.51.100.7").status_code == 401
    user = actions.sign_up()
    assert login(user["username"], DEFAULT_PASSWORD, address="198.51.100.7").status_code == 429
    assert login(user["username"], DEFAULT_PASSWORD, address="198.51.100.8").status_code == 200


def test_successful_logins_are_not_counted(actions: Actions, login: Login) -> None:
    user = actions.sign_up()
    for _ in range(5):
        assert login(user["username"], DEFAULT_PASSWORD).status_code == 200


def test_redis_down_makes_login_503_not_500(services: Services) -> None:
    app = create_app({**services.config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = app.test_client().post("/auth/login", json={"username": "someone", "password": "whatever it is"})
    assert response.status_code == 503
    assert response.json["error"] == "service_unavailable"


def test_an_unparsable_limit_stops_start_up(services: Services) -> None:
    with pytest.raises(SettingsError, match="LOGIN_LIMIT_PER_USERNAME"):
        create_app({**services.config, "LOGIN_LIMIT_PER_USERNAME": "lots"})


def test_a_failed_login_below_the_limit_carries_no_rate_limit_headers(actions: Actions, login: Login) -> None:
    user = actions.sign_up()
    failed = login(user["username"], "wrong password!")
    assert failed.status_code == 401
    assert "Retry-After" not in failed.headers
    assert not [name for name in failed.headers.keys() if name.lower().startswith("x-ratelimit")]


def test_an_ipv6_client_is_counted_by_its_slash_64(actions: Actions, login: Login) -> None:
    # One subscriber holds a whole /64: hopping addresses inside it must not reset the count.
    for host in range(1, 7):
        assert login(f"sprayed-{secrets.token_hex(4)}", "guess!", address=f"2001:db8:1:2::{host:x}").status_code == 401
    user = actions.sign_up()
    assert login(user["username"], DEFAULT_PASSWORD, address="2001:db8:1:2:ffff::1").status_code == 429
    assert login(user["username"], DEFAULT_PASSWORD, address="2001:db8:1:3::1").status_code == 200


@pytest.fixture
def proxied_login(services: Services) -> Login:
    app = create_app(
        {**services.config, "TRUSTED_PROXY_HOPS": "1", "LOGIN_LIMIT_PER_ADDRESS": f"2 per {WINDOW_SECONDS} seconds"}
    )
    client = app.test_client()

    def _login(username: str, password: str, forwarded_for: str) -> Any:
        return client.post(
            "/auth/login",
            json={"username": username, "password": password},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},  # every request comes through the one proxy
            headers={"X-Forwarded-For": forwarded_for},
        )

    return _login


def test_behind_a_trusted_proxy_each_client_has_its_own_counter(actions: Actions, proxied_login: Login) -> None:
    for _ in range(2):
        proxied_login(f"sprayed-{secrets.token_hex(4)}", "guess!", forwarded_for="203.0.113.9")
    user = actions.sign_up()
    assert proxied_login(user["username"], DEFAULT_PASSWORD, forwarded_for="203.0.113.9").status_code == 429
    assert proxied_login(user["username"], DEFAULT_PASSWORD, forwarded_for="203.0.113.10").status_code == 200


def test_without_trusted_proxies_x_forwarded_for_is_ignored(
    actions: Actions, limited_app: APIFlask, login: Login
) -> None:
    for attempt in range(6):
        login(f"sprayed-{attempt}-{secrets.token_hex(4)}", "guess!", address="198.51.100.20")
    user = actions.sign_up()
    # A client cannot escape its counter by claiming another address.
    response = limited_app.test_client().post(
        "/auth/login",
        json={"username": user["username"], "password": DEFAULT_PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.20"},
        headers={"X-Forwarded-For": "203.0.113.50"},
    )
    assert response.status_code == 429


@pytest.fixture
def console_login(limited_app: APIFlask, services: Services) -> Login:
    """Logins as the console sends them: all from its one address, each naming its browser's."""
    client = limited_app.test_client()
    credentials = ("web_service", services.config["WEB_SERVICE_CLIENT_SECRET"])

    def _login(username: str, password: str, browser: str, auth: tuple[str, str] = credentials) -> Any:
        return client.post(
            "/auth/login",
            json={"username": username, "password": password},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
            headers={"End-User-Address": browser},
            auth=auth,
        )

    return _login


def test_behind_the_console_one_browsers_failures_lock_out_that_browser_only(
    actions: Actions, console_login: Login
) -> None:
    for attempt in range(6):
        console_login(f"sprayed-{attempt}-{secrets.token_hex(4)}", "guess!", browser="203.0.113.66")
    user = actions.sign_up()

    assert console_login(user["username"], DEFAULT_PASSWORD, browser="203.0.113.66").status_code == 429
    assert console_login(user["username"], DEFAULT_PASSWORD, browser="203.0.113.67").status_code == 200


def test_only_the_consoles_client_may_name_the_address_a_login_is_counted_by(
    actions: Actions, services: Services, limited_app: APIFlask, login: Login, console_login: Login
) -> None:
    for attempt in range(6):
        login(f"sprayed-{attempt}-{secrets.token_hex(4)}", "guess!", address="198.51.100.30")
    user = actions.sign_up()
    client = limited_app.test_client()
    reporting = ("reporting", services.client_secret)  # a client, but not allowed to name anyone
    for auth in (None, reporting):
        response = client.post(
            "/auth/login",
            json={"username": user["username"], "password": DEFAULT_PASSWORD},
            environ_base={"REMOTE_ADDR": "198.51.100.30"},
            headers={"End-User-Address": "203.0.113.80"},
            auth=auth,
        )
        assert response.status_code == 429, auth
    wrong_secret = console_login(user["username"], DEFAULT_PASSWORD, "203.0.113.81", auth=("web_service", "x" * 40))
    assert wrong_secret.status_code == 401
    assert wrong_secret.json["error"] == "invalid_client"


@pytest.mark.parametrize("named", ["", "not-an-address", "203.0.113.1, 203.0.113.2"])
def test_a_named_address_that_is_not_one_ip_is_refused(actions: Actions, console_login: Login, named: str) -> None:
    user = actions.sign_up()
    response = console_login(user["username"], DEFAULT_PASSWORD, browser=named)

    assert response.status_code == 400
    assert "End-User-Address" in response.json["message"]


def test_a_backend_for_frontend_of_ones_own_may_be_allowed_to_name_end_users(
    actions: Actions, services: Services
) -> None:
    secret = secrets.token_urlsafe(32)
    clients = {"team-bff": {"secret": secret, "names_end_users": True}}
    app = create_app(
        {
            **services.config,
            "SERVICE_CLIENTS": json.dumps(clients),
            "LOGIN_LIMIT_PER_ADDRESS": f"1 per {WINDOW_SECONDS} seconds",
        }
    )
    user = actions.sign_up()

    def login(password: str, browser: str) -> int:
        return (
            app.test_client()
            .post(
                "/auth/login",
                json={"username": user["username"], "password": password},
                environ_base={"REMOTE_ADDR": "10.8.8.8"},
                headers={"End-User-Address": browser},
                auth=("team-bff", secret),
            )
            .status_code
        )

    assert login("wrong password!", "203.0.113.120") == 401
    assert login(DEFAULT_PASSWORD, "203.0.113.120") == 429
    assert login(DEFAULT_PASSWORD, "203.0.113.121") == 200
    with pytest.raises(SettingsError, match="names_end_users must be true or false"):
        create_app({**services.config, "SERVICE_CLIENTS": json.dumps({"x": {"secret": secret, "names_end_users": 1}})})
