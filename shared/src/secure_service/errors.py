"""One error hierarchy and one JSON error shape for every service.

Every error a service returns looks like ``{"error": "<code>", "message": "<text>"}``.
Token failures carry an RFC 6750 ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import redis
from apiflask import APIFlask, HTTPError
from werkzeug.datastructures import Headers

log = logging.getLogger(__name__)

# Error codes for errors that Flask/Werkzeug raise on their own (bad route, bad method…).
_CODES_BY_STATUS: Mapping[int, str] = {
    400: "invalid_request",
    401: "invalid_token",
    403: "insufficient_scope",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


class ServiceError(HTTPError):
    """Base of every error a service raises on purpose; carries its status and code."""

    status_code = 400
    code: ClassVar[str] = "invalid_request"
    default_message: ClassVar[str] = "The request is invalid."

    def __init__(self, message: str | None = None, headers: Mapping[str, str] | None = None):
        super().__init__(
            status_code=self.status_code,
            message=message or self.default_message,
            headers=dict(headers or {}),
        )


class InvalidRequest(ServiceError):
    status_code = 400
    code = "invalid_request"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"
    default_message = "The requested resource was not found."


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"
    default_message = "The resource already exists."


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class UpstreamUnavailable(ServiceError):
    """A peer service or a backing store did not answer; the client may retry."""

    status_code = 503
    code = "service_unavailable"
    default_message = "A service this request depends on is unavailable; retry shortly."
    retry_after_seconds = 5

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": str(self.retry_after_seconds)})


class RateLimited(ServiceError):
    """Too many requests of one kind from one client or for one account; retry later."""

    status_code = 429
    code = "too_many_requests"
    default_message = "Too many requests; retry after the delay in the Retry-After header."

    def __init__(self, message: str | None, retry_after_seconds: int):
        super().__init__(message, headers={"Retry-After": str(retry_after_seconds)})


# --- token errors -----------------------------------------------------------------------


class Reason(enum.StrEnum):
    """Which check refused a token: a closed set, because each is a metric label and an audit value.

    docs/operations.md lists the ones a ``token_rejected`` event can carry (a unit test
    keeps the two equal).
    """

    MISSING = "missing"
    MALFORMED_HEADER = "malformed_header"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    FORBIDDEN_HEADER = "forbidden_header"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_TYPE = "wrong_type"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_ISSUER = "wrong_issuer"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    MISSING_CLAIM = "missing_claim"
    BAD_CLAIM_TYPE = "bad_claim_type"
    REVOKED = "revoked"
    #: Any other refusal of the token library.
    INVALID = "invalid"
    #: Not a refusal of the token itself: a 403, or a 503 when Redis cannot answer.
    INSUFFICIENT_SCOPE = "insufficient_scope"
    REVOCATION_UNAVAILABLE = "revocation_unavailable"


class AuthError(ServiceError):
    """Base of every error the token verifier raises."""

    status_code = 401
    code = "invalid_token"
    default_message = "The access token is invalid."
    default_reason: ClassVar[Reason] = Reason.INVALID
    #: RFC 6750 error code in the challenge; None for a request with no credentials.
    challenge_error: ClassVar[str | None] = "invalid_token"

    def __init__(
        self, message: str | None = None, reason: Reason | None = None, *, claims: Mapping[str, Any] | None = None
    ):
        super().__init__(message)
        #: Which check failed (labels audit events and metrics). ``Reason(...)`` refuses a
        #: string outside the set, so no free-text label is ever created.
        self.reason = Reason(reason) if reason is not None else self.default_reason
        #: Verified claims, when the token was genuine but refused (revoked): for the audit.
        self.claims: Mapping[str, Any] = claims or {}

    def challenge(self, realm: str) -> str:
        """Build the RFC 6750 ``WWW-Authenticate`` value for this error."""
        parts = [f'realm="{_quote(realm)}"']
        if self.challenge_error:
            parts.append(f'error="{self.challenge_error}"')
            parts.append(f'error_description="{_quote(self.message or "")}"')
        return "Bearer " + ", ".join(parts)


class MissingToken(AuthError):
    code = "missing_token"
    default_reason = Reason.MISSING
    default_message = "This endpoint needs a Bearer token."
    challenge_error = None


class InvalidToken(AuthError):
    code = "invalid_token"


class TokenExpired(InvalidToken):
    code = "token_expired"
    default_reason = Reason.EXPIRED
    default_message = "The token has expired."


class TokenRevoked(InvalidToken):
    code = "token_revoked"
    default_reason = Reason.REVOKED
    default_message = "The token has been revoked."


class InsufficientScope(AuthError):
    status_code = 403
    code = "insufficient_scope"
    default_reason = Reason.INSUFFICIENT_SCOPE
    default_message = "The token does not grant access to this resource."
    challenge_error = "insufficient_scope"


class RevocationUnavailable(AuthError):
    """Revocation state could not be read: fail closed, never let the request through."""

    status_code = 503
    code = "service_unavailable"
    default_reason = Reason.REVOCATION_UNAVAILABLE
    default_message = "Token revocation state is unavailable; retry shortly."
    challenge_error = None


def _quote(text: str) -> str:
    # A quoted-string may not contain raw quotes, backslashes or control characters.
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return cleaned.replace("\\", "\\\\").replace('"', "'")[:200]


def render_error(error: HTTPError, realm: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Turn any HTTPError (ours, Werkzeug's or a validation error) into the shared shape."""
    status = error.status_code
    headers = {k: v for k, v in Headers(error.headers or {}).items() if k.lower() != "content-type"}
    message: str | None
    if isinstance(error, ServiceError):
        code, message = error.code, error.message or error.default_message
    else:
        code = _CODES_BY_STATUS.get(status, "error" if status < 500 else "internal_error")
        # Never let an unexpected error's text (which may hold internals) reach a client.
        message = error.message if status < 500 else "Internal server error."
    body: dict[str, Any] = {"error": code, "message": message or "Error"}
    if error.detail:
        # Validation errors say which field is wrong and why; they never echo the input.
        body["message"] = "The request body or parameters are invalid."
        body["details"] = error.detail
    if isinstance(error, AuthError) and status in (401, 403):
        headers["WWW-Authenticate"] = error.challenge(realm)
    elif status == 401:
        # An error may name its own scheme (a failed HTTP Basic client authentication).
        headers.setdefault("WWW-Authenticate", f'Bearer realm="{_quote(realm)}"')
    if status == 503:
        headers.setdefault("Retry-After", str(UpstreamUnavailable.retry_after_seconds))
    return body, status, headers


def init_error_handling(app: APIFlask, realm: str) -> None:
    """Route every error of ``app`` through :func:`render_error`, naming ``realm``."""

    @app.error_processor
    def _process(error: HTTPError) -> tuple[dict[str, Any], int, dict[str, str]]:
        return render_error(error, realm)

    @app.errorhandler(redis.RedisError)
    def _redis_down(error: redis.RedisError) -> tuple[dict[str, Any], int, dict[str, str]]:
        # Redis holds revocation state and rate-limit counters: without it, fail closed.
        log.warning("redis unavailable: %s", type(error).__name__)
        return render_error(UpstreamUnavailable("A backing store is unavailable; retry shortly."), realm)
