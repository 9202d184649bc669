"""users_service: sign-up, profiles, admin listing, the internal credential check."""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from auth_service.state import auth_state
from secure_service import SettingsError
from tests.support import bearer
from tests.unit.services import DEFAULT_PASSWORD, Actions, Services
from users_service import create_app
from users_service.models import User, db


def count_users(services: Services) -> int:
    with services.users.app_context():
        return db.session.query(User).count()


def test_sign_up_returns_201_with_location_and_no_secret(users_client: FlaskClient) -> None:
    username = f"new-{uuid.uuid4().hex[:8]}"
    response = users_client.post(
        "/users", json={"username": username, "password": DEFAULT_PASSWORD, "email": "n@example.org"}
    )
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "username", "email", "roles", "created_at"}
    assert body["username"] == username and body["roles"] == ["user"] and isinstance(body["id"], str)
    assert response.headers["Location"] == f"/users/{body['id']}"
    assert DEFAULT_PASSWORD not in response.get_data(as_text=True)


def test_passwords_are_stored_as_argon2id(services: Services, actions: Actions) -> None:
    user = actions.sign_up()
    with services.users.app_context():
        stored = db.session.get(User, user["id"]).password_hash
    assert stored.startswith("$argon2id$")


def test_a_taken_username_is_409_whatever_its_case(actions: Actions, users_client: FlaskClient) -> None:
    user = actions.sign_up()
    response = users_client.post("/users", json={"username": user["username"].upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 409
    assert response.json["error"] == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"username": "ab", "password": DEFAULT_PASSWORD}, id="username-too-short"),
        pytest.param({"username": "a" * 33, "password": DEFAULT_PASSWORD}, id="username-too-long"),
        pytest.param({"username": "bad name", "password": DEFAULT_PASSWORD}, id="username-with-space"),
        pytest.param({"username": "ünïcödé", "password": DEFAULT_PASSWORD}, id="username-unicode"),
        pytest.param({"username": "fine-name", "password": "short"}, id="password-too-short"),
        pytest.param({"username": "fine-name", "password": "x" * 129}, id="password-too-long"),
        pytest.param({"username": "fine-name", "password": 123456789012}, id="password-not-a-string"),
        pytest.param({"username": "fine-name", "password": DEFAULT_PASSWORD, "email": "nope"}, id="bad-email"),
        pytest.param(
            {"username": "fine-name", "password": DEFAULT_PASSWORD, "roles": ["admin"]}, id="self-granted-role"
        ),
        pytest.param({"username": "fine-name"}, id="missing-password"),
        pytest.param([], id="array-body"),
        pytest.param(None, id="null-body"),
    ],
)
def test_bad_sign_ups_are_400_and_store_nothing(services: Services, users_client: FlaskClient, body: Any) -> None:
    before = count_users(services)
    response = users_client.post("/users", json=body)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert count_users(services) == before


