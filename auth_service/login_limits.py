"""Brute-force limits on login (Flask-Limiter, counters in Redis).

Only failed logins (401) count. Two independent limits apply: per username (one account
cannot be guessed at) and per client address (one client cannot spray many accounts).
While either is exceeded every login, even with the right password, gets 429 with
Retry-After; the moving window lets the lock expire by itself once the failures stop.

The client address is the peer's, or, when the login authenticates as a client allowed to
(the console, a backend-for-frontend, with HTTP Basic), the browser's it names in
``End-User-Address`` (secure_service/end_user.py).
"""

from __future__ import annotations

import hashlib

from flask import Flask, request
from flask.wrappers import Response
from flask_limiter import Limiter, RequestLimit

from secure_service import audit
from secure_service.end_user import trust_named_end_user
from secure_service.rate_limits import client_address, init_rate_limiter

from . import metrics
from .client_auth import authenticate_client
from .settings import SERVICE_NAME, AuthSettings

MESSAGE = "Too many failed logins; retry after the delay in the Retry-After header."


def username_digest(username: str) -> str:
    """How a login's username appears in counters and logs: a short hash, never the text.

    People type their password into the username field; the case-folded hash still
    groups "Alice" and "alice" (users_service folds the same way) without keeping it.
    """
    return hashlib.sha256(username.casefold().encode()).hexdigest()[:16]


def _username_key() -> str:
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return "login-username:" + username_digest(username[:64] if isinstance(username, str) else "")


def _address_key() -> str:
    return "login-address:" + client_address()


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _breached(limit: RequestLimit) -> None:
    metrics.LOGIN_FAILURES.labels(SERVICE_NAME, "rate_limited").inc()
    audit("login_rate_limited", limit=str(limit.limit), username_hash=_username_key().removeprefix("login-username:"))


def _named_end_user() -> None:
    """A login sent by a client that may name its end user is counted by that user's address."""
    if not request.headers.get("Authorization", "")[:6].lower() == "basic ":
        return
    client = authenticate_client({})  # a wrong secret is a 401, never a silent fallback
    if client.names_end_users:
        trust_named_end_user()


def init_login_limits(app: Flask, settings: AuthSettings, endpoint: str) -> Limiter:
    """Wrap ``endpoint`` of ``app`` with the per-username and per-address failure limits."""

    @app.before_request
    def _count_by_end_user() -> None:
        if request.endpoint == endpoint:
            _named_end_user()

    limiter = init_rate_limiter(app, settings.verifier.redis_url, "login", on_breach=_breached)
    view = app.view_functions[endpoint]
    view = limiter.limit(
        settings.login_limit_per_username, key_func=_username_key, deduct_when=_failed, error_message=MESSAGE
    )(view)
    view = limiter.limit(
        settings.login_limit_per_address, key_func=_address_key, deduct_when=_failed, error_message=MESSAGE
    )(view)
    app.view_functions[endpoint] = view
    return limiter
