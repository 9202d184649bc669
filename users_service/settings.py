"""users_service settings, read from the environment and validated once in create_app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secure_service import Source, VerifierSettings
from secure_service.database import default_sqlite_url

SERVICE_NAME = "users_service"
MIN_ADMIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class UsersSettings:
    verifier: VerifierSettings
    database_url: str
    admin_username: str
    admin_password: str
    log_level: str

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None) -> UsersSettings:
        source = Source(config)
        admin_password = source.secret("ADMIN_PASSWORD", MIN_ADMIN_PASSWORD_LENGTH, min_bits=48)
        assert admin_password is not None
        return cls(
            verifier=VerifierSettings.load(source, SERVICE_NAME),
            database_url=source.string("DATABASE_URL", default_sqlite_url(SERVICE_NAME)),
            admin_username=source.string("ADMIN_USERNAME", "admin"),
            admin_password=admin_password,
            log_level=source.string("LOG_LEVEL", "INFO").upper(),
        )
