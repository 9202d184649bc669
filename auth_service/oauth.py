"""The standard OAuth endpoints: token (client credentials, token exchange), revocation, introspection.

- ``POST /auth/token``: the client-credentials grant (RFC 6749 §4.4) and token exchange
  (RFC 8693), by which a service swaps a user's token for a narrower one to call another
  service for that user, instead of relaying the user's own token.
- ``POST /oauth/revoke`` (RFC 7009) and ``POST /oauth/introspect`` (RFC 7662), so a
  gateway or a service in another language can end a token or ask whether it is active.

Every check is the verifier's own (secure_service's ``VerifierState.verify``): what these
endpoints call valid is exactly what every service accepts. Errors have the RFC 6749 §5.2
shape (``error``, ``error_description``) besides the stack's ``message``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from apiflask import APIBlueprint
from flask import request
from flask.wrappers import Response

from secure_service import AuthError, InvalidRequest, RevocationUnavailable, audit, verifier_state
from secure_service.bearer import unverified_header
from secure_service.claim_rules import REFRESH_TOKEN_TYP, token_typ
from secure_service.openapi import documented_as_form
from secure_service.token_exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT

from . import metrics, schemas
from .client_auth import authenticate_client, identify_client
from .errors import InvalidGrant, InvalidScope, InvalidTarget, UnauthorizedClient, UnsupportedGrantType
from .settings import AUDIENCE_BY_SCOPE_PREFIX, SERVICE_NAME, ServiceClient
from .state import auth_state

bp = APIBlueprint("oauth", __name__, tag="OAuth")

CLIENT_CREDENTIALS = "client_credentials"
GRANT_TYPES = (CLIENT_CREDENTIALS, TOKEN_EXCHANGE_GRANT)
#: The parameters these endpoints read. Each appears once (RFC 6749 §3.1), but those RFC
#: 8693 lets a client repeat; any other parameter is ignored (RFC 6749 §3.2).
_ONCE_ONLY = (frozenset(schemas.TokenRequestIn().fields) | frozenset(schemas.TokenIn().fields)) - {
    "audience",
    "resource",
}


@bp.before_request
def _each_parameter_once_and_a_known_grant() -> None:
    for name in _ONCE_ONLY:
        if len(request.form.getlist(name)) > 1:
            raise InvalidRequest(f"The parameter {name} appears more than once.")
    body = request.form if request.form else request.get_json(silent=True)
    grant = body.get("grant_type") if isinstance(body, Mapping) else None
    if request.endpoint == "oauth.token" and isinstance(grant, str) and grant not in GRANT_TYPES:
        # Before the schema (which lists the grant types, so the document says which work):
        # an unknown grant is RFC 6749's unsupported_grant_type, not a generic invalid_request.
        raise UnsupportedGrantType()


@bp.after_request
def _oauth_response(response: Response) -> Response:
    # RFC 6749 §5.1: nothing may cache a token response (nor, here, an error or an introspection).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    if response.status_code >= 400 and response.is_json:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and "error" in body and "message" in body:
            # RFC 6749 §5.2's member, beside the message every error of the stack has.
            body["error_description"] = body["message"]
            response.set_data(json.dumps(body))
    return response


@bp.post("/auth/token")
@documented_as_form
@bp.input(schemas.TokenRequestIn, location="json_or_form", arg_name="body")
@bp.output(schemas.TokenOut)
@bp.doc(
    security=[{"ClientSecretBasic": []}, {}],
    responses={
        400: "invalid_request, invalid_grant, invalid_scope, invalid_target, unauthorized_client or "
        "unsupported_grant_type (RFC 6749 §5.2)",
        401: "invalid_client: client authentication failed",
    },
)
def token(body: dict[str, Any]) -> dict[str, Any]:
    """A service token (``client_credentials``) or an exchanged token (RFC 8693 token exchange).

    The client authenticates with HTTP Basic (``client_secret_basic``) or with
    ``client_id`` and ``client_secret`` in the form (``client_secret_post``).
    """
    client = authenticate_client(body)
    # The first version's client-credentials call named no grant_type (DESIGN.md), so its
    # clients keep working; RFC 6749 makes it required, and every other grant must say so.
    grant = body.get("grant_type", CLIENT_CREDENTIALS)
    if grant == CLIENT_CREDENTIALS:
        return _client_credentials(client, body)
    if grant == TOKEN_EXCHANGE_GRANT:
        return _token_exchange(client, body)
    raise UnsupportedGrantType()  # the schema refuses any other; kept should the two lists part


def _client_credentials(client: ServiceClient, body: dict[str, Any]) -> dict[str, Any]:
    if not client.scopes:
        raise UnauthorizedClient("This client may not use the client_credentials grant.")
    requested = frozenset(body.get("scope", "").split()) or client.scopes
    if not requested <= client.scopes:
        raise InvalidScope()
    access_token = auth_state().issuer.service_token(client.client_id, requested)
    audit("service_token_issued", sub=client.client_id)
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": auth_state().settings.access_token_ttl,
        "scope": " ".join(sorted(requested)),
    }


def _token_exchange(client: ServiceClient, body: dict[str, Any]) -> dict[str, Any]:
    """RFC 8693: a token for one audience, acting for the subject token's user, never wider."""
    if not client.exchange_scopes:
        raise UnauthorizedClient("This client may not exchange tokens.")
    if "actor_token" in body or "actor_token_type" in body:
        raise InvalidRequest("Actor tokens are not supported: the authenticated client is the actor.")
    if "resource" in body:
        raise InvalidTarget("Name the service with audience; resource is not supported.")
    if body.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise InvalidRequest(f"Only {ACCESS_TOKEN_TYPE} can be issued.")
    if "subject_token" not in body or body.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        raise InvalidRequest(f"A token exchange needs subject_token, of subject_token_type {ACCESS_TOKEN_TYPE}.")
    try:
        subject = verifier_state().verify(body["subject_token"], kind="access")
    except RevocationUnavailable:
        raise
    except AuthError as e:
        raise InvalidGrant("The subject token is invalid, expired or revoked.") from e
    if "sid" not in subject:
        raise InvalidGrant("The subject token is not a user's token.")

    audience = _exchange_audience(body)
    allowed = frozenset(s for s in client.exchange_scopes if AUDIENCE_BY_SCOPE_PREFIX[s.split(":")[0]] == audience)
    if not allowed:
        raise InvalidTarget("This client may not get a token for that audience.")
    granted = frozenset(subject["scope"].split()) & allowed
    requested = frozenset(body.get("scope", "").split()) or granted
    if not requested or not requested <= granted:
        raise InvalidScope("The scope must be the subject token's, for the audience, and allowed to this client.")
    access_token, expires_in = auth_state().issuer.exchanged_token(
        subject, client_id=client.client_id, audience=audience, scopes=requested
    )
    if expires_in <= 0:
        raise InvalidGrant("The subject token has expired.")
    metrics.TOKEN_EXCHANGES.labels(SERVICE_NAME, client.client_id).inc()
    audit(
        "token_exchanged",
        sub=subject["sub"],
        sid=subject["sid"],
        client_id=client.client_id,
        audience=audience,
        subject_jti=subject["jti"],
    )
    return {
        "access_token": access_token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": " ".join(sorted(requested)),
    }


