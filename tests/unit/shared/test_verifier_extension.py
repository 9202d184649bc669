"""The verifier is a self-contained Flask extension, and its two rule tables decide what a remembered token skips."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import jwt_required
from werkzeug.serving import make_server

from secure_service import (
    InvalidToken,
    Reason,
    SettingsError,
    Verifier,
    VerifierState,
    claim_rules,
    current_claims,
    require_token,
    verifier_state,
)
from tests.support import bearer, free_port

ISSUER = "https://issuer.test"  # what the `mint` fixture signs as
SERVICE = "users_service"  # and for


@pytest.fixture
def jwks_url(keyring: Any, signing_kid: str) -> Iterator[str]:
    """auth_service's JWKS endpoint, served over real HTTP from the test's key ring."""
    issuer = Flask("issuer")
    issuer.add_url_rule("/.well-known/jwks.json", "jwks", keyring.jwks)
    port = free_port()
    server = make_server("127.0.0.1", port, issuer, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/.well-known/jwks.json"
    server.shutdown()


def plain_app(redis_url: str, jwks_url: str, **config: Any) -> Flask:
    """A bare Flask app, not built by create_service_app: only the verifier's own handlers."""
    app = Flask("plain")
    app.config.update(
        {"SERVICE_NAME": SERVICE, "REDIS_URL": redis_url, "JWT_ISSUER": ISSUER, "JWKS_URL": jwks_url, **config}
    )
    return app


def add_protected_view(app: Flask) -> None:
    @app.get("/protected")
    @require_token(scopes=["users:read"])
    def protected() -> dict[str, Any]:
        return {"sub": current_claims()["sub"]}


# --- the extension's shape ----------------------------------------------------------------


def test_verifier_of_the_app_alone_verifies_tokens(redis_url: str, jwks_url: str, mint: Callable[..., str]) -> None:
    app = plain_app(redis_url, jwks_url)
    Verifier(app)  # settings from app.config (over the environment), keys from JWKS_URL
    add_protected_view(app)
    client = app.test_client()

    accepted = client.get("/protected", headers=bearer(mint()))
    assert accepted.status_code == 200
    assert accepted.json == {"sub": "user-1"}
    assert isinstance(verifier_state(app), VerifierState)
    assert verifier_state(app).settings.service_name == SERVICE


def test_init_app_later_works_the_same(redis_url: str, jwks_url: str, mint: Callable[..., str]) -> None:
    verifier = Verifier()
    app = plain_app(redis_url, jwks_url)
    verifier.init_app(app)
    add_protected_view(app)
    assert app.test_client().get("/protected", headers=bearer(mint())).status_code == 200


