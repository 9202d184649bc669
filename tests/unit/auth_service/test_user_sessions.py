"""GET /auth/sessions and DELETE /auth/sessions/<sid>: the sessions a user can see and end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from tests.support import bearer, claims_of
from tests.unit.services import Actions


def sessions_of(auth_client: FlaskClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    """The session list as the holder of ``tokens`` sees it."""
    response = auth_client.get("/auth/sessions", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.json
    return list(response.json["sessions"])


def sid_of(tokens: dict[str, Any]) -> str:
    return str(claims_of(tokens["access_token"])["sid"])


def moment(text: str) -> datetime:
    """An ISO 8601 UTC timestamp as the stack writes them (``…Z``)."""
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def audit_records(caplog: pytest.LogCaptureFixture, event: str) -> list[Any]:
    return [r for r in caplog.records if r.name == "audit" and getattr(r, "event", None) == event]


# --- listing --------------------------------------------------------------------------


def test_the_list_shows_the_callers_sessions_newest_first_with_the_current_one_marked(
    actions: Actions, auth_client: FlaskClient
) -> None:
    started = datetime.now(UTC)
    user, first = actions.new_user()
    second = actions.login(user["username"])
    listing = sessions_of(auth_client, first)
    assert [s["sid"] for s in listing] == [sid_of(second), sid_of(first)]
    assert [s["current"] for s in listing] == [False, True]
    assert {s["client_id"] for s in listing} == {"web-app"}
    for session in listing:
        assert set(session) == {"sid", "created_at", "last_used_at", "client_id", "current"}
        assert started <= moment(session["created_at"]) <= datetime.now(UTC)
        assert session["last_used_at"] == session["created_at"]  # never refreshed yet
    assert moment(listing[0]["created_at"]) > moment(listing[1]["created_at"])


def test_the_list_shows_no_one_elses_sessions(actions: Actions, auth_client: FlaskClient) -> None:
    _alice, alice = actions.new_user()
    _bob, bob = actions.new_user()
    assert [s["sid"] for s in sessions_of(auth_client, bob)] == [sid_of(bob)]
    assert [s["sid"] for s in sessions_of(auth_client, alice)] == [sid_of(alice)]


def test_a_refresh_moves_last_used_at_and_nothing_else_does(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient, orders_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    (before,) = sessions_of(auth_client, tokens)
    # Using the access token anywhere, and listing, write nothing.
    assert users_client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert orders_client.get("/orders", headers=bearer(tokens["access_token"])).status_code == 200
    assert sessions_of(auth_client, tokens) == [before]
    refreshed = auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).json
    (after,) = sessions_of(auth_client, refreshed)
    assert after["sid"] == before["sid"]
    assert after["created_at"] == before["created_at"]
    assert moment(after["last_used_at"]) > moment(before["last_used_at"])
    assert after["current"] is True


# --- ending one -----------------------------------------------------------------------


def test_ending_a_session_kills_it_at_every_service_at_once_and_spares_the_others(
    actions: Actions,
    auth_client: FlaskClient,
    users_client: FlaskClient,
    orders_client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user, doomed = actions.new_user()
    kept = actions.login(user["username"])
    # Verified once already, so a cache that missed the revocation would answer 200.
    assert users_client.get("/users/me", headers=bearer(doomed["access_token"])).status_code == 200
    assert orders_client.get("/orders", headers=bearer(doomed["access_token"])).status_code == 200
    listed = {s["sid"] for s in sessions_of(auth_client, kept)}
    assert sid_of(doomed) in listed
    with caplog.at_level("INFO", logger="audit"):
        response = auth_client.delete(f"/auth/sessions/{sid_of(doomed)}", headers=bearer(kept["access_token"]))
    assert response.status_code == 204
    assert response.data == b""
    assert users_client.get("/users/me", headers=bearer(doomed["access_token"])).status_code == 401
    assert orders_client.get("/orders", headers=bearer(doomed["access_token"])).status_code == 401
    refused = auth_client.post("/auth/refresh", headers=bearer(doomed["refresh_token"]))
    assert refused.status_code == 401
    assert refused.json["error"] == "token_revoked"
    # The session that ended it lives on.
    assert users_client.get("/users/me", headers=bearer(kept["access_token"])).status_code == 200
    assert orders_client.get("/orders", headers=bearer(kept["access_token"])).status_code == 200
    assert [s["sid"] for s in sessions_of(auth_client, kept)] == [sid_of(kept)]
    assert auth_client.post("/auth/refresh", headers=bearer(kept["refresh_token"])).status_code == 200
    (event,) = audit_records(caplog, "session_ended")
    assert (event.sub, event.sid, event.current) == (user["id"], sid_of(doomed), False)


def test_ending_the_current_session_ends_the_token_that_asked(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    _user, tokens = actions.new_user()
    with caplog.at_level("INFO", logger="audit"):
        response = auth_client.delete(f"/auth/sessions/{sid_of(tokens)}", headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert users_client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert auth_client.get("/auth/sessions", headers=bearer(tokens["access_token"])).status_code == 401
    (event,) = audit_records(caplog, "session_ended")
    assert event.current is True


def test_another_users_session_an_unknown_one_and_an_ended_one_get_the_same_404(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient
) -> None:
    _alice, alice = actions.new_user()
    bob_user, bob = actions.new_user()
    ended = actions.login(bob_user["username"])
    assert auth_client.post("/auth/logout", headers=bearer(ended["access_token"])).status_code == 204
    answers = [
        auth_client.delete(f"/auth/sessions/{sid}", headers=bearer(bob["access_token"]))
        for sid in (sid_of(alice), str(uuid.uuid4()), sid_of(ended))
    ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert answers[0].json == answers[1].json == answers[2].json
    assert answers[0].json["error"] == "not_found"
    # Alice's session was not touched.
    assert users_client.get("/users/me", headers=bearer(alice["access_token"])).status_code == 200
    assert [s["sid"] for s in sessions_of(auth_client, alice)] == [sid_of(alice)]


@pytest.mark.parametrize(
    "path",
    [
        "/auth/sessions/" + "a" * 65,
        "/auth/sessions/%00",
        "/auth/sessions/%ED%A0%80",  # an unpaired surrogate, as UTF-8
        "/auth/sessions/%FF",
        "/auth/sessions/a/b",
        "/auth/sessions/" + "%20" * 3,
        "/auth/sessions/..",
    ],
)
def test_a_bad_session_path_is_a_json_4xx_never_a_500(actions: Actions, auth_client: FlaskClient, path: str) -> None:
    _user, tokens = actions.new_user()
    response = auth_client.delete(path, headers=bearer(tokens["access_token"]))
    assert 400 <= response.status_code < 500
    assert response.is_json and "error" in response.json
    assert sessions_of(auth_client, tokens)  # and the caller's session is still there


@pytest.mark.parametrize(("method", "path"), [("get", "/auth/sessions"), ("delete", f"/auth/sessions/{uuid.uuid4()}")])
def test_the_session_endpoints_need_an_access_token(
    actions: Actions, auth_client: FlaskClient, method: str, path: str
) -> None:
    _user, tokens = actions.new_user()
    bare = getattr(auth_client, method)(path)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == 'Bearer realm="auth_service"'
    with_refresh = getattr(auth_client, method)(path, headers=bearer(tokens["refresh_token"]))
    assert with_refresh.status_code == 401
    assert with_refresh.json["error"] == "invalid_token"


def test_the_openapi_document_describes_the_session_endpoints(auth_client: FlaskClient) -> None:
    paths = auth_client.get("/openapi.json").json["paths"]
    listing = paths["/auth/sessions"]["get"]
    assert {"200", "401"} <= set(listing["responses"])
    body = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert body  # a schema, not an empty object
    ending = paths["/auth/sessions/{sid}"]["delete"]
    assert {"204", "401", "404"} <= set(ending["responses"])
    (parameter,) = ending["parameters"]
    assert (parameter["name"], parameter["in"]) == ("sid", "path")


# --- what ends a session takes it off the list ----------------------------------------


def test_logout_takes_the_session_off_the_list(actions: Actions, auth_client: FlaskClient) -> None:
    user, first = actions.new_user()
    second = actions.login(user["username"])
    assert auth_client.post("/auth/logout", headers=bearer(first["access_token"])).status_code == 204
    assert [s["sid"] for s in sessions_of(auth_client, second)] == [sid_of(second)]


def test_logout_all_takes_every_earlier_session_off_the_list_but_not_a_login_right_after(
    actions: Actions, auth_client: FlaskClient
) -> None:
    user, first = actions.new_user()
    actions.login(user["username"])
    assert auth_client.post("/auth/logout-all", headers=bearer(first["access_token"])).status_code == 204
    fresh = actions.login(user["username"])  # very likely within the same second
    assert [s["sid"] for s in sessions_of(auth_client, fresh)] == [sid_of(fresh)]


def test_refresh_reuse_takes_the_session_off_the_list(actions: Actions, auth_client: FlaskClient) -> None:
    user, stolen = actions.new_user()
    other = actions.login(user["username"])
    assert auth_client.post("/auth/refresh", headers=bearer(stolen["refresh_token"])).status_code == 200
    assert auth_client.post("/auth/refresh", headers=bearer(stolen["refresh_token"])).status_code == 401
    assert [s["sid"] for s in sessions_of(auth_client, other)] == [sid_of(other)]


def test_an_expired_session_is_not_listed(actions: Actions, auth_client: FlaskClient, redis_conn: redis.Redis) -> None:
    user, expiring = actions.new_user()
    other = actions.login(user["username"])
    # As if its absolute expiry had come: the family is gone, the record not yet.
    redis_conn.delete(f"refresh:current:{sid_of(expiring)}")
    assert [s["sid"] for s in sessions_of(auth_client, other)] == [sid_of(other)]
