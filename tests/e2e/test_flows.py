"""The user-visible flows of the README's endpoint table, over HTTP, against the running stack."""

from __future__ import annotations

import time
import uuid

import jwt
import requests

from tests.e2e.client import PASSWORD, Client, bearer
from tests.e2e.stacks import CLIENT_ID, Stack
from tests.support import with_broken_signature


def test_every_service_is_alive_and_ready(stack: Stack) -> None:
    for url in (stack.auth, stack.users, stack.orders):
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(f"{url}/readyz", timeout=5).status_code == 200


def test_sign_up_login_profile_and_orders(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    me = client.me(tokens["access_token"])
    assert me.status_code == 200 and me.json()["id"] == user["id"]
    assert jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"] == user["id"]

    created = client.post(f"{stack.orders}/orders", tokens["access_token"], {"item": "notebook", "quantity": 2})
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["user_id"] == user["id"] and order["status"]
    assert [o["id"] for o in client.orders(tokens["access_token"]).json()["orders"]] == [order["id"]]
    fetched = client.http.get(f"{stack.orders}/orders/{order['id']}", headers=bearer(tokens["access_token"]))
    assert fetched.json() == order

    _other, other_tokens = client.new_user()
    assert (
        client.http.get(
            f"{stack.orders}/orders/{order['id']}", headers=bearer(other_tokens["access_token"])
        ).status_code
        == 404
    )
    assert client.orders(other_tokens["access_token"]).json() == {"orders": []}


def test_refresh_rotates_and_a_replay_kills_the_family(client: Client) -> None:
    _user, tokens = client.new_user()
    rotated = client.refresh(tokens["refresh_token"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert client.me(new["access_token"]).status_code == 200

    replay = client.refresh(tokens["refresh_token"])
    assert replay.status_code == 401
    assert 'error="invalid_token"' in replay.headers["WWW-Authenticate"]
    # The replay revoked the whole family: the newer pair is dead too.
    assert client.refresh(new["refresh_token"]).status_code == 401
    assert client.me(new["access_token"]).status_code == 401


def test_logout_is_visible_at_every_service_the_moment_it_returns(client: Client, stack: Stack) -> None:
    _user, tokens = client.new_user()
    access = tokens["access_token"]
    assert client.me(access).status_code == 200 and client.orders(access).status_code == 200
    assert client.post(f"{stack.auth}/auth/logout", access).status_code == 204
    users_answer, orders_answer = client.me(access), client.orders(access)
    assert users_answer.status_code == orders_answer.status_code == 401
    assert users_answer.json()["error"] == orders_answer.json()["error"] == "token_revoked"
    assert client.refresh(tokens["refresh_token"]).status_code == 401


def test_logout_all_ends_every_session_and_a_new_login_works_at_once(client: Client, stack: Stack) -> None:
    user, first = client.new_user()
    second = client.login(user["username"])
    assert client.post(f"{stack.auth}/auth/logout-all", first["access_token"]).status_code == 204
    for tokens in (first, second):
        assert client.me(tokens["access_token"]).status_code == 401
        assert client.orders(tokens["access_token"]).status_code == 401
        assert client.refresh(tokens["refresh_token"]).status_code == 401
    again = client.login(user["username"])
    assert client.me(again["access_token"]).status_code == 200
    assert client.orders(again["access_token"]).status_code == 200


def test_an_admin_revokes_a_user_everywhere(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    admin = client.login(stack.admin_username, stack.admin_password)
    listed = client.http.get(f"{stack.users}/users?limit=100", headers=bearer(admin["access_token"]))
    assert user["id"] in {u["id"] for u in listed.json()["users"]}
    assert client.post(f"{stack.auth}/auth/revoke", admin["access_token"], {"user_id": user["id"]}).status_code == 204
    assert client.me(tokens["access_token"]).status_code == 401
    assert client.orders(tokens["access_token"]).status_code == 401
    assert client.post(f"{stack.auth}/auth/revoke", tokens["access_token"], {"user_id": user["id"]}).status_code == 401


def test_a_user_cannot_revoke_others(client: Client, stack: Stack) -> None:
    victim, victim_tokens = client.new_user()
    _user, tokens = client.new_user()
    assert (
        client.post(f"{stack.auth}/auth/revoke", tokens["access_token"], {"user_id": victim["id"]}).status_code == 403
    )
    assert client.me(victim_tokens["access_token"]).status_code == 200


def test_the_jwks_has_no_private_members(stack: Stack) -> None:
    keys = requests.get(f"{stack.auth}/.well-known/jwks.json", timeout=5).json()["keys"]
    assert keys
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)
    discovery = requests.get(f"{stack.auth}/.well-known/openid-configuration", timeout=5).json()
    assert discovery["jwks_uri"].endswith("/.well-known/jwks.json")


def test_a_token_for_users_service_is_refused_by_orders_service(client: Client, stack: Stack) -> None:
    response = client.http.post(
        f"{stack.auth}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": stack.client_secret,
            "scope": "users:read",
        },
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == ["users_service"]
    refused = client.orders(token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_an_expired_token_is_refused(client: Client, stack: Stack) -> None:
    _user, tokens = client.new_user()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    now = int(time.time())
    expired = stack.sign({**claims, "iat": now - 900, "nbf": now - 900, "exp": now - 120, "jti": str(uuid.uuid4())})
    for response in (client.me(expired), client.orders(expired)):
        assert response.status_code == 401
        assert response.json()["error"] == "token_expired"


def test_a_bad_signature_is_refused(client: Client) -> None:
    _user, tokens = client.new_user()
    forged = with_broken_signature(tokens["access_token"])
    for response in (client.me(forged), client.orders(forged)):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"


def test_a_request_without_credentials_gets_a_bare_challenge(stack: Stack) -> None:
    for url in (f"{stack.users}/users/me", f"{stack.orders}/orders"):
        response = requests.get(url, timeout=5)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="')
        assert "error=" not in response.headers["WWW-Authenticate"]


def test_no_token_or_password_reaches_the_logs(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    rotated = client.refresh(tokens["refresh_token"]).json()
    client.refresh(tokens["refresh_token"])  # reuse: logged as a security event
    client.login(user["username"])
    client.http.post(f"{stack.auth}/auth/login", json={"username": user["username"], "password": "wrong password!"})
    client.me(rotated["access_token"] + "x")
    time.sleep(0.5)  # let the processes flush their log lines
    logs = stack.logs()
    assert '"event": "refresh_reuse_detected"' in logs
    assert user["id"] in logs  # events name the user by id...
    secrets = (tokens["access_token"], tokens["refresh_token"], rotated["access_token"], PASSWORD, stack.admin_password)
    for secret in secrets:
        assert secret not in logs  # ...never by token or password
    assert "eyJ" not in logs
