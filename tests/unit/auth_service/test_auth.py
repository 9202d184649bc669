"""auth_service: login, refresh rotation, logout, revocation, service tokens, discovery."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient

from auth_service import create_app
from auth_service.state import auth_state
from secure_service import SettingsError
from secure_service.settings import MAX_REFRESH_TOKEN_TTL_SECONDS
from tests.support import bearer, claims_of, free_port
from tests.unit.services import DEFAULT_PASSWORD, Actions, Services


def header_of(token: str) -> dict[str, Any]:
    return jwt.get_unverified_header(token)


# --- login ----------------------------------------------------------------------------


def test_login_returns_a_bearer_pair(actions: Actions) -> None:
    user, tokens = actions.new_user()
    assert tokens["token_type"] == "Bearer"
    assert 300 <= tokens["expires_in"] <= 900
    access = claims_of(tokens["access_token"])
    assert access["sub"] == user["id"]
    assert set(access["aud"]) == {"auth_service", "users_service", "orders_service"}
    assert access["exp"] - access["iat"] == tokens["expires_in"]
    assert {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "roles", "client_id", "sid"} <= set(access)
    assert header_of(tokens["access_token"])["typ"] == "at+jwt"
    assert header_of(tokens["access_token"])["alg"] == "RS256"
    refresh = claims_of(tokens["refresh_token"])
    assert refresh["aud"] == ["auth_service"]
    assert refresh["sid"] == access["sid"]
    assert header_of(tokens["refresh_token"])["typ"] == "refresh+jwt"


def test_wrong_password_and_unknown_user_get_the_same_answer(actions: Actions, auth_client: FlaskClient) -> None:
    user = actions.sign_up()
    wrong = auth_client.post("/auth/login", json={"username": user["username"], "password": "not the password"})
    unknown = auth_client.post("/auth/login", json={"username": "nobody-at-all", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json == {"error": "invalid_credentials", "message": "Invalid username or password."}


def test_login_is_case_insensitive_on_the_username(actions: Actions) -> None:
    user = actions.sign_up()
    assert actions.login(user["username"].upper())["access_token"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "x"},
        {"username": 1, "password": "x"},
        {"username": "x", "password": None},
        {"username": "x" * 65, "password": "x"},
        {"username": "x", "password": "x", "extra": 1},
        [],
        "text",
    ],
)
def test_bad_login_bodies_are_400(auth_client: FlaskClient, body: Any) -> None:
    response = auth_client.post("/auth/login", json=body)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_a_non_json_login_is_refused(auth_client: FlaskClient) -> None:
    response = auth_client.post("/auth/login", data="username=a&password=b")
    assert response.status_code in (400, 415)
    assert "error" in response.json


def test_users_service_down_is_503_not_500(services: Services) -> None:
    app = create_app({**services.config, "USERS_SERVICE_URL": f"http://127.0.0.1:{free_port()}"})
    response = app.test_client().post("/auth/login", json={"username": "someone", "password": "whatever it is"})
    assert response.status_code == 503
    assert response.json["error"] == "service_unavailable"
    assert "Retry-After" in response.headers


# --- refresh --------------------------------------------------------------------------


def test_refresh_rotates_and_the_old_refresh_token_dies(actions: Actions, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    first = auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert first.status_code == 200
    new = first.json
    assert new["refresh_token"] != tokens["refresh_token"]
    assert claims_of(new["access_token"])["sid"] == claims_of(tokens["access_token"])["sid"]
    # The family keeps its absolute expiry: rotation never extends a session.
    assert claims_of(new["refresh_token"])["exp"] <= claims_of(tokens["refresh_token"])["exp"]
    replay = auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert replay.status_code == 401
    assert replay.json["error"] == "token_revoked"


def test_replaying_a_rotated_refresh_token_revokes_the_family(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    _user, tokens = actions.new_user()
    rotated = auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).json
    with caplog.at_level("INFO", logger="audit"):
        assert auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    # The legitimate holder's newer tokens are dead as well.
    assert auth_client.post("/auth/refresh", headers=bearer(rotated["refresh_token"])).status_code == 401
    assert users_client.get("/users/me", headers=bearer(rotated["access_token"])).status_code == 401
    events = [r for r in caplog.records if r.getMessage() == "refresh_reuse_detected"]
    assert len(events) == 1
    assert tokens["refresh_token"] not in caplog.text


def test_an_access_token_cannot_refresh(actions: Actions, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    response = auth_client.post("/auth/refresh", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401


def test_a_refresh_token_is_not_an_access_token(actions: Actions, users_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    assert users_client.get("/users/me", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_tokens_carry_only_their_profiles_claims(actions: Actions) -> None:
    # Flask-JWT-Extended's own `fresh` and `type` are no part of RFC 9068 and nothing reads them.
    _user, tokens = actions.new_user()
    access, refresh = claims_of(tokens["access_token"]), claims_of(tokens["refresh_token"])
    assert set(access) == {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "roles", "client_id", "sid"}
    assert set(refresh) == {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "sid"}


@pytest.mark.parametrize(("path", "body"), [("/auth/logout", {}), ("/auth/logout-all", None)])
def test_auth_service_refuses_a_refresh_token_where_it_needs_an_access_token(
    actions: Actions, auth_client: FlaskClient, path: str, body: dict[str, Any] | None
) -> None:
    _user, tokens = actions.new_user()
    response = auth_client.post(path, headers=bearer(tokens["refresh_token"]), json=body)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200


def test_logout_refuses_an_access_token_as_its_refresh_token(actions: Actions, auth_client: FlaskClient) -> None:
    _user, first = actions.new_user()
    response = auth_client.post(
        "/auth/logout", headers=bearer(first["access_token"]), json={"refresh_token": first["access_token"]}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("legacy", [{}, {"type": "refresh"}], ids=["current", "minted-before-without-type"])
def test_no_refresh_token_lives_longer_than_a_session_can(
    actions: Actions, services: Services, auth_client: FlaskClient, legacy: dict[str, Any]
) -> None:
    user = actions.sign_up()
    signing = auth_state(services.auth).keys.active
    revocation = auth_state(services.auth).sessions
    now = int(time.time())

    def refresh_token(lifetime: int) -> str:
        """A refresh token as the issuer signs them (its own key), with a live session."""
        claims = {
            "iss": services.config["JWT_ISSUER"],
            "sub": user["id"],
            "aud": ["auth_service"],
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            "sid": str(uuid.uuid4()),
            "client_id": "web-app",
            **legacy,
        }
        revocation.start_session(claims, lifetime)
        headers = {"kid": signing.kid, "typ": "refresh+jwt"}
        return jwt.encode(claims, signing.private_key, algorithm=signing.algorithm, headers=headers)

    longest = auth_client.post("/auth/refresh", headers=bearer(refresh_token(MAX_REFRESH_TOKEN_TTL_SECONDS)))
    assert longest.status_code == 200
    refused = auth_client.post("/auth/refresh", headers=bearer(refresh_token(MAX_REFRESH_TOKEN_TTL_SECONDS + 1)))
    assert refused.status_code == 401
    assert "lifetime" in refused.json["message"]


# --- logout, logout-all, admin revoke -------------------------------------------------


def test_logout_rejects_the_access_token_everywhere_and_kills_the_refresh_family(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient, orders_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    assert auth_client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert users_client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert orders_client.get("/orders", headers=bearer(tokens["access_token"])).status_code == 401
    assert auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_logout_with_another_sessions_refresh_token_ends_both(actions: Actions, auth_client: FlaskClient) -> None:
    user, first = actions.new_user()
    second = actions.login(user["username"])
    response = auth_client.post(
        "/auth/logout", headers=bearer(first["access_token"]), json={"refresh_token": second["refresh_token"]}
    )
    assert response.status_code == 204
    assert auth_client.post("/auth/refresh", headers=bearer(second["refresh_token"])).status_code == 401


def test_logout_refuses_someone_elses_refresh_token_and_changes_nothing(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient
) -> None:
    _alice, alice = actions.new_user()
    _bob, bob = actions.new_user()
    response = auth_client.post(
        "/auth/logout", headers=bearer(alice["access_token"]), json={"refresh_token": bob["refresh_token"]}
    )
    assert response.status_code == 400
    assert users_client.get("/users/me", headers=bearer(alice["access_token"])).status_code == 200
    assert auth_client.post("/auth/refresh", headers=bearer(bob["refresh_token"])).status_code == 200


def test_logout_all_revokes_every_session_but_a_login_right_after_works(
    actions: Actions, auth_client: FlaskClient, users_client: FlaskClient
) -> None:
    user, first = actions.new_user()
    second = actions.login(user["username"])
    assert auth_client.post("/auth/logout-all", headers=bearer(first["access_token"])).status_code == 204
    for tokens in (first, second):
        assert users_client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
        assert auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    fresh = actions.login(user["username"])  # very likely within the same second
    assert users_client.get("/users/me", headers=bearer(fresh["access_token"])).status_code == 200


def test_admin_revokes_a_user(actions: Actions, auth_client: FlaskClient, users_client: FlaskClient) -> None:
    user, tokens = actions.new_user()
    admin = actions.admin_tokens()
    response = auth_client.post("/auth/revoke", headers=bearer(admin["access_token"]), json={"user_id": user["id"]})
    assert response.status_code == 204
    assert users_client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert users_client.get("/users/me", headers=bearer(admin["access_token"])).status_code == 200


def test_only_an_admin_may_revoke(actions: Actions, auth_client: FlaskClient, users_client: FlaskClient) -> None:
    victim, victim_tokens = actions.new_user()
    _user, tokens = actions.new_user()
    response = auth_client.post("/auth/revoke", headers=bearer(tokens["access_token"]), json={"user_id": victim["id"]})
    assert response.status_code == 403
    assert users_client.get("/users/me", headers=bearer(victim_tokens["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"user_id": ""}, {"user_id": 5}, {"user_id": "x" * 65}, {"user_id": "client:auth_service"}],
)
def test_revoke_validates_its_body(actions: Actions, auth_client: FlaskClient, body: dict[str, Any]) -> None:
    admin = actions.admin_tokens()
    assert auth_client.post("/auth/revoke", headers=bearer(admin["access_token"]), json=body).status_code == 400


@pytest.mark.parametrize("path", ["/auth/logout", "/auth/logout-all", "/auth/revoke"])
def test_revocation_endpoints_need_a_token(auth_client: FlaskClient, path: str) -> None:
    response = auth_client.post(path, json={"user_id": "x"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="auth_service"'


# --- client credentials ---------------------------------------------------------------


def test_client_credentials_issue_a_service_token(services: Services, auth_client: FlaskClient) -> None:
    response = auth_client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "client_id": "reporting", "client_secret": services.client_secret},
    )
    assert response.status_code == 200
    token = response.json["access_token"]
    claims = claims_of(token)
    assert claims["client_id"] == "reporting"
    assert claims["sub"] == "client:reporting"  # never a user id
    assert set(claims["aud"]) == {"users_service", "orders_service"}
    assert claims["roles"] == []
    assert "sid" not in claims


def test_a_service_token_for_users_is_refused_by_orders(
    services: Services, auth_client: FlaskClient, orders_client: FlaskClient
) -> None:
    response = auth_client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "reporting",
            "client_secret": services.client_secret,
            "scope": "users:read",
        },
    )
    token = response.json["access_token"]
    assert claims_of(token)["aud"] == ["users_service"]
    refused = orders_client.get("/orders", headers=bearer(token))
    assert refused.status_code == 401
    assert "audience" in refused.json["message"].lower()


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "reporting", "client_secret": "wrong" * 8},
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "wrong" * 8},
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials", "client_id": "reporting"}, 401, "invalid_client"),
        ({"client_id": "reporting", "client_secret": "wrong" * 8}, 401, "invalid_client"),
        ({"grant_type": "password", "client_id": "reporting", "client_secret": "x"}, 400, "unsupported_grant_type"),
    ],
)
def test_bad_client_credentials(auth_client: FlaskClient, body: dict[str, Any], status: int, error: str) -> None:
    response = auth_client.post("/auth/token", data=body)
    assert response.status_code == status
    assert response.json["error"] == error


def test_a_client_cannot_ask_for_scopes_it_was_not_given(services: Services, auth_client: FlaskClient) -> None:
    response = auth_client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "reporting",
            "client_secret": services.client_secret,
            "scope": "users:credentials",
        },
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_scope"


# --- discovery ------------------------------------------------------------------------


def test_jwks_publishes_public_keys_only(auth_client: FlaskClient) -> None:
    keys = auth_client.get("/.well-known/jwks.json").json["keys"]
    assert keys
    for key in keys:
        assert {"kid", "alg", "kty", "use"} <= set(key)
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)


def test_tokens_are_signed_by_a_published_key(actions: Actions, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    kids = {key["kid"] for key in auth_client.get("/.well-known/jwks.json").json["keys"]}
    assert header_of(tokens["access_token"])["kid"] in kids


def test_discovery_document_points_at_the_jwks(services: Services, auth_client: FlaskClient) -> None:
    document = auth_client.get("/.well-known/openid-configuration").json
    assert document["issuer"] == services.config["JWT_ISSUER"]
    assert document["jwks_uri"] == services.config["JWKS_URL"]


def test_signing_keys_persist_across_restarts(services: Services) -> None:
    first = create_app(services.config).test_client().get("/.well-known/jwks.json").json
    second = create_app(services.config).test_client().get("/.well-known/jwks.json").json
    assert first == second


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA"])
def test_es256_and_eddsa_signing_keys_are_selectable(services: Services, tmp_path: Any, algorithm: str) -> None:
    app = create_app(
        {**services.config, "KEYS_DIR": str(tmp_path), "JWT_SIGNING_ALG": algorithm, "JWT_ALGORITHMS": algorithm}
    )
    (jwk,) = app.test_client().get("/.well-known/jwks.json").json["keys"]
    assert jwk["alg"] == algorithm
    with app.app_context():
        token = auth_state(app).issuer.service_token("reporting", frozenset({"users:read"}))
    assert header_of(token) == {"alg": algorithm, "kid": jwk["kid"], "typ": "at+jwt"}
    key = jwt.PyJWK(jwk).key
    assert jwt.decode(token, key, algorithms=[algorithm], audience="users_service")["client_id"] == "reporting"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"JWT_SIGNING_ALG": "HS256", "JWT_ALGORITHMS": "HS256"}, "JWT_HS256_SECRET"),
        ({"JWT_SIGNING_ALG": "HS256", "JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "too-short"}, "32 bytes"),
        ({"SERVICE_CLIENTS": '{"svc": {"scopes": "users:read"}}'}, "no client secret"),
        ({"SERVICE_CLIENTS": '{"svc": {"secret": "changeme", "scopes": "users:read"}}'}, "at least 32 bytes"),
        ({"SERVICE_CLIENTS": '{"svc": {"secret": "' + "change-me-" * 4 + '", "scopes": "users:read"}}'}, "placeholder"),
        ({"SERVICE_CLIENTS": '{"bad id!": {"secret": "x", "scopes": "users:read"}}'}, "invalid client_id"),
        ({"ACCESS_TOKEN_TTL_SECONDS": "86400"}, "between 300 and 900"),
        ({"ACCESS_TOKEN_TTL_SECONDS": "60"}, "between 300 and 900"),
    ],
)
def test_unsafe_configuration_stops_start_up(services: Services, overrides: dict[str, str], reason: str) -> None:
    with pytest.raises(SettingsError, match=reason):
        create_app({**services.config, **overrides})


def test_hs256_opt_in_signs_with_the_shared_secret_and_publishes_nothing(services: Services, tmp_path: Any) -> None:
    import secrets

    secret = secrets.token_urlsafe(48)
    app = create_app(
        {**services.config, "JWT_SIGNING_ALG": "HS256", "JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": secret}
    )
    assert app.test_client().get("/.well-known/jwks.json").json == {"keys": []}
    with app.app_context():
        token = auth_state(app).issuer.service_token("reporting", frozenset({"users:read"}))
    decoded = jwt.decode(token, secret, algorithms=["HS256"], audience="users_service")
    assert decoded["sub"] == "client:reporting"
    assert time.time() < decoded["exp"]


def test_refresh_racing_logout_all_loses(actions: Actions, services: Services, auth_client: FlaskClient) -> None:
    user, tokens = actions.new_user()
    # logout-all lands after the refresh token was verified but before its rotation: the
    # rotation itself checks the user's not-before and refuses.
    revocation = auth_state(services.auth).sessions
    claims = claims_of(tokens["refresh_token"])
    revocation.revoke_user(user["id"], now=claims["iat"] + 0.5)
    outcome, _ = revocation.rotate(claims, "new-jti", 600)
    assert outcome.value == "revoked"
    assert auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_a_refused_cached_service_token_is_replaced_on_the_spot(actions: Actions, services: Services) -> None:
    user = actions.sign_up()
    issuer = auth_state(services.auth).issuer
    issuer._service_token = ("not-a-valid-token", time.time() + 3600)  # e.g. its key was retired
    assert actions.login(user["username"])["access_token"]
    assert issuer._service_token[0] != "not-a-valid-token"


@pytest.mark.parametrize("endpoint", ["login", "refresh", "token"])
def test_token_responses_are_never_cached(
    endpoint: str, actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    if endpoint == "login":
        user = actions.sign_up()
        response = auth_client.post("/auth/login", json={"username": user["username"], "password": DEFAULT_PASSWORD})
    elif endpoint == "refresh":
        _user, tokens = actions.new_user()
        response = auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    else:
        response = auth_client.post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "reporting",
                "client_secret": services.client_secret,
            },
        )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


# --- the trust edge to users_service ----------------------------------------------------


@pytest.fixture
def users_answering_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], None]:
    """Make users_service answer its internal endpoints with another user's record.

    The real service patched, because a compromised users_service is what is simulated:
    auth_service must not sign whatever roles such an answer claims.
    """
    from users_service import internal

    real = internal._internal_view

    def answer_for(other: dict[str, Any]) -> None:
        monkeypatch.setattr(
            internal,
            "_internal_view",
            lambda user: {**real(user), "id": other["id"], "username": other["username"], "roles": ["admin", "user"]},
        )

    return answer_for


def test_a_credential_answer_for_another_user_is_refused(
    actions: Actions, auth_client: FlaskClient, users_answering_for: Callable[[dict[str, Any]], None]
) -> None:
    user, other = actions.sign_up(), actions.sign_up()
    users_answering_for(other)
    response = auth_client.post("/auth/login", json={"username": user["username"], "password": DEFAULT_PASSWORD})
    assert response.status_code == 503
    assert "access_token" not in response.json


def test_a_user_lookup_answer_for_another_user_is_refused_at_refresh(
    actions: Actions, auth_client: FlaskClient, users_answering_for: Callable[[dict[str, Any]], None]
) -> None:
    (_user, tokens), other = actions.new_user(), actions.sign_up()
    users_answering_for(other)
    response = auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 503
    assert "access_token" not in response.json
