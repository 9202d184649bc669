"""Every security event is logged once as JSON and counted; request ids follow a call across services."""

from __future__ import annotations

import uuid
from typing import Any

import flask
import pytest
from prometheus_client import REGISTRY

from auth_service import create_app as create_auth_app
from auth_service.login_limits import username_digest
from auth_service.state import auth_state
from tests.support import bearer, with_broken_signature
from tests.unit.services import DEFAULT_PASSWORD, Actions, Services


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def audit_records(caplog: pytest.LogCaptureFixture, event: str) -> list[Any]:
    return [r for r in caplog.records if r.name == "audit" and getattr(r, "event", None) == event]


@pytest.fixture(autouse=True)
def audit_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="audit")


def test_a_refused_token_is_audited_with_its_reason_and_counted(
    actions: Actions, caplog: pytest.LogCaptureFixture
) -> None:
    _user, tokens = actions.new_user()
    forged = with_broken_signature(tokens["access_token"])
    before = metric("auth_token_rejections_total", service="users_service", reason="bad_signature")
    assert actions.users.get("/users/me", headers=bearer(forged)).status_code == 401
    assert metric("auth_token_rejections_total", service="users_service", reason="bad_signature") == before + 1
    (record,) = audit_records(caplog, "token_rejected")
    assert record.reason == "bad_signature" and record.client_addr == "127.0.0.1"
    assert forged not in caplog.text


def test_a_revoked_token_presented_is_its_own_event(actions: Actions, caplog: pytest.LogCaptureFixture) -> None:
    user, tokens = actions.new_user()
    actions.auth.post("/auth/logout", headers=bearer(tokens["access_token"]))
    before = metric("auth_revoked_token_presented_total", service="orders_service")
    assert actions.orders.get("/orders", headers=bearer(tokens["access_token"])).status_code == 401
    assert metric("auth_revoked_token_presented_total", service="orders_service") == before + 1
    (record,) = audit_records(caplog, "revoked_token_presented")
    assert record.sub == user["id"] and record.jti


def test_login_events_and_failure_counts(actions: Actions, caplog: pytest.LogCaptureFixture) -> None:
    user = actions.sign_up()
    before = metric("auth_login_failures_total", service="auth_service", reason="invalid_credentials")
    actions.auth.post("/auth/login", json={"username": user["username"], "password": "wrong password!"})
    actions.login(user["username"])
    assert metric("auth_login_failures_total", service="auth_service", reason="invalid_credentials") == before + 1
    assert [r.username_hash for r in audit_records(caplog, "login_failed")] == [username_digest(user["username"])]
    # A password typed into the username field must not land in the log either.
    assert user["username"] not in caplog.text
    assert [r.sub for r in audit_records(caplog, "login_succeeded")] == [user["id"]]
    assert DEFAULT_PASSWORD not in caplog.text and "wrong password!" not in caplog.text


def test_rate_limited_logins_are_audited_and_counted(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    app = create_auth_app({**services.config, "LOGIN_LIMIT_PER_USERNAME": "1 per 30 seconds"})
    client = app.test_client()
    username = f"limited-{uuid.uuid4().hex[:8]}"
    before = metric("auth_login_failures_total", service="auth_service", reason="rate_limited")
    for _ in range(2):
        client.post("/auth/login", json={"username": username, "password": "guess!"})
    assert metric("auth_login_failures_total", service="auth_service", reason="rate_limited") == before + 1
    assert [r.username_hash for r in audit_records(caplog, "login_rate_limited")] == [username_digest(username)]
    assert username not in caplog.text


def test_refresh_reuse_is_audited_and_counted(actions: Actions, caplog: pytest.LogCaptureFixture) -> None:
    user, tokens = actions.new_user()
    before = metric("auth_refresh_reuse_detected_total", service="auth_service")
    actions.auth.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    actions.auth.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert metric("auth_refresh_reuse_detected_total", service="auth_service") == before + 1
    (record,) = audit_records(caplog, "refresh_reuse_detected")
    assert record.sub == user["id"] and record.sid


def test_logout_logout_all_and_admin_revoke_are_audited(actions: Actions, caplog: pytest.LogCaptureFixture) -> None:
    user, tokens = actions.new_user()
    second = actions.login(user["username"])
    actions.auth.post("/auth/logout", headers=bearer(tokens["access_token"]))
    actions.auth.post("/auth/logout-all", headers=bearer(second["access_token"]))
    admin = actions.admin_tokens()
    actions.auth.post("/auth/revoke", headers=bearer(admin["access_token"]), json={"user_id": user["id"]})
    assert [r.sub for r in audit_records(caplog, "logout")] == [user["id"]]
    assert [r.sub for r in audit_records(caplog, "logout_all")] == [user["id"]]
    assert [r.target_sub for r in audit_records(caplog, "admin_revoke")] == [user["id"]]


def test_key_rotation_and_retirement_are_audited(
    services: Services, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_auth_app({**services.config, "KEYS_DIR": str(tmp_path)})
    runner = app.test_cli_runner()
    first_kid = auth_state(app).keys.active.kid
    assert runner.invoke(args=["keys", "rotate", "--now"]).exit_code == 0
    refused = runner.invoke(args=["keys", "retire", first_kid])
    assert refused.exit_code != 0 and "--force" in refused.output
    assert runner.invoke(args=["keys", "retire", first_kid, "--force"]).exit_code == 0
    (rotated,) = audit_records(caplog, "key_rotated")
    (retired,) = audit_records(caplog, "key_retired")
    assert rotated.kid != first_kid and retired.kid == first_kid


def test_request_ids_are_echoed_or_created(actions: Actions) -> None:
    given = actions.users.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    created = actions.users.get("/healthz")
    hostile = actions.users.get("/healthz", headers={"X-Request-ID": 'x" injected="1'})
    assert len(created.headers["X-Request-ID"]) == 32
    assert hostile.headers["X-Request-ID"] != 'x" injected="1'


def test_a_request_id_follows_the_call_into_the_next_service(services: Services, actions: Actions) -> None:
    _user, tokens = actions.new_user()
    seen_by_users: list[str | None] = []

    def record(sender: Any, **_extra: Any) -> None:
        seen_by_users.append(flask.request.headers.get("X-Request-ID"))

    request_id = f"order-{uuid.uuid4().hex[:8]}"
    with flask.request_started.connected_to(record, services.users):
        response = actions.orders.post(
            "/orders",
            headers={**bearer(tokens["access_token"]), "X-Request-ID": request_id},
            json={"item": "x", "quantity": 1},
        )
    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == request_id
    # users_service handled the /users/me call orders_service made under the same id.
    assert seen_by_users == [request_id]


def test_metrics_count_requests_by_endpoint_and_status(actions: Actions) -> None:
    actions.users.get("/users/does-not-matter")
    text = actions.users.get("/metrics").get_data(as_text=True)
    assert (
        'http_requests_total{endpoint="/users/<string(maxlength=64):user_id>",method="GET",service="users_service",status="401"}'
        in text
    )
    assert "http_request_duration_seconds_bucket" in text


def test_a_made_up_method_creates_no_series_of_its_own(actions: Actions) -> None:
    # Each label value is a series kept for ever: a client must not be able to add them.
    for method in ("BREW", "PROPFIND-X", "Q" * 40):
        assert actions.users.open("/healthz", method=method).status_code == 405
    text = actions.users.get("/metrics").get_data(as_text=True)
    assert 'method="BREW"' not in text and "PROPFIND" not in text
    assert 'endpoint="unmatched",method="other",service="users_service",status="405"' in text
    assert 'endpoint="/healthz",method="GET",service="users_service",status="200"' in text
