"""The standard OAuth endpoints: client authentication, token exchange, revocation, introspection, metadata."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from auth_service.state import auth_state
from tests.support import bearer, claims_of, with_broken_signature
from tests.unit.services import Actions, Services

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def orders_client_auth(services: Services) -> tuple[str, str]:
    return ("orders_service", services.config["ORDERS_SERVICE_CLIENT_SECRET"])


def exchange(auth_client: FlaskClient, services: Services, subject_token: str, **extra: Any) -> TestResponse:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": "users_service",
        "scope": "users:read",
        **extra,
    }
    return auth_client.post("/auth/token", data=form, auth=orders_client_auth(services))


def introspect(auth_client: FlaskClient, services: Services, token: str, **extra: str) -> TestResponse:
    return auth_client.post(
        "/oauth/introspect", data={"token": token, **extra}, auth=(services.client_id, services.client_secret)
    )


def assert_oauth_error(response: TestResponse, status: int, error: str) -> None:
    assert response.status_code == status, response.json
    assert response.json["error"] == error
    # RFC 6749 §5.2's member, and the message every error of the stack carries.
    assert response.json["error_description"] == response.json["message"]
    assert response.headers["Cache-Control"] == "no-store"


# --- client authentication (RFC 6749 §2.3.1) --------------------------------------------


def test_a_client_authenticates_with_http_basic(services: Services, auth_client: FlaskClient) -> None:
    response = auth_client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=(services.client_id, services.client_secret)
    )
    assert response.status_code == 200, response.json
    assert claims_of(response.json["access_token"])["client_id"] == services.client_id


def test_a_wrong_basic_secret_is_told_which_scheme_failed(services: Services, auth_client: FlaskClient) -> None:
    response = auth_client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=(services.client_id, "wrong" * 8)
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_two_authentication_methods_at_once_are_refused(services: Services, auth_client: FlaskClient) -> None:
    response = auth_client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "client_secret": services.client_secret},
        auth=(services.client_id, services.client_secret),
    )
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        pytest.param({"grant_type": ""}, 400, "unsupported_grant_type", id="empty-grant-type"),
        pytest.param({"grant_type": "password"}, 400, "unsupported_grant_type", id="password-grant"),
        pytest.param({"grant_type": "refresh_token"}, 400, "unsupported_grant_type", id="refresh-grant"),
        pytest.param({"grant_type": "client_credentials", "scope": "users:write"}, 400, "invalid_scope", id="scope"),
    ],
)
def test_token_endpoint_errors_have_the_rfc_shape(
    services: Services, auth_client: FlaskClient, form: dict[str, str], status: int, error: str
) -> None:
    response = auth_client.post("/auth/token", data=form, auth=(services.client_id, services.client_secret))
    assert_oauth_error(response, status, error)


def test_a_parameter_sent_twice_is_refused(services: Services, auth_client: FlaskClient) -> None:
    response = auth_client.post(
        "/auth/token",
        data=MultiDict([("grant_type", "client_credentials"), ("scope", "users:read"), ("scope", "orders:read")]),
        auth=(services.client_id, services.client_secret),
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_unknown_parameters_are_ignored_as_the_rfc_requires(services: Services, auth_client: FlaskClient) -> None:
    response = auth_client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "some_extension": "x"},
        auth=(services.client_id, services.client_secret),
    )
    assert response.status_code == 200


def test_a_client_gets_only_the_grants_it_was_given(services: Services, auth_client: FlaskClient) -> None:
    # orders_service may exchange tokens, nothing else; the reporting client may not exchange.
    response = auth_client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=orders_client_auth(services)
    )
    assert_oauth_error(response, 400, "unauthorized_client")


# --- token exchange (RFC 8693) ----------------------------------------------------------


def test_an_exchanged_token_is_narrower_in_every_way(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    user, tokens = actions.new_user()
    subject = claims_of(tokens["access_token"])
    response = exchange(auth_client, services, tokens["access_token"])
    assert response.status_code == 200, response.json
    assert response.json["issued_token_type"] == ACCESS_TOKEN_TYPE
    assert response.json["token_type"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"
    claims = claims_of(response.json["access_token"])
    assert claims["sub"] == user["id"]
    assert claims["aud"] == ["users_service"]
    assert claims["scope"] == "users:read"
    assert claims["act"] == {"sub": "client:orders_service"}
    assert claims["client_id"] == "orders_service"
    assert claims["sid"] == subject["sid"]
    assert claims["roles"] == []
    assert claims["jti"] != subject["jti"]
    assert claims["exp"] <= subject["exp"]
    assert response.json["expires_in"] == claims["exp"] - claims["iat"]


def test_an_exchanged_token_works_at_users_service_and_nowhere_else(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    user, tokens = actions.new_user()
    exchanged = exchange(auth_client, services, tokens["access_token"]).json["access_token"]
    me = actions.users.get("/users/me", headers=bearer(exchanged))
    assert me.status_code == 200 and me.json["id"] == user["id"]
    assert actions.orders.get("/orders", headers=bearer(exchanged)).status_code == 401
    assert actions.auth.post("/auth/logout-all", headers=bearer(exchanged)).status_code == 401
    # users:read only: it cannot write, even where it is accepted.
    assert actions.users.get("/users", headers=bearer(exchanged)).status_code == 403


def test_an_exchanged_token_never_outlives_its_subject(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    user = actions.sign_up()
    issuer = auth_state(services.auth).issuer
    now = int(time.time())
    with services.auth.app_context():
        # A user token 20 s from expiry, as the issuer would have minted it 9:40 ago.
        subject = issuer._access_token(
            user["id"],
            issued_at=now - issuer.settings.access_token_ttl + 20,
            scope="users:read orders:read",
            roles=[],
            audience=["auth_service", "users_service", "orders_service"],
            client_id="web-app",
            sid=str(uuid.uuid4()),
        )
    response = exchange(auth_client, services, subject)
    assert response.status_code == 200, response.json
    assert claims_of(response.json["access_token"])["exp"] == claims_of(subject)["exp"]
    assert response.json["expires_in"] <= 20


def test_an_exchanged_token_dies_with_the_session(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    exchanged = exchange(auth_client, services, tokens["access_token"]).json["access_token"]
    assert auth_client.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert actions.users.get("/users/me", headers=bearer(exchanged)).status_code == 401


def test_what_cannot_be_exchanged(actions: Actions, services: Services, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    service_token = auth_client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, auth=(services.client_id, services.client_secret)
    ).json["access_token"]
    exchanged = exchange(auth_client, services, tokens["access_token"]).json["access_token"]
    for subject in (
        tokens["refresh_token"],
        with_broken_signature(tokens["access_token"]),
        service_token,  # no user, and not for auth_service
        exchanged,  # for users_service only: no second exchange
        "not-a-token",
    ):
        assert_oauth_error(exchange(auth_client, services, subject), 400, "invalid_grant")
    auth_client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert_oauth_error(exchange(auth_client, services, tokens["access_token"]), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        pytest.param({"scope": "users:write"}, "invalid_scope", id="wider-scope-than-the-client-may-have"),
        pytest.param({"scope": "orders:read"}, "invalid_scope", id="scope-for-another-audience"),
        pytest.param({"audience": "orders_service", "scope": ""}, "invalid_target", id="audience-not-allowed"),
        pytest.param({"audience": "elsewhere"}, "invalid_target", id="unknown-audience"),
        pytest.param({"resource": "http://elsewhere/"}, "invalid_target", id="resource"),
        pytest.param({"actor_token": "x", "actor_token_type": ACCESS_TOKEN_TYPE}, "invalid_request", id="actor"),
        pytest.param({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "invalid_request", id="type"),
        pytest.param(
            {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
            "invalid_request",
            id="requested-refresh-token",
        ),
    ],
)
def test_an_exchange_never_widens_or_strays(
    actions: Actions, services: Services, auth_client: FlaskClient, extra: dict[str, str], error: str
) -> None:
    _user, tokens = actions.new_user()
    assert_oauth_error(exchange(auth_client, services, tokens["access_token"], **extra), 400, error)


def test_two_audiences_in_one_exchange_are_refused(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    form = MultiDict(
        [
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", tokens["access_token"]),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", "users_service"),
            ("audience", "orders_service"),
        ]
    )
    response = auth_client.post("/auth/token", data=form, auth=orders_client_auth(services))
    assert_oauth_error(response, 400, "invalid_target")


def test_a_client_not_allowed_to_exchange_cannot(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    response = auth_client.post(
        "/auth/token",
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": tokens["access_token"],
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "audience": "users_service",
        },
        auth=(services.client_id, services.client_secret),
    )
    assert_oauth_error(response, 400, "unauthorized_client")


# --- orders_service uses the exchange ---------------------------------------------------


def exchanges_by_orders() -> float:
    labels = {"service": "auth_service", "client_id": "orders_service"}
    return REGISTRY.get_sample_value("auth_token_exchanges_total", labels) or 0.0


def test_orders_service_calls_users_service_with_an_exchanged_token_not_the_callers(
    actions: Actions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="audit")
    user, tokens = actions.new_user()
    caller = claims_of(tokens["access_token"])
    response = actions.orders.post(
        "/orders", json={"item": "book", "quantity": 1}, headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 201, response.json
    # users_service saw a delegated call for the user, by orders_service, with another token.
    (delegated,) = [r for r in caplog.records if getattr(r, "event", None) == "delegated_call"]
    assert delegated.path == "/users/me"
    assert delegated.sub == user["id"]
    assert delegated.act == {"sub": "client:orders_service"}
    assert delegated.jti != caller["jti"]
    assert tokens["access_token"] not in caplog.text


def test_one_exchange_per_caller_token_not_one_per_order(actions: Actions) -> None:
    _user, tokens = actions.new_user()
    before = exchanges_by_orders()
    for _ in range(3):
        created = actions.orders.post(
            "/orders", json={"item": "pen", "quantity": 1}, headers=bearer(tokens["access_token"])
        )
        assert created.status_code == 201
    assert exchanges_by_orders() == before + 1
    _user, other = actions.new_user()
    actions.orders.post("/orders", json={"item": "pen", "quantity": 1}, headers=bearer(other["access_token"]))
    assert exchanges_by_orders() == before + 2


# --- introspection (RFC 7662) -----------------------------------------------------------


def test_an_active_access_token_is_introspected_with_its_claims(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    user, tokens = actions.new_user()
    response = introspect(auth_client, services, tokens["access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json
    claims = claims_of(tokens["access_token"])
    assert answer["active"] is True
    assert answer["sub"] == user["id"] and answer["jti"] == claims["jti"] and answer["sid"] == claims["sid"]
    assert answer["scope"] == claims["scope"] and answer["exp"] == claims["exp"]
    assert answer["client_id"] == "web-app" and answer["token_type"] == "Bearer"
    assert set(answer["aud"]) == set(claims["aud"])


def test_tokens_for_other_services_are_introspected_too(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    exchanged = exchange(auth_client, services, tokens["access_token"]).json["access_token"]
    answer = introspect(auth_client, services, exchanged).json
    assert answer["active"] is True
    assert answer["aud"] == ["users_service"] and answer["act"] == {"sub": "client:orders_service"}


def test_anything_not_currently_valid_is_just_inactive(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    user, tokens = actions.new_user()
    _other, logged_out = actions.new_user()
    auth_client.post("/auth/logout", headers=bearer(logged_out["access_token"]))
    _third, rotated = actions.new_user()
    assert auth_client.post("/auth/refresh", headers=bearer(rotated["refresh_token"])).status_code == 200
    issuer = auth_state(services.auth).issuer
    with services.auth.app_context():
        expired = issuer._access_token(
            user["id"],
            issued_at=int(time.time()) - 1200,
            scope="users:read",
            roles=[],
            audience=["auth_service"],
            client_id="web-app",
            sid=str(uuid.uuid4()),
        )
    for token in (
        logged_out["access_token"],  # revoked
        logged_out["refresh_token"],  # its session ended
        rotated["refresh_token"],  # rotated: no longer the session's
        expired,
        with_broken_signature(tokens["access_token"]),
        "not-a-token",
        "a.b.c",
    ):
        response = introspect(auth_client, services, token)
        assert response.status_code == 200
        assert response.json == {"active": False}, token


def test_a_current_refresh_token_is_active(actions: Actions, services: Services, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    answer = introspect(auth_client, services, tokens["refresh_token"], token_type_hint="refresh_token").json
    assert answer["active"] is True and answer["token_type"] == "refresh_token"
    assert "scope" not in answer


def test_only_clients_allowed_to_introspect_may(actions: Actions, services: Services, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    refused = auth_client.post(
        "/oauth/introspect", data={"token": tokens["access_token"]}, auth=orders_client_auth(services)
    )
    assert_oauth_error(refused, 400, "unauthorized_client")
    anonymous = auth_client.post("/oauth/introspect", data={"token": tokens["access_token"]})
    assert_oauth_error(anonymous, 401, "invalid_client")
    public = auth_client.post("/oauth/introspect", data={"token": tokens["access_token"], "client_id": "web-app"})
    assert_oauth_error(public, 401, "invalid_client")


# --- revocation (RFC 7009) --------------------------------------------------------------


def test_revoking_a_refresh_token_ends_its_session_everywhere(actions: Actions, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    response = auth_client.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": "web-app"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert actions.users.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert actions.orders.get("/orders", headers=bearer(tokens["access_token"])).status_code == 401


def test_revoking_an_access_token_ends_that_token_only(actions: Actions, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    response = auth_client.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"], "token_type_hint": "access_token", "client_id": "web-app"},
    )
    assert response.status_code == 200
    assert actions.users.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    refreshed = auth_client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200
    assert actions.users.get("/users/me", headers=bearer(refreshed.json["access_token"])).status_code == 200


@pytest.mark.parametrize("token", ["not-a-token", "a.b.c", "x" * 4000])
def test_revoking_an_unknown_token_is_still_200(auth_client: FlaskClient, token: str) -> None:
    response = auth_client.post("/oauth/revoke", data={"token": token, "client_id": "web-app"})
    assert response.status_code == 200


def test_revoking_twice_is_200_both_times(actions: Actions, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    for _ in range(2):
        response = auth_client.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": "web-app"})
        assert response.status_code == 200


def test_a_client_may_revoke_only_its_own_tokens(
    actions: Actions, services: Services, auth_client: FlaskClient
) -> None:
    _user, tokens = actions.new_user()
    response = auth_client.post(
        "/oauth/revoke", data={"token": tokens["access_token"]}, auth=(services.client_id, services.client_secret)
    )
    assert_oauth_error(response, 400, "unauthorized_client")
    assert actions.users.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_a_service_client_revokes_its_own_token_after_authenticating(
    services: Services, auth_client: FlaskClient, users_client: FlaskClient
) -> None:
    credentials = (services.client_id, services.client_secret)
    token = auth_client.post("/auth/token", data={"grant_type": "client_credentials"}, auth=credentials).json[
        "access_token"
    ]
    assert users_client.get("/users", headers=bearer(token)).status_code != 401
    unauthenticated = auth_client.post("/oauth/revoke", data={"token": token, "client_id": services.client_id})
    assert_oauth_error(unauthenticated, 401, "invalid_client")
    assert auth_client.post("/oauth/revoke", data={"token": token}, auth=credentials).status_code == 200
    assert users_client.get("/users", headers=bearer(token)).status_code == 401


def test_revocation_needs_a_known_client(actions: Actions, auth_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    assert_oauth_error(auth_client.post("/oauth/revoke", data={"token": tokens["access_token"]}), 401, "invalid_client")
    unknown = auth_client.post("/oauth/revoke", data={"token": tokens["access_token"], "client_id": "someone"})
    assert_oauth_error(unknown, 401, "invalid_client")
    assert actions.users.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200


# --- metadata (RFC 8414) ----------------------------------------------------------------


def test_metadata_lists_exactly_what_works(actions: Actions, services: Services, auth_client: FlaskClient) -> None:
    document = auth_client.get("/.well-known/oauth-authorization-server").json
    assert document == auth_client.get("/.well-known/openid-configuration").json
    issuer = services.config["JWT_ISSUER"]
    assert document["issuer"] == issuer
    assert document["jwks_uri"] == services.config["JWKS_URL"]
    # No authorization endpoint and no ID token here: nothing may claim otherwise.
    assert not {
        "authorization_endpoint",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "code_challenge_methods_supported",
    } & set(document)
    path = {name: document[name].removeprefix(issuer) for name in document if name.endswith("_endpoint")}
    assert path == {
        "token_endpoint": "/auth/token",
        "revocation_endpoint": "/oauth/revoke",
        "introspection_endpoint": "/oauth/introspect",
    }
    secret = services.client_secret

    def authenticated(method: str, form: dict[str, str]) -> dict[str, Any]:
        if method == "client_secret_basic":
            return {"data": form, "auth": (services.client_id, secret)}
        if method == "client_secret_post":
            return {"data": {**form, "client_id": services.client_id, "client_secret": secret}}
        assert method == "none"
        return {"data": {**form, "client_id": "web-app"}}

    _user, tokens = actions.new_user()
    for method in document["token_endpoint_auth_methods_supported"]:
        for grant in document["grant_types_supported"]:
            if grant == TOKEN_EXCHANGE:
                kwargs = authenticated(method, {})
                form = {
                    "grant_type": grant,
                    "subject_token": tokens["access_token"],
                    "subject_token_type": ACCESS_TOKEN_TYPE,
                    "audience": "users_service",
                }
                if "auth" in kwargs:
                    response = auth_client.post(path["token_endpoint"], data=form, auth=orders_client_auth(services))
                else:
                    client_id, client_secret = orders_client_auth(services)
                    response = auth_client.post(
                        path["token_endpoint"],
                        data={**form, "client_id": client_id, "client_secret": client_secret},
                    )
            else:
                response = auth_client.post(path["token_endpoint"], **authenticated(method, {"grant_type": grant}))
            assert response.status_code == 200, (method, grant, response.json)
    for method in document["introspection_endpoint_auth_methods_supported"]:
        response = auth_client.post(path["introspection_endpoint"], **authenticated(method, {"token": "x"}))
        assert response.status_code == 200 and response.json == {"active": False}, method
    for method in document["revocation_endpoint_auth_methods_supported"]:
        response = auth_client.post(path["revocation_endpoint"], **authenticated(method, {"token": "x"}))
        assert response.status_code == 200, method


# --- audit trail ------------------------------------------------------------------------


def test_revocations_exchanges_and_failed_client_logins_are_audited(
    actions: Actions, services: Services, auth_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="audit")
    user, tokens = actions.new_user()
    exchange(auth_client, services, tokens["access_token"])
    auth_client.post("/oauth/revoke", data={"token": tokens["refresh_token"], "client_id": "web-app"})
    auth_client.post("/oauth/introspect", data={"token": "x"}, auth=(services.client_id, "wrong" * 8))
    events = {getattr(r, "event", None): r for r in caplog.records if r.name == "audit"}
    refresh = claims_of(tokens["refresh_token"])
    assert events["token_exchanged"].sub == user["id"]
    assert events["token_exchanged"].subject_jti == claims_of(tokens["access_token"])["jti"]
    assert events["token_revoked"].jti == refresh["jti"] and events["token_revoked"].kind == "refresh"
    assert events["client_auth_failed"].client_id == services.client_id
    for secret in (tokens["access_token"], tokens["refresh_token"], services.client_secret):
        assert secret not in caplog.text


def test_a_first_version_client_credentials_call_still_works(services: Services, auth_client: FlaskClient) -> None:
    # DESIGN.md's client-credentials call: JSON, and no grant_type.
    response = auth_client.post(
        "/auth/token",
        json={"client_id": services.client_id, "client_secret": services.client_secret, "scope": "users:read"},
    )
    assert response.status_code == 200, response.json
    assert claims_of(response.json["access_token"])["aud"] == ["users_service"]