def _exchange_audience(body: dict[str, Any]) -> str:
    """The one service the exchanged token is for: ``audience``, else the one its scopes name."""
    audiences = request.form.getlist("audience") if request.form else [body["audience"]] if "audience" in body else []
    if not audiences:
        named = {AUDIENCE_BY_SCOPE_PREFIX.get(s.split(":")[0]) for s in body.get("scope", "").split()}
        audiences = [a for a in named if a]
    if len(audiences) != 1:
        raise InvalidTarget("Name exactly one audience (a service of this stack).")
    if audiences[0] not in AUDIENCE_BY_SCOPE_PREFIX.values():
        raise InvalidTarget()
    return audiences[0]


@bp.post("/oauth/revoke")
@bp.input(schemas.TokenIn, location="form", arg_name="body")
@bp.output({}, status_code=200)
@bp.doc(
    security=[{"ClientSecretBasic": []}, {}],
    responses={400: "invalid_request or unauthorized_client (a token of another client)", 401: "invalid_client"},
)
def revoke(body: dict[str, Any]) -> tuple[str, int]:
    """Revoke a token (RFC 7009): 200 also for an unknown, expired or already revoked one.

    A refresh token ends its whole session (every token of it, at every service); an
    access token ends itself. A client may revoke only the tokens issued to it; the
    public client names itself with ``client_id``, a service client authenticates.
    """
    client = identify_client(body, allow_public=True)
    found = _issued_token(body["token"], allow_inactive=True)
    if found is None:
        return "", 200
    kind, claims = found
    if claims["client_id"] != client.client_id:
        raise UnauthorizedClient("This token was not issued to this client.")
    if claims["exp"] + verifier_state().settings.leeway_seconds <= time.time():
        return "", 200  # expired: no service accepts it any more
    sessions = [claims["sid"]] if kind == "refresh" else []
    auth_state().sessions.revoke_session(jti=claims["jti"], expires_at=claims["exp"], sids=sessions)
    audit(
        "token_revoked",
        sub=claims["sub"],
        jti=claims["jti"],
        sid=claims.get("sid"),
        client_id=client.client_id,
        kind=kind,
    )
    return "", 200


