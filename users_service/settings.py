"""users_service settings, read from the environment and validated once in create_app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secure_service import Source, VerifierSettings
from secure_service.database import default_sqlite_url
from secure_service.rate_limits import rate_limit_setting
from secure_service.service_app import trusted_proxy_hops

SERVICE_NAME = "users_service"
MIN_ADMIN_PASSWORD_LENGTH = 12
#: A person signs up once; a household or an office behind one address a few times.
DEFAULT_SIGNUP_LIMIT = "10 per hour"


@dataclass(frozen=True)
class UsersSettings:
    verifier: VerifierSettings
    database_url: str
    admin_username: str
    admin_password: str
    signup_limit_per_address: str
    signup_hash_concurrency: int
    log_level: str
    proxy_hops: int

    @classmethod
    def load(cls, config: Mapping[str, Any] | None = None) -> UsersSettings:
        source = Source(config)
        admin_password = source.secret("ADMIN_PASSWORD", MIN_ADMIN_PASSWORD_LENGTH, min_bits=48)
        assert admin_password is not None
        verifier = VerifierSettings.load(source, SERVICE_NAME)
        return cls(
            verifier=verifier,
            database_url=source.string("DATABASE_URL", default_sqlite_url(SERVICE_NAME)),
            admin_username=source.string("ADMIN_USERNAME", "admin"),
            admin_password=admin_password,
            signup_limit_per_address=rate_limit_setting(source, "SIGNUP_LIMIT_PER_ADDRESS", DEFAULT_SIGNUP_LIMIT),
            # Sign-ups hashing at once, across all workers; the others get 503 at once, so
            # a burst leaves workers free for the credential check behind every login.
            signup_hash_concurrency=source.integer("SIGNUP_HASH_CONCURRENCY", 1, 1, 64),
            log_level=verifier.log_level,
            proxy_hops=trusted_proxy_hops(source),
        )
