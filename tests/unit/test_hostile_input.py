"""Hostile input to every JSON endpoint gets a clear 4xx JSON error and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import bearer
from tests.unit.services import Actions, Services

DEEP = "[" * 20_000 + "]" * 20_000
HUGE_INT = '{"item": "x", "quantity": 1' + "0" * 5000 + "}"

BODIES = {
    "deeply-nested": DEEP,
    "huge-integer": HUGE_INT,
    "lone-surrogate": '{"username": "a\\ud800b", "password": "p\\udfffpppppppppp", "item": "\\ud800", "quantity": 1}',
    "nul-character": '{"username": "nul\\u0000", "password": "pass\\u0000word12", "item": "\\u0000", "quantity": 1}',
    "invalid-utf8": b'{"username": "\xff\xfe", "password": "x"}',
    "truncated": '{"username": "abc", "pass',
    "not-an-object": '"just a string"',
}

ENDPOINTS = [
    ("auth", "/auth/login", False),
    ("auth", "/auth/token", False),
    ("auth", "/auth/logout", True),
    ("auth", "/auth/revoke", True),
    ("users", "/users", False),
    ("users", "/internal/credentials/verify", True),
    ("orders", "/orders", True),
]


@pytest.mark.parametrize(("service", "path", "needs_token"), ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_hostile_bodies_are_clean_4xx(
    services: Services, actions: Actions, service: str, path: str, needs_token: bool, body: Any
) -> None:
    app = getattr(services, service)
    headers = {"Content-Type": "application/json"}
    if needs_token:
        headers.update(bearer(actions.admin_tokens()["access_token"]))
    response = app.test_client().post(path, data=body, headers=headers)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert set(response.json) >= {"error", "message"}


@pytest.mark.parametrize("path", ["/orders/%00", "/orders/a%00b", "/users/%00"])
def test_nul_in_a_path_is_404(services: Services, actions: Actions, path: str) -> None:
    token = actions.admin_tokens()["access_token"]
    app = services.orders if path.startswith("/orders") else services.users
    response = app.test_client().get(path, headers=bearer(token))
    assert response.status_code == 404
    assert response.json["error"] == "not_found"


def test_a_trailing_newline_does_not_make_a_lookalike_username(actions: Actions, services: Services) -> None:
    user = actions.sign_up()
    response = services.users.test_client().post(
        "/users", json={"username": user["username"] + "\n", "password": "a long enough password"}
    )
    assert response.status_code == 400


OAUTH_ENDPOINTS = ["/auth/token", "/oauth/revoke", "/oauth/introspect"]
HOSTILE_FORMS = {
    "invalid-utf8": b"token=%ff%fe&client_id=web-app&grant_type=client_credentials",
    "nul-character": b"token=a%00b&client_id=web%00app&grant_type=client%00credentials",
    "lone-percent": b"token=%&client_id=%zz&grant_type=%",
    "repeated-parameter": b"token=a&token=b&client_id=web-app&client_id=x&grant_type=client_credentials",
    "oversized-token": b"client_id=web-app&grant_type=client_credentials&token=" + b"a" * 9000,
    "binary": bytes(range(256)),
}


@pytest.mark.parametrize("path", OAUTH_ENDPOINTS)
@pytest.mark.parametrize("body", list(HOSTILE_FORMS.values()), ids=list(HOSTILE_FORMS))
def test_hostile_forms_at_the_oauth_endpoints_are_clean_4xx(services: Services, path: str, body: bytes) -> None:
    response = services.auth.test_client().post(
        path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]
    assert set(response.json) >= {"error", "message", "error_description"}
