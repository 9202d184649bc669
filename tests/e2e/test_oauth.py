"""The standard OAuth endpoints, driven by an off-the-shelf client library (Authlib), and token exchange.

Authlib's requests client is configured from the stack's own RFC 8414 metadata and does
introspection, revocation and token exchange with no code of ours between it and the
stack. Then, on the real services: an exchanged token works at users_service and nowhere
else, orders_service never sends the caller's own token on, and a session ended from the
list is dead everywhere.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.client import Client
from tests.e2e.stacks import CLIENT_ID, Stack
from tests.support import bearer, claims_of, eventually

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
def metadata(stack: Stack) -> dict[str, Any]:
    response = requests.get(f"{stack.auth}/.well-known/oauth-authorization-server", timeout=10)
    assert response.status_code == 200
    document = dict(response.json())
    # The endpoints are under the issuer's public URL; the stack under test publishes
    # auth_service on a free port instead, so the same paths are reached there.
    issuer = document["issuer"].rstrip("/")
    for name in [name for name in document if name.endswith("_endpoint")]:
        assert document[name].startswith(issuer + "/")
        document[name] = stack.auth + document[name].removeprefix(issuer)
    return document


def orders_service_client(stack: Stack, method: str = "client_secret_basic") -> OAuth2Session:
    """Authlib, holding the client orders_service is (its secret, read where orders_service runs)."""
    secret = stack.service_environment("orders_service")["ORDERS_SERVICE_CLIENT_SECRET"]
    return OAuth2Session("orders_service", secret, token_endpoint_auth_method=method)


def exchanged_for(stack: Stack, metadata: dict[str, Any], access_token: str, method: str) -> dict[str, Any]:
    token = orders_service_client(stack, method).fetch_token(
        metadata["token_endpoint"],
        grant_type=TOKEN_EXCHANGE,
        subject_token=access_token,
        subject_token_type=ACCESS_TOKEN_TYPE,
        audience="users_service",
        scope="users:read",
    )
    return dict(token)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_an_oauth_client_library_exchanges_introspects_and_revokes(
    client: Client, stack: Stack, metadata: dict[str, Any], method: str
) -> None:
    assert method in metadata["token_endpoint_auth_methods_supported"]
    assert TOKEN_EXCHANGE in metadata["grant_types_supported"]
    user, tokens = client.new_user()

    exchanged = exchanged_for(stack, metadata, tokens["access_token"], method)
    assert exchanged["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert client.me(exchanged["access_token"]).json()["id"] == user["id"]

    introspector = OAuth2Session(CLIENT_ID, stack.client_secret, token_endpoint_auth_method=method)
    answer = introspector.introspect_token(metadata["introspection_endpoint"], token=exchanged["access_token"])
    assert answer.status_code == 200
    assert answer.json()["active"] is True
    assert answer.json()["act"] == {"sub": "client:orders_service"}
    assert answer.json()["aud"] == ["users_service"]

    # The browser app is a public client: it names itself and revokes its own refresh token.
    public = OAuth2Session("web-app", token_endpoint_auth_method="none")
    revoked = public.revoke_token(
        metadata["revocation_endpoint"], token=tokens["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200
    for token in (tokens["access_token"], exchanged["access_token"]):
        gone = introspector.introspect_token(metadata["introspection_endpoint"], token=token)
        assert gone.json() == {"active": False}
    assert client.me(exchanged["access_token"]).status_code == 401
    assert client.orders(tokens["access_token"]).status_code == 401
    assert client.refresh(tokens["refresh_token"]).status_code == 401


def test_an_exchanged_token_works_at_users_service_and_nowhere_else(
    client: Client, stack: Stack, metadata: dict[str, Any]
) -> None:
    _user, tokens = client.new_user()
    exchanged = exchanged_for(stack, metadata, tokens["access_token"], "client_secret_basic")["access_token"]
    assert client.me(exchanged).status_code == 200
    at_orders = client.orders(exchanged)
    assert at_orders.status_code == 401 and "audience" in at_orders.json()["message"].lower()
    assert client.http.get(f"{stack.auth}/auth/sessions", headers=bearer(exchanged)).status_code == 401
    assert client.post(f"{stack.auth}/auth/logout-all", exchanged).status_code == 401
    # Nor can it be exchanged again for anything wider.
    again = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": exchanged,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "audience": "users_service",
        },
        auth=("orders_service", stack.service_environment("orders_service")["ORDERS_SERVICE_CLIENT_SECRET"]),
        timeout=10,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def audit_events(stack: Stack, event: str, request_id: str) -> list[dict[str, Any]]:
    """The audit events ``event`` of one request, from every service's log."""
    found = []
    for line in stack.logs().splitlines():
        start = line.find("{")
        if start < 0 or request_id not in line:
            continue
        try:
            record = json.loads(line[start:])
        except ValueError:
            continue
        if record.get("event") == event and record.get("request_id") == request_id:
            found.append(record)
    return found