def test_one_verifier_serves_two_apps_each_with_its_own_settings(
    redis_url: str, jwks_url: str, mint: Callable[..., str]
) -> None:
    verifier = Verifier()
    mine, other = plain_app(redis_url, jwks_url), plain_app(redis_url, jwks_url, SERVICE_NAME="elsewhere")
    verifier.init_app(mine)
    verifier.init_app(other)
    for app in (mine, other):

        @app.get("/fje")
        @jwt_required()
        def fje() -> dict[str, Any]:
            return {"ok": True}

    token = mint()  # for users_service, not for "elsewhere"
    assert mine.test_client().get("/fje", headers=bearer(token)).status_code == 200
    refused = other.test_client().get("/fje", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="elsewhere", error="invalid_token"')


def test_refusals_take_the_shared_shape_in_an_app_not_built_by_create_service_app(
    redis_url: str, jwks_url: str, mint: Callable[..., str]
) -> None:
    app = plain_app(redis_url, jwks_url)
    Verifier(app)
    add_protected_view(app)
    client = app.test_client()

    missing = client.get("/protected")
    assert missing.status_code == 401
    assert missing.json == {"error": "missing_token", "message": "This endpoint needs a Bearer token."}
    assert missing.headers["WWW-Authenticate"] == f'Bearer realm="{SERVICE}"'

    header, payload, signature = mint().split(".")
    forged = client.get("/protected", headers=bearer(f"{header}.{payload}.{signature[::-1]}"))
    assert forged.status_code == 401
    assert set(forged.json) == {"error", "message"} and forged.json["error"] == "invalid_token"
    assert forged.headers["WWW-Authenticate"].startswith(f'Bearer realm="{SERVICE}", error="invalid_token"')

    no_scope = client.get("/protected", headers=bearer(mint(_claims(mint, scope="orders:read"))))
    assert no_scope.status_code == 403
    assert no_scope.json["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in no_scope.headers["WWW-Authenticate"]


def test_a_verifier_needs_the_service_name_for_its_audience(redis_url: str, jwks_url: str) -> None:
    app = plain_app(redis_url, jwks_url)
    del app.config["SERVICE_NAME"]
    with pytest.raises(SettingsError, match="SERVICE_NAME"):
        Verifier(app)


def test_an_app_without_a_verifier_says_so(redis_url: str, jwks_url: str) -> None:
    with pytest.raises(RuntimeError, match="No Verifier"):
        verifier_state(plain_app(redis_url, jwks_url))


def test_the_revocation_check_is_anything_with_is_revoked_and_ping(
    redis_url: str, jwks_url: str, mint: Callable[..., str]
) -> None:
    class DenyAll:
        def is_revoked(self, claims: Mapping[str, Any]) -> bool:
            return True

        def ping(self) -> bool:
            return False

    app = plain_app(redis_url, jwks_url)
    Verifier().init_app(app, revocation=DenyAll())
    add_protected_view(app)
    refused = app.test_client().get("/protected", headers=bearer(mint()))
    assert refused.status_code == 401
    assert refused.json["error"] == "token_revoked"
    assert verifier_state(app).readiness_checks()["redis"]() is False


# --- the two rule tables: what a remembered token skips, what it never skips -------------


def _claims(mint: Callable[..., str], **overrides: Any) -> dict[str, Any]:
    """The claims `mint` signs by default, with ``overrides``."""
    return {**jwt.decode(mint(), options={"verify_signature": False}), **overrides}


@pytest.fixture
def app_with_verifier(redis_url: str, jwks_url: str) -> Flask:
    app = plain_app(redis_url, jwks_url)
    Verifier(app)
    add_protected_view(app)
    return app


def test_a_request_rule_refuses_a_remembered_token(
    app_with_verifier: Flask, mint: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client: FlaskClient = app_with_verifier.test_client()
    token = mint()
    assert client.get("/protected", headers=bearer(token)).status_code == 200  # verified in full, remembered

    def refuse_everything(header: Any, claims: Any, demand: Any) -> None:
        raise InvalidToken("Refused by a rule added for this test.", Reason.INVALID)

    monkeypatch.setattr(claim_rules, "REQUEST_RULES", (*claim_rules.REQUEST_RULES, refuse_everything))
    refused = client.get("/protected", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json["message"] == "Refused by a rule added for this test."


def test_text_rules_run_once_per_token_and_request_rules_on_every_request(
    app_with_verifier: Flask, mint: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = {"text": 0, "request": 0}

    def count(table: str) -> Callable[..., None]:
        def rule(*_: Any) -> None:
            runs[table] += 1

        return rule

    monkeypatch.setattr(claim_rules, "TEXT_RULES", (*claim_rules.TEXT_RULES, count("text")))
    monkeypatch.setattr(claim_rules, "REQUEST_RULES", (*claim_rules.REQUEST_RULES, count("request")))
    client = app_with_verifier.test_client()
    token = mint()
    assert [client.get("/protected", headers=bearer(token)).status_code for _ in range(3)] == [200, 200, 200]
    assert runs == {"text": 1, "request": 3}
    assert client.get("/protected", headers=bearer(mint())).status_code == 200  # another token text
    assert runs == {"text": 2, "request": 4}


def test_flask_jwt_extended_runs_the_same_tables(
    app_with_verifier: Flask, mint: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    @app_with_verifier.get("/fje")
    @jwt_required()
    def fje() -> dict[str, Any]:
        return {"ok": True}

    def refuse_everything(header: Any, claims: Any, demand: Any) -> None:
        raise InvalidToken("Refused by a rule added for this test.", Reason.INVALID)

    client = app_with_verifier.test_client()
    assert client.get("/fje", headers=bearer(mint())).status_code == 200
    monkeypatch.setattr(claim_rules, "REQUEST_RULES", (refuse_everything,))
    refused = client.get("/fje", headers=bearer(mint()))
    assert refused.status_code == 401
    assert refused.json == {"error": "invalid_token", "message": "Refused by a rule added for this test."}
