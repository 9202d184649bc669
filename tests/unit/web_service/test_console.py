"""The browser console (BFF) against the real services: tokens stay server-side, every
state change is same-origin with a CSRF token, and the session lives and dies with the
user's session at auth_service."""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from auth_service import create_app as create_auth_app
from tests.support import bearer, free_port, serve_on_loopback
from tests.unit.services import DEFAULT_PASSWORD, Services
from tests.unit.web_service.console import ORIGIN, Console
from users_service import create_app as create_users_app
from web_service import create_app as create_web_app
from web_service.browser_sessions import _key
from web_service.state import web_state


def stored(redis_conn: redis.Redis, console: Console) -> dict[str, str]:
    sid = console.cookie()
    assert sid
    return redis_conn.hgetall(_key(sid))


def test_signing_up_logs_in_and_shows_the_profile(console: Console) -> None:
    username = console.sign_up()
    page = console.get("/profile")
    assert page.status_code == 200
    assert username in page.get_data(as_text=True)


def test_no_token_ever_reaches_the_browser(console: Console, redis_conn: redis.Redis) -> None:
    console.sign_up()
    tokens = stored(redis_conn, console)
    for path in ("/profile", "/orders", "/sessions", "/token"):
        page = console.get(path).get_data(as_text=True)
        assert tokens["access_token"] not in page and tokens["refresh_token"] not in page
        assert tokens["access_token"].split(".")[2] not in page  # not even the signature
    cookie = console.client.get_cookie("console")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.value not in (tokens["access_token"], tokens["refresh_token"])


def test_orders_placed_in_the_console_are_listed(console: Console) -> None:
    console.sign_up()
    response = console.post("/orders", {"item": "tea", "quantity": "3"})
    assert response.status_code == 302
    page = console.get("/orders").get_data(as_text=True)
    assert "<td>tea</td><td>3</td>" in page


@pytest.mark.parametrize("origin", ["https://evil.example", "null", ""])
def test_a_cross_site_post_is_refused_and_changes_nothing(console: Console, origin: str) -> None:
    console.sign_up()
    response = console.post("/orders", {"item": "forged", "quantity": "1"}, origin=origin)
    assert response.status_code == 403
    assert "forged" not in console.get("/orders").get_data(as_text=True)


