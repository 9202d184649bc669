"""orders_service settings, read from the environment and validated once in create_app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secure_service import Source, VerifierSettings
from secure_service.database import default_sqlite_url
from secure_service.service_app import trusted_proxy_hops

SERVICE_NAME = "orders_service"


@dataclass(frozen=True)
class OrdersSettings:
    verifier: VerifierSettings
    database_url: str
    users_service_url: str
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
            peer_timeout_seconds=float(source.integer("PEER_TIMEOUT_SECONDS", 3, 1, 30)),
            log_level=verifier.log_level,
            proxy_hops=trusted_proxy_hops(source),
        )