def test_malformed_json_is_400(users_client: FlaskClient) -> None:
    response = users_client.post("/users", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_a_huge_body_is_413(users_client: FlaskClient) -> None:
    response = users_client.post("/users", json={"username": "big", "password": "x" * 100_000})
    assert response.status_code == 413
    assert response.json["error"] == "payload_too_large"


def test_me_returns_the_callers_profile(actions: Actions, users_client: FlaskClient) -> None:
    user, tokens = actions.new_user()
    response = users_client.get("/users/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json["id"] == user["id"]


def test_another_users_profile_is_404(actions: Actions, users_client: FlaskClient) -> None:
    other, _ = actions.new_user()
    _me, tokens = actions.new_user()
    response = users_client.get(f"/users/{other['id']}", headers=bearer(tokens["access_token"]))
    assert response.status_code == 404


def test_own_profile_by_id_and_admin_sees_anyone(actions: Actions, users_client: FlaskClient) -> None:
    user, tokens = actions.new_user()
    assert users_client.get(f"/users/{user['id']}", headers=bearer(tokens["access_token"])).status_code == 200
    admin = actions.admin_tokens()
    assert users_client.get(f"/users/{user['id']}", headers=bearer(admin["access_token"])).json["id"] == user["id"]


def test_listing_users_is_admin_only(actions: Actions, users_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    assert users_client.get("/users", headers=bearer(tokens["access_token"])).status_code == 403
    admin = actions.admin_tokens()
    listed = users_client.get("/users?limit=100", headers=bearer(admin["access_token"]))
    assert listed.status_code == 200
    assert any(u["username"] == "admin" and "admin" in u["roles"] for u in listed.json["users"])


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "offset=-1", "sort=name"])
def test_bad_list_parameters_are_400(actions: Actions, users_client: FlaskClient, query: str) -> None:
    admin = actions.admin_tokens()
    assert users_client.get(f"/users?{query}", headers=bearer(admin["access_token"])).status_code == 400


@pytest.mark.parametrize("path", ["/users/me", "/users", "/users/some-id"])
def test_profiles_need_a_token(users_client: FlaskClient, path: str) -> None:
    response = users_client.get(path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="users_service"'


def test_the_credential_check_is_for_auth_service_only(actions: Actions, users_client: FlaskClient) -> None:
    user, tokens = actions.new_user()
    response = users_client.post(
        "/internal/credentials/verify",
        headers=bearer(tokens["access_token"]),
        json={"username": user["username"], "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 403
    assert users_client.get(f"/internal/users/{user['id']}", headers=bearer(tokens["access_token"])).status_code == 403


def test_the_credential_check_with_auth_services_token(
    services: Services, actions: Actions, users_client: FlaskClient
) -> None:
    user = actions.sign_up()
    with services.auth.app_context():
        token = auth_state(services.auth).issuer.own_service_token("users:credentials")
    good = users_client.post(
        "/internal/credentials/verify",
        headers=bearer(token),
        json={"username": user["username"], "password": DEFAULT_PASSWORD},
    )
    assert good.json["valid"] is True and good.json["user"]["active"] is True
    bad = users_client.post(
        "/internal/credentials/verify", headers=bearer(token), json={"username": user["username"], "password": "wrong!"}
    )
    assert bad.json == {"valid": False, "user": None}


def test_unknown_routes_and_methods_get_json_errors(users_client: FlaskClient) -> None:
    missing = users_client.get("/nowhere")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    wrong_method = users_client.delete("/users")
    assert wrong_method.status_code == 405 and wrong_method.json["error"] == "method_not_allowed"


def test_the_admin_is_created_once_and_not_overwritten(services: Services, tmp_path: Any) -> None:
    config = {**services.config, "DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}"}
    first = create_app(config)
    with first.app_context():
        original_hash = db.session.query(User).filter(User.username_key == "admin").one().password_hash
    create_app({**config, "ADMIN_PASSWORD": "Another-Admin-Pw-9431"})
    with first.app_context():
        admins = db.session.query(User).filter(User.username_key == "admin").all()
    assert len(admins) == 1
    assert "admin" in admins[0].role_list
    assert admins[0].password_hash == original_hash


@pytest.mark.parametrize("password", [None, "", "changeme", "short", "my-admin-password", "aaaaaaaaaaaaaa"])
def test_a_missing_or_weak_admin_password_stops_start_up(
    services: Services, password: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    config = {k: v for k, v in services.config.items() if k != "ADMIN_PASSWORD"}
    if password is not None:
        config["ADMIN_PASSWORD"] = password
    with pytest.raises(SettingsError, match="ADMIN_PASSWORD"):
        create_app(config)


def test_readyz_reports_each_dependency(users_client: FlaskClient) -> None:
    response = users_client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"redis": "ok", "jwks": "ok", "database": "ok"}
    assert users_client.get("/healthz").json == {"status": "ok"}


# --- what sign-up may cost ------------------------------------------------------------


@pytest.fixture
def limited_users(services: Services) -> FlaskClient:
    return create_app({**services.config, "SIGNUP_LIMIT_PER_ADDRESS": "3 per minute"}).test_client()


def test_sign_ups_are_limited_per_address(services: Services, limited_users: FlaskClient) -> None:
    def sign_up(address: str) -> Any:
        body = {"username": f"burst-{uuid.uuid4().hex[:8]}", "password": DEFAULT_PASSWORD}
        return limited_users.post("/users", json=body, environ_base={"REMOTE_ADDR": address})

    for _ in range(3):
        assert sign_up("192.0.2.50").status_code == 201
    before = count_users(services)
    refused = sign_up("192.0.2.50")
    assert refused.status_code == 429
    assert refused.json["error"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert count_users(services) == before
    assert sign_up("192.0.2.51").status_code == 201


def console_token(services: Services) -> str:
    """The console's own service token: client credentials of web_service, scope users:signup."""
    response = services.auth.test_client().post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "users:signup"},
        auth=("web_service", services.config["WEB_SERVICE_CLIENT_SECRET"]),
    )
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def some_address() -> str:
    """An address no other test (or an earlier run, within the limit's window) counted."""
    return str(ipaddress.IPv4Address(0x0A000000 + secrets.randbelow(2**24)))


def console_sign_up(users: FlaskClient, browser: str, token: str, console: str = "10.9.9.9") -> Any:
    """A sign-up as the console sends it: from its one address, naming the browser's."""
    body = {"username": f"burst-{uuid.uuid4().hex[:8]}", "password": DEFAULT_PASSWORD}
    headers = {"End-User-Address": browser, **bearer(token)}
    return users.post("/users", json=body, environ_base={"REMOTE_ADDR": console}, headers=headers)


def test_behind_the_console_sign_ups_are_limited_per_browser(services: Services, limited_users: FlaskClient) -> None:
    token, browser = console_token(services), some_address()
    for _ in range(3):
        assert console_sign_up(limited_users, browser, token).status_code == 201

    assert console_sign_up(limited_users, browser, token).status_code == 429
    assert console_sign_up(limited_users, some_address(), token).status_code == 201


def test_only_a_token_with_the_sign_up_scope_may_name_the_browser(
    services: Services, actions: Actions, limited_users: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    sender, token = some_address(), tokens["access_token"]
    for _ in range(3):
        assert console_sign_up(limited_users, some_address(), token, console=sender).status_code == 201
    # A user's own token names no one: all three were counted by the sender's address.
    assert console_sign_up(limited_users, some_address(), token, console=sender).status_code == 429
    forged = console_sign_up(limited_users, some_address(), token[:-4] + "AAAA", console=some_address())
    assert forged.status_code == 401


def test_a_burst_of_sign_ups_cannot_starve_the_credential_check(services: Services, actions: Actions) -> None:
    user = actions.sign_up()
    hashing = services.users.extensions["users_service.hashing"]
    with hashing.slot():  # another worker is hashing a sign-up right now
        before = count_users(services)
        busy = actions.users.post(
            "/users", json={"username": f"busy-{uuid.uuid4().hex[:8]}", "password": DEFAULT_PASSWORD}
        )
        assert busy.status_code == 503
        assert int(busy.headers["Retry-After"]) > 0
        assert count_users(services) == before
        # Logins still get their credential check answered.
        assert actions.login(user["username"])["access_token"]
    assert actions.sign_up()["id"]


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "123456789012",
        "qwertyuiopasdf",
        "iloveyou1234",
        "aaaaaaaaaaaa",
        "passwordpassword",
        "!!!!!!!!!!!!!!!!",
    ],
)
def test_common_breached_and_repetitive_passwords_are_refused(
    services: Services, users_client: FlaskClient, password: str
) -> None:
    before = count_users(services)
    response = users_client.post("/users", json={"username": f"weak-{uuid.uuid4().hex[:8]}", "password": password})
    assert response.status_code == 400
    assert response.json["details"]["json"]["password"]
    assert password not in response.get_data(as_text=True)
    assert count_users(services) == before


def test_a_password_made_of_the_username_is_refused(users_client: FlaskClient) -> None:
    username = f"alice{uuid.uuid4().hex[:4]}"
    response = users_client.post("/users", json={"username": username, "password": f"{username}{username}"})
    assert response.status_code == 400


def test_a_long_passphrase_is_accepted(users_client: FlaskClient) -> None:
    passphrase = "the quick brown fox jumps over the lazy dog while singing " * 2  # 118 characters
    response = users_client.post("/users", json={"username": f"long-{uuid.uuid4().hex[:8]}", "password": passphrase})
    assert response.status_code == 201