def test_a_post_without_the_sessions_csrf_token_is_refused(console: Console) -> None:
    console.sign_up()
    response = console.client.post("/orders", data={"item": "forged", "quantity": "1"}, headers={"Origin": ORIGIN})
    assert response.status_code == 403
    response = console.client.post(
        "/orders", data={"csrf_token": "x" * 43, "item": "forged", "quantity": "1"}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 403
    assert "forged" not in console.get("/orders").get_data(as_text=True)


def test_every_page_carries_a_strict_policy(console: Console) -> None:
    for path in ("/", "/login", "/signup", "/nowhere"):
        headers = console.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_a_refused_sign_up_says_why_on_the_page(console: Console) -> None:
    response = console.post("/signup", {"username": "ok-name", "password": "short"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "password" in page and "Traceback" not in page


def test_logging_out_revokes_the_tokens_at_every_service(
    console: Console, services: Services, redis_conn: redis.Redis
) -> None:
    console.sign_up()
    access = stored(redis_conn, console)["access_token"]
    sid = console.cookie()
    assert console.post("/logout", {}, form_from="/profile").status_code == 302
    time.sleep(0.002)
    assert services.users.test_client().get("/users/me", headers=bearer(access)).status_code == 401
    assert redis_conn.exists(_key(str(sid))) == 0
    assert console.get("/profile").status_code == 302  # back to the login page


def test_the_console_refreshes_once_however_many_requests_find_the_token_old(
    web: Any, console: Console, redis_conn: redis.Redis
) -> None:
    console.sign_up()
    key = _key(str(console.cookie()))
    before = redis_conn.hgetall(key)
    redis_conn.hset(key, "access_exp", str(int(time.time())))  # as if it expired now
    cookie = str(console.cookie())
    results: list[int] = []

    def tab() -> None:
        client = web.test_client()
        client.set_cookie("console", cookie)
        results.append(client.get("/profile").status_code)

    tabs = [threading.Thread(target=tab) for _ in range(4)]
    for thread in tabs:
        thread.start()
    for thread in tabs:
        thread.join()
    after = redis_conn.hgetall(key)
    assert results == [200] * 4
    assert after["refresh_token"] != before["refresh_token"]  # refreshed ...
    assert console.get("/profile").status_code == 200  # ... once: a second would have been reuse


@pytest.mark.parametrize(("margin", "refreshes"), [(90, False), (110, True)])
def test_the_console_refreshes_once_less_than_its_margin_is_left(
    services: Services, redis_conn: redis.Redis, margin: int, refreshes: bool
) -> None:
    web = create_web_app({**services.config, "PUBLIC_ORIGIN": ORIGIN, "REFRESH_MARGIN_SECONDS": str(margin)})
    console = Console(web.test_client())
    console.sign_up()
    key = _key(str(console.cookie()))
    redis_conn.hset(key, "access_exp", str(int(time.time()) + 100))  # 100 s left
    before = redis_conn.hget(key, "refresh_token")

    assert console.get("/profile").status_code == 200
    assert (redis_conn.hget(key, "refresh_token") != before) is refreshes


def test_ending_another_session_from_the_sessions_page(web: Any, console: Console, services: Services) -> None:
    username = console.sign_up()
    other = Console(web.test_client())
    assert other.post("/login", {"username": username, "password": DEFAULT_PASSWORD}).status_code == 302
    page = console.get("/sessions").get_data(as_text=True)
    ends = re.findall(r'action="(/sessions/[^"]+/end)"', page)
    assert len(ends) == 1  # the other one; this one has no End button
    assert console.post(ends[0], {}, form_from="/sessions").status_code == 302
    time.sleep(0.002)
    assert other.get("/profile").status_code == 302  # its tokens are refused: log in again
    assert console.get("/profile").status_code == 200


def test_the_token_inspector_shows_claims_not_the_token(console: Console, redis_conn: redis.Redis) -> None:
    console.sign_up()
    page = console.get("/token").get_data(as_text=True)
    for claim in ("iss", "sub", "aud", "exp", "jti", "sid"):
        assert f"<code>{claim}</code>" in page
    assert 'id="countdown"' in page and "<script>" not in page


def test_every_page_links_to_each_api_services_docs_and_has_none_itself(console: Console) -> None:
    pages = [console.get("/login")]
    console.sign_up()
    pages += [console.get("/profile"), console.get("/orders")]

    for page in pages:
        links = re.findall(r'<a href="([^"]+)">(\w+) API docs</a>', page.get_data(as_text=True))
        assert links == [
            ("http://localhost:8001/docs", "auth_service"),
            ("http://localhost:8002/docs", "users_service"),
            ("http://localhost:8003/docs", "orders_service"),
        ]
    assert console.get("/docs").status_code == 404


@pytest.fixture
def strict_console(services: Services) -> Iterator[Any]:
    """The console in front of an auth_service and a users_service with low per-address limits."""
    ports = {"auth": free_port(), "users": free_port()}
    auth = create_auth_app({**services.config, "LOGIN_LIMIT_PER_ADDRESS": "3 per 10 seconds"})
    users = create_users_app(
        {
            **services.config,
            "DATABASE_URL": services.users.config["SQLALCHEMY_DATABASE_URI"],
            "SIGNUP_LIMIT_PER_ADDRESS": "2 per minute",
        }
    )
    servers = [serve_on_loopback(auth, ports["auth"]), serve_on_loopback(users, ports["users"])]
    yield create_web_app(
        {
            **services.config,
            "PUBLIC_ORIGIN": ORIGIN,
            "AUTH_SERVICE_URL": f"http://127.0.0.1:{ports['auth']}",
            "USERS_SERVICE_URL": f"http://127.0.0.1:{ports['users']}",
        }
    )
    for server in servers:
        server.shutdown()


def browser_at(web: Any) -> Console:
    """Another browser, at an address of its own (Console picks one)."""
    return Console(web.test_client())


def test_one_browsers_failed_logins_lock_out_that_browser_not_the_whole_console(strict_console: Any) -> None:
    username = browser_at(strict_console).sign_up()
    guesser = browser_at(strict_console)
    for _ in range(3):
        assert guesser.post("/login", {"username": f"x{uuid.uuid4().hex[:8]}", "password": "guess!"}).status_code == 401

    assert guesser.post("/login", {"username": username, "password": DEFAULT_PASSWORD}).status_code == 429
    assert (
        browser_at(strict_console).post("/login", {"username": username, "password": DEFAULT_PASSWORD}).status_code
        == 302
    )


def test_one_browsers_sign_ups_use_up_that_browsers_allowance_only(strict_console: Any) -> None:
    busy = browser_at(strict_console)
    for _ in range(2):
        busy.sign_up()
        busy.post("/logout", {}, form_from="/profile")

    refused = busy.post("/signup", {"username": f"web-{uuid.uuid4().hex[:10]}", "password": DEFAULT_PASSWORD})
    assert refused.status_code == 429
    browser_at(strict_console).sign_up()  # 302 to its profile


def test_a_console_whose_client_secret_is_refused_says_so_in_its_log_not_to_the_person(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    misconfigured = create_web_app(
        {**services.config, "PUBLIC_ORIGIN": ORIGIN, "WEB_SERVICE_CLIENT_SECRET": secrets.token_urlsafe(32)}
    )
    console = Console(misconfigured.test_client())
    with caplog.at_level("ERROR", logger="web_service.api"):
        page = console.post("/login", {"username": "someone", "password": DEFAULT_PASSWORD})

    assert page.status_code == 503
    assert "WEB_SERVICE_CLIENT_SECRET" not in page.get_data(as_text=True)
    assert any("WEB_SERVICE_CLIENT_SECRET" in record.getMessage() for record in caplog.records)


def web_state_of(web: Any) -> Any:
    with web.app_context():
        return web_state()


def test_a_sign_up_whose_console_token_is_refused_fetches_a_new_one(web: Any, console: Console) -> None:
    signup_token = web_state_of(web).api._signup_token
    signup_token.get()
    signup_token._token = "not-a-token"  # as if revoked or signed by a retired key

    console.sign_up()  # 302 to the profile: refused once, then sent with a fresh token
    assert signup_token.get() != "not-a-token"


def test_signing_up_in_a_logged_in_browser_ends_the_first_users_tokens(
    console: Console, redis_conn: redis.Redis, services: Services
) -> None:
    console.sign_up()
    first = stored(redis_conn, console)["access_token"]
    username = f"web-{uuid.uuid4().hex[:10]}"
    second = console.post("/signup", {"username": username, "password": DEFAULT_PASSWORD}, form_from="/profile")

    assert second.status_code == 302
    time.sleep(0.002)
    assert services.users.test_client().get("/users/me", headers=bearer(first)).status_code == 401
    assert username in console.get("/profile").get_data(as_text=True)
