"""web_service settings, read from the environment and validated once in create_app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from secure_service import SettingsError, Source
from secure_service.service_app import trusted_proxy_hops
from secure_service.settings import LOG_LEVELS, MIN_CLIENT_SECRET_BYTES

SERVICE_NAME = "web_service"
#: Its client id at auth_service is its name; this variable holds the secret.
CLIENT_SECRET = "WEB_SERVICE_CLIENT_SECRET"


@dataclass(frozen=True)
class WebSettings:
    auth_service_url: str
    users_service_url: str
    orders_service_url: str
    redis_url: str
    #: The console's own client secret at auth_service (client ``web_service``).
    client_secret: str
    #: scheme://host[:port] the browser uses; every state-changing request's Origin must be it.
    public_origin: str
    #: Refresh the access token once it has fewer seconds than this left.
    refresh_margin_seconds: int
    #: How long a logged-in browser session lasts without a new login.
    session_lifetime_seconds: int
    #: Where a browser reaches each API service (its /docs page), by service name.
    public_api_urls: dict[str, str]
    peer_timeout_seconds: float
    log_level: str
    proxy_hops: int

    @property
    def secure_cookie(self) -> bool:
        """The cookie is Secure whenever the console is served over HTTPS."""
        return self.public_origin.startswith("https://")

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None) -> WebSettings:
        source = Source(config)
        return cls(
            auth_service_url=source.string("AUTH_SERVICE_URL", "http://127.0.0.1:8001"),
            users_service_url=source.string("USERS_SERVICE_URL", "http://127.0.0.1:8002"),
            orders_service_url=source.string("ORDERS_SERVICE_URL", "http://127.0.0.1:8003"),
            redis_url=source.redis_url("REDIS_URL", "redis://127.0.0.1:6379/0"),
            public_origin=_origin(source, "PUBLIC_ORIGIN", "http://localhost:8000"),
            refresh_margin_seconds=source.integer("REFRESH_MARGIN_SECONDS", 60, 5, 290),
            session_lifetime_seconds=source.integer("WEB_SESSION_LIFETIME_SECONDS", 8 * 3600, 300, 7 * 86400),
            public_api_urls={
                name: _origin(source, f"{name.upper()}_PUBLIC_URL", f"http://localhost:{port}")
                for name, port in (("auth_service", 8001), ("users_service", 8002), ("orders_service", 8003))
            },
            peer_timeout_seconds=float(source.integer("PEER_TIMEOUT_SECONDS", 3, 1, 30)),
            log_level=source.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
            proxy_hops=trusted_proxy_hops(source),
            # Required (make env and make dev generate it): see api.py for what it is for.
            client_secret=str(source.secret(CLIENT_SECRET, MIN_CLIENT_SECRET_BYTES)),
        )


def _origin(source: Source, name: str, default: str) -> str:
    value = source.string(name, default)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise SettingsError(f"{name} must be scheme://host[:port], got {value!r}")
    return f"{parts.scheme}://{parts.netloc}"
