"""Brute-force limits on login (Flask-Limiter, counters in Redis).

Only failed logins (401) count. Two independent limits apply: per username (one account
cannot be guessed at) and per client address (one client cannot spray many accounts).
While either is exceeded every login, even with the right password, gets 429 with
Retry-After; the moving window lets the lock expire by itself once the failures stop.
"""

from __future__ import annotations

from flask import Flask, request
from flask.wrappers import Response
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address

from secure_service import audit, metrics

from .settings import AuthSettings

MESSAGE = "Too many failed logins; retry after the delay in the Retry-After header."


def _username_key() -> str:
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    # The same case-folding as users_service, so "Alice" and "alice" share one counter.
    return "login-username:" + (username.casefold()[:64] if isinstance(username, str) else "")


def _address_key() -> str:
    return "login-address:" + (get_remote_address() or "unknown")


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _breached(limit: RequestLimit) -> None:
    metrics.LOGIN_FAILURES.labels(metrics.service(), "rate_limited").inc()
    audit("login_rate_limited", limit=str(limit.limit), username=_username_key().removeprefix("login-username:"))


def init_login_limits(app: Flask, settings: AuthSettings, endpoint: str) -> Limiter:
    """Wrap ``endpoint`` of ``app`` with the per-username and per-address failure limits."""
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=settings.verifier.redis_url,
        storage_options={"socket_timeout": 1, "socket_connect_timeout": 1},
        strategy="moving-window",
        headers_enabled=True,
        key_prefix="ratelimit",
        on_breach=_breached,
    )
    view = app.view_functions[endpoint]
    view = limiter.limit(
        settings.login_limit_per_username, key_func=_username_key, deduct_when=_failed, error_message=MESSAGE
    )(view)
    view = limiter.limit(
        settings.login_limit_per_address, key_func=_address_key, deduct_when=_failed, error_message=MESSAGE
    )(view)
    app.view_functions[endpoint] = view
    return limiter
