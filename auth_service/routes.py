"""auth_service endpoints: login, refresh, logout and revocation (the OAuth endpoints are oauth.py's)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from apiflask import APIBlueprint
from flask.wrappers import Response

from secure_service import (
    InvalidRequest,
    InvalidToken,
    NotFound,
    ServiceError,
    TokenRevoked,
    audit,
    authenticate,
    current_claims,
    require_token,
    verifier_state,
)
from secure_service.database import utc_isoformat
from secure_service.openapi import names_end_user

from . import metrics, schemas
from .errors import InvalidCredentials
from .login_limits import username_digest
from .sessions import Rotation, SessionRecord
from .settings import SERVICE_NAME
from .state import auth_state

bp = APIBlueprint("auth", __name__, url_prefix="/auth", tag="Auth")


@bp.after_request
def _no_store(response: Response) -> Response:
    """Token responses must not be cached by the client or anything between (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.post("/login")
@names_end_user
@bp.input(schemas.LoginIn, arg_name="body")
@bp.output(schemas.TokenPairOut)
@bp.doc(responses={401: "Invalid credentials", 429: "Too many failed logins; see Retry-After"})
def login(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange a username and password for an access and a refresh token."""
    user = auth_state().users.check_credentials(body["username"], body["password"])
    if user is None or not user.active:
        # One answer for an unknown user, a wrong password and a disabled account.
        metrics.LOGIN_FAILURES.labels(SERVICE_NAME, "invalid_credentials").inc()
        audit("login_failed", username_hash=username_digest(body["username"]), reason="invalid_credentials")
        raise InvalidCredentials()
    pair = auth_state().issuer.new_session(user)
    audit("login_succeeded", sub=user.id)
    return pair.as_response()


@bp.post("/refresh")
@bp.output(schemas.TokenPairOut)
@bp.doc(security="BearerAuth", responses={401: "Invalid, revoked or reused refresh token"})
def refresh() -> dict[str, Any]:
    """Rotate a refresh token (sent as the Bearer token): a new pair, the old one dies."""
    claims = authenticate(kind="refresh")
    sid, sub = claims["sid"], claims["sub"]
    user = auth_state().users.get_user(sub)
    if user is None or not user.active:
        auth_state().sessions.revoke_session(jti=claims["jti"], expires_at=claims["exp"], sids=[sid])
        raise InvalidToken("The user of this session no longer exists or is disabled.")
    outcome, successor = auth_state().sessions.rotate(
        claims, str(uuid.uuid4()), claims["exp"] - int(time.time()), access_jti=str(uuid.uuid4())
    )
    if outcome is Rotation.REUSED:
        # RFC 9700 §4.14.2: a rotated refresh token came back, so one of its holders is
        # an attacker; the whole family has just been revoked.
        metrics.REFRESH_REUSE.labels(SERVICE_NAME).inc()
        audit("refresh_reuse_detected", sub=sub, jti=claims["jti"], sid=sid)
        raise TokenRevoked("This refresh token was already used; the session has been revoked.")
    if successor is None:
        raise TokenRevoked("This session has ended.")
    # A retry within REFRESH_REUSE_GRACE_SECONDS gets the pair the first answer carried.
    pair = auth_state().issuer.rotated_pair(user, sid=sid, successor=successor, family_expires_at=claims["exp"])
    if outcome is Rotation.RETRIED:
        audit("refresh_retried", sub=sub, jti=claims["jti"], sid=sid)
    else:
        audit("token_refreshed", sub=sub, sid=sid)
    return pair.as_response()


@bp.post("/logout")
@require_token()
@bp.input(schemas.LogoutIn, arg_name="body")
@bp.output({}, status_code=204)
def logout(body: dict[str, Any]) -> tuple[str, int]:
    """End this session: the access token and its refresh family stop working everywhere."""
    claims = current_claims()
    extra_sid = _refresh_sid_of(body["refresh_token"], claims["sub"]) if "refresh_token" in body else None
    sessions = {sid for sid in (claims.get("sid"), extra_sid) if sid}
    auth_state().sessions.revoke_session(jti=claims["jti"], expires_at=claims["exp"], sids=sessions)
    audit("logout", sub=claims["sub"], jti=claims["jti"], sid=claims.get("sid"))
    return "", 204


def _refresh_sid_of(token: str, sub: str) -> str:
    """The session of a refresh token sent to logout; it must be a genuine one of this user."""
    try:
        # Expired or revoked, it still names the session to end (its access tokens may live on).
        claims = verifier_state().verify(token, kind="refresh", allow_expired=True, allow_revoked=True)
    except ServiceError as e:
        raise InvalidRequest("refresh_token is not a valid refresh token.") from e
    if claims["sub"] != sub:
        raise InvalidRequest("refresh_token is not a refresh token of this user.")
    return str(claims["sid"])


@bp.post("/logout-all")
@require_token()
@bp.output({}, status_code=204)
def logout_all() -> tuple[str, int]:
    """Revoke every token of the caller issued before now, on every service."""
    claims = current_claims()
    auth_state().sessions.revoke_user(claims["sub"])
    audit("logout_all", sub=claims["sub"], jti=claims["jti"])
    return "", 204


@bp.get("/sessions")
@require_token()
@bp.output(schemas.SessionListOut)
def list_sessions() -> dict[str, Any]:
    """The caller's live sessions, newest first; ``current`` marks the one of this token."""
    claims = current_claims()
    records = auth_state().sessions.list_sessions(claims["sub"])
    return {"sessions": [_session_view(record, current=record.sid == claims.get("sid")) for record in records]}


def _session_view(record: SessionRecord, *, current: bool) -> dict[str, Any]:
    return {
        "sid": record.sid,
        "created_at": utc_isoformat(datetime.fromtimestamp(record.created_at, UTC)),
        "last_used_at": utc_isoformat(datetime.fromtimestamp(record.last_used_at, UTC)),
        "client_id": record.client_id,
        "current": current,
    }


@bp.delete("/sessions/<string(maxlength=64):sid>")
@require_token()
@bp.output({}, status_code=204)
@bp.doc(responses={404: "Not a live session of the caller"})
def end_session(sid: str) -> tuple[str, int]:
    """End one of the caller's sessions: its tokens stop working everywhere at once."""
    claims = current_claims()
    # One answer for another user's session, an ended one and one that never was.
    if not auth_state().sessions.end_session(claims["sub"], sid):
        raise NotFound("No such session.")
    current = sid == claims.get("sid")
    audit("session_ended", sub=claims["sub"], sid=sid, current=current)
    return "", 204


@bp.post("/revoke")
@require_token(roles=["admin"])
@bp.input(schemas.RevokeIn, arg_name="body")
@bp.output({}, status_code=204)
def revoke_user(body: dict[str, Any]) -> tuple[str, int]:
    """Admin: revoke every token of a user issued before now."""
    auth_state().sessions.revoke_user(body["user_id"])
    audit("admin_revoke", sub=current_claims()["sub"], target_sub=body["user_id"])
    return "", 204
