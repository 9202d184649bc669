"""Per-client rate limits (Flask-Limiter, counters in Redis) and the address they key on.

Behind ``TRUSTED_PROXY_HOPS`` reverse proxies, Werkzeug's ProxyFix (service_app.py) has
already replaced the peer address with the client's, so ``request.remote_addr`` is the
client here. IPv6 clients are keyed by their /64: one subscriber usually holds a whole
/64, and keying single addresses would give each of them 2^64 fresh counters.

Limit headers (``X-RateLimit-*``, ``Retry-After``) are sent only on the 429 itself: on
any other answer they would read as "you are blocked" where nothing is.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

import limits
from flask import Flask
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded

from .end_user import end_user_address
from .errors import RateLimited, render_error
from .settings import SettingsError, Source

IPV6_CLIENT_PREFIX = 64


def client_address() -> str:
    """The address a client is counted by: its IPv4 address, or its IPv6 /64.

    The client is the peer, or the end user a trusted caller named (end_user.py).
    """
    raw = end_user_address()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


def rate_limit_setting(source: Source, name: str, default: str) -> str:
    """A limit such as "5 per 15 minutes", checked at start-up rather than at the first request."""
    value = source.string(name, default)
    try:
        limits.parse_many(value)
    except ValueError as e:
        raise SettingsError(f"{name} is not a rate limit like '5 per 15 minutes': {value!r}") from e
    return value


def init_rate_limiter(
    app: Flask, redis_url: str, key_prefix: str, *, on_breach: Callable[[RequestLimit], None] | None = None
) -> Limiter:
    """A moving-window Limiter on ``app`` whose counters live in Redis under ``key_prefix``."""
    limiter = Limiter(
        key_func=client_address,
        app=app,
        storage_uri=redis_url,
        storage_options={"socket_timeout": 1, "socket_connect_timeout": 1},
        strategy="moving-window",
        headers_enabled=False,
        key_prefix=key_prefix,
        on_breach=on_breach,
    )

    # Flask-Limiter also checks every request in a before_request hook, for application-wide
    # and default limits. This stack has none: each limit decorates its one view, whose
    # wrapper checks it. The hook cost about a fifth of a /healthz answer (docs/performance.md).
    app.before_request_funcs[None].remove(limiter._check_request_limit)

    @app.errorhandler(RateLimitExceeded)
    def _too_many(error: RateLimitExceeded) -> tuple[dict[str, Any], int, dict[str, str]]:
        breached = limiter.current_limit
        # Whole seconds, as Flask-Limiter counts them; never 0, never past the window.
        retry_after = max(1, int(breached.reset_at - time.time())) if breached else 60
        return render_error(RateLimited(error.description, retry_after), app.config["SERVICE_NAME"])

    return limiter