def test_orders_service_never_sends_the_callers_own_token_on(client: Client, stack: Stack) -> None:
    user, tokens = client.new_user()
    caller_jti = claims_of(tokens["access_token"])["jti"]
    request_id = f"e2e-exchange-{uuid.uuid4().hex}"
    created = client.http.post(
        f"{stack.orders}/orders",
        json={"item": "delegated", "quantity": 1},
        headers={**bearer(tokens["access_token"]), "X-Request-ID": request_id},
    )
    assert created.status_code == 201, created.text
    # users_service logs every call made with an exchanged token (one carrying act); the
    # call this order made reached it as one, for the user, by orders_service, with
    # another token than the caller's.
    assert eventually(lambda: bool(audit_events(stack, "delegated_call", request_id)), seconds=10)
    (delegated,) = audit_events(stack, "delegated_call", request_id)
    assert delegated["service"] == "users_service"
    assert delegated["sub"] == user["id"]
    assert delegated["act"] == {"sub": "client:orders_service"}
    assert delegated["jti"] != caller_jti
    (exchange,) = audit_events(stack, "token_exchanged", request_id)
    assert exchange["subject_jti"] == caller_jti and exchange["client_id"] == "orders_service"


def test_ending_a_session_from_the_list_kills_it_everywhere(client: Client, stack: Stack) -> None:
    user, laptop = client.new_user()
    phone = client.login(user["username"])
    listed = client.http.get(f"{stack.auth}/auth/sessions", headers=bearer(laptop["access_token"]))
    assert listed.status_code == 200
    sessions = {s["sid"]: s for s in listed.json()["sessions"]}
    laptop_sid, phone_sid = claims_of(laptop["access_token"])["sid"], claims_of(phone["access_token"])["sid"]
    assert set(sessions) == {laptop_sid, phone_sid}
    assert sessions[laptop_sid]["current"] is True and sessions[phone_sid]["current"] is False

    ended = client.http.delete(f"{stack.auth}/auth/sessions/{phone_sid}", headers=bearer(laptop["access_token"]))
    assert ended.status_code == 204
    assert client.me(phone["access_token"]).status_code == 401
    assert client.orders(phone["access_token"]).status_code == 401
    assert client.refresh(phone["refresh_token"]).status_code == 401
    # The session that ended the other one goes on.
    assert client.me(laptop["access_token"]).status_code == 200
    after = client.http.get(f"{stack.auth}/auth/sessions", headers=bearer(laptop["access_token"])).json()
    assert [s["sid"] for s in after["sessions"]] == [laptop_sid]


def test_nobody_ends_another_users_session(client: Client, stack: Stack) -> None:
    _alice, alice = client.new_user()
    _mallory, mallory = client.new_user()
    sid = claims_of(alice["access_token"])["sid"]
    refused = client.http.delete(f"{stack.auth}/auth/sessions/{sid}", headers=bearer(mallory["access_token"]))
    assert refused.status_code == 404
    assert client.me(alice["access_token"]).status_code == 200
