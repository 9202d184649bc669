"""REFRESH_REUSE_GRACE_SECONDS: a client that lost the answer to a refresh may retry it, briefly.

With the default grace of 0 every reuse revokes the family (test_auth.py). With a grace, the
same just-rotated token presented again within it gets the very same successor pair, while
that successor is still the family's current token; anything else is reuse, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from auth_service import create_app
from secure_service import SettingsError
from tests.support import bearer, claims_of
from tests.unit.services import Actions, Services

#: An auth_service with this grace, on the suite's Redis, keys and users_service.
GraceClient = Callable[[int], FlaskClient]


@pytest.fixture
def with_grace(services: Services) -> GraceClient:
    def build(seconds: int) -> FlaskClient:
        return create_app({**services.config, "REFRESH_REUSE_GRACE_SECONDS": str(seconds)}).test_client()

    return build


def refresh(client: FlaskClient, tokens: dict[str, Any]) -> Any:
    return client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))


def audit_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.event for r in caplog.records if r.name == "audit"]


def test_a_retry_within_the_grace_gets_the_same_pair_and_the_session_lives_on(
    actions: Actions, with_grace: GraceClient, users_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = with_grace(30)
    _user, tokens = actions.new_user()
    with caplog.at_level("INFO", logger="audit"):
        first = refresh(client, tokens)
        retry = refresh(client, tokens)
    assert first.status_code == retry.status_code == 200
    # One branch, not two: the same token ids, issue and expiry times (RFC 9700 §4.14).
    for kind in ("access_token", "refresh_token"):
        assert claims_of(retry.json[kind]) == claims_of(first.json[kind])
    assert audit_events(caplog) == ["token_refreshed", "refresh_retried"]
    assert users_client.get("/users/me", headers=bearer(retry.json["access_token"])).status_code == 200
    assert refresh(client, retry.json).status_code == 200


def test_once_the_successor_was_rotated_a_retry_is_reuse(
    actions: Actions, with_grace: GraceClient, users_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = with_grace(30)
    _user, tokens = actions.new_user()
    first = refresh(client, tokens).json
    second = refresh(client, first).json
    with caplog.at_level("INFO", logger="audit"):
        replay = refresh(client, tokens)
    assert replay.status_code == 401
    assert replay.json["error"] == "token_revoked"
    assert audit_events(caplog) == ["refresh_reuse_detected"]
    assert users_client.get("/users/me", headers=bearer(second["access_token"])).status_code == 401
    assert refresh(client, second).status_code == 401


def test_a_retry_is_reuse_once_the_successor_was_rotated_even_where_no_grace_is_set(
    actions: Actions, with_grace: GraceClient, auth_client: FlaskClient
) -> None:
    # A replica without the grace rotates the successor and remembers nothing: the retry
    # must still see that its successor is no longer the session's current token.
    client = with_grace(30)
    _user, tokens = actions.new_user()
    first = refresh(client, tokens).json
    second = refresh(auth_client, first).json
    assert refresh(client, tokens).status_code == 401
    assert refresh(client, second).status_code == 401


def test_after_the_grace_a_retry_is_reuse(actions: Actions, with_grace: GraceClient, users_client: FlaskClient) -> None:
    client = with_grace(1)
    _user, tokens = actions.new_user()
    first = refresh(client, tokens).json
    time.sleep(1.2)
    assert refresh(client, tokens).status_code == 401
    assert users_client.get("/users/me", headers=bearer(first["access_token"])).status_code == 401
    assert refresh(client, first).status_code == 401


@pytest.mark.parametrize("ending", ["/auth/logout", "/auth/logout-all"])
def test_a_retry_never_revives_an_ended_session(actions: Actions, with_grace: GraceClient, ending: str) -> None:
    client = with_grace(30)
    _user, tokens = actions.new_user()
    first = refresh(client, tokens).json
    assert client.post(ending, headers=bearer(first["access_token"])).status_code == 204
    retry = refresh(client, tokens)
    assert retry.status_code == 401
    assert "access_token" not in retry.json


def test_without_a_grace_the_first_retry_is_reuse(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    first = refresh(auth_client, tokens).json
    assert refresh(auth_client, tokens).status_code == 401
    assert users_client.get("/users/me", headers=bearer(first["access_token"])).status_code == 401


def test_redis_holds_ids_and_times_never_a_token(
    actions: Actions, with_grace: GraceClient, redis_conn: redis.Redis
) -> None:
    client = with_grace(30)
    _user, tokens = actions.new_user()
    first = refresh(client, tokens).json
    sid = claims_of(tokens["access_token"])["sid"]
    stored = [redis_conn.get(f"refresh:previous:{sid}"), redis_conn.get(f"refresh:current:{sid}")]
    stored += list(redis_conn.hgetall(f"session:{sid}").values())
    assert stored[0] is not None  # the retry is remembered
    for value in stored:
        for token in (*tokens.values(), *first.values()):
            if isinstance(token, str) and "." in token:
                assert token not in value
                assert token.split(".")[1] not in value  # not even the claims part


@pytest.mark.parametrize("value", ["-1", "301", "soon"])
def test_the_grace_is_bounded(services: Services, value: str) -> None:
    with pytest.raises(SettingsError, match="REFRESH_REUSE_GRACE_SECONDS"):
        create_app({**services.config, "REFRESH_REUSE_GRACE_SECONDS": value})
