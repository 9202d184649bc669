"""orders_service settings, read from the environment and validated once in create_app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secure_service import SettingsError, Source, VerifierSettings
from secure_service.database import default_sqlite_url
from secure_service.service_app import trusted_proxy_hops
from secure_service.settings import MIN_CLIENT_SECRET_BYTES, check_secret

SERVICE_NAME = "orders_service"
#: Its client at auth_service, which auth_service registers from the same secret.
CLIENT_ID = "orders_service"


@dataclass(frozen=True)
class OrdersSettings:
    verifier: VerifierSettings
    database_url: str
    users_service_url: str
    auth_service_url: str
    client_secret: str
    exchanged_token_cache_entries: int
    peer_timeout_seconds: float
    log_level: str
    proxy_hops: int

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None) -> OrdersSettings:
        source = Source(config)
        verifier = VerifierSettings.load(source, SERVICE_NAME)
        return cls(
            verifier=verifier,
            database_url=source.string("DATABASE_URL", default_sqlite_url(SERVICE_NAME)),
            users_service_url=source.string("USERS_SERVICE_URL", "http://127.0.0.1:8002"),
            # Where it exchanges a caller's token (POST /auth/token) for one users_service takes.
            auth_service_url=source.string("AUTH_SERVICE_URL", "http://127.0.0.1:8001"),
            client_secret=_client_secret(source),
            exchanged_token_cache_entries=source.integer("EXCHANGED_TOKEN_CACHE_ENTRIES", 10000, 0, 1_000_000),
            peer_timeout_seconds=float(source.integer("PEER_TIMEOUT_SECONDS", 3, 1, 30)),
            log_level=verifier.log_level,
            proxy_hops=trusted_proxy_hops(source),
        )


def _client_secret(source: Source) -> str:
    secret = source.optional("ORDERS_SERVICE_CLIENT_SECRET")
    if secret is None:
        raise SettingsError(
            "ORDERS_SERVICE_CLIENT_SECRET is required: orders_service authenticates with it to exchange "
            "a caller's token at auth_service (make env and make dev generate one)"
        )
    check_secret("ORDERS_SERVICE_CLIENT_SECRET", secret, MIN_CLIENT_SECRET_BYTES)
    return secret