@bp.post("/oauth/introspect")
@bp.input(schemas.TokenIn, location="form", arg_name="body")
@bp.output(schemas.IntrospectionOut)
@bp.doc(
    security=[{"ClientSecretBasic": []}, {}],
    responses={400: "invalid_request or unauthorized_client (not allowed to introspect)", 401: "invalid_client"},
)
def introspect(body: dict[str, Any]) -> dict[str, Any]:
    """Whether a token is active now (RFC 7662), with the same checks as every verifier, revocation included.

    ``{"active": false}`` for anything expired, revoked, rotated, malformed or not issued
    here; for an active token, its claims. Only service clients allowed to introspect.
    """
    client = authenticate_client(body)
    if not client.may_introspect:
        raise UnauthorizedClient("This client may not introspect tokens.")
    found = _issued_token(body["token"], allow_inactive=False)
    if found is None:
        return {"active": False}
    kind, claims = found
    aud = claims["aud"]
    answer = {
        **{
            name: claims[name]
            for name in ("sub", "iss", "exp", "iat", "nbf", "jti", "client_id", "sid", "act")
            if name in claims
        },
        "active": True,
        "aud": aud if isinstance(aud, list) else [aud],
        "token_type": "Bearer" if kind == "access" else "refresh_token",
    }
    if kind == "access":
        answer.update(scope=claims["scope"], roles=claims["roles"])
    return answer


def _issued_token(token: str, *, allow_inactive: bool) -> tuple[str, dict[str, Any]] | None:
    """("access" | "refresh", claims) of a genuine token of this issuer, or None.

    With ``allow_inactive``, an expired or revoked token is still named (revocation
    treats it as done); without, only an active one: for a refresh token, also the
    current one of its session (a rotated one is dead). Redis failing is a 503, never
    an answer: neither "active" nor "inactive" would be known.
    """
    try:
        kind = "refresh" if token_typ(unverified_header(token)) == REFRESH_TOKEN_TYP else "access"
        claims = verifier_state().verify(
            token,
            kind=kind,
            allow_expired=allow_inactive,
            allow_revoked=allow_inactive,
            audiences=auth_state().settings.issued_audiences,
        )
    except RevocationUnavailable:
        raise
    except AuthError:
        return None
    if kind == "refresh" and not allow_inactive and not auth_state().sessions.is_current_refresh(claims):
        return None
    return kind, claims
