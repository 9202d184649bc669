"""Reading and validating settings from the environment, once, at start-up."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zxcvbn import zxcvbn

from .revocation import check_redis_url

#: Words that give away a value copied from an example; a secret containing one is refused.
PLACEHOLDER_WORDS = (
    "secret",
    "password",
    "changeme",
    "change-me",
    "change_me",
    "example",
    "placeholder",
    "your-",
    "your_",
)

#: Algorithms a verifier may be told to accept. ``none`` and anything else are refused.
SUPPORTED_ALGORITHMS = ("RS256", "ES256", "EdDSA", "HS256")
MIN_HMAC_SECRET_BYTES = 32
#: An OAuth client secret (auth_service checks every client's, a client its own).
MIN_CLIENT_SECRET_BYTES = 32
MIN_LEEWAY_SECONDS = 5
MAX_LEEWAY_SECONDS = 30
#: The longest auth_service may issue an access token for (ACCESS_TOKEN_TTL_SECONDS), and a
#: refresh token (a session, REFRESH_TOKEN_TTL_SECONDS). Verifiers refuse any token whose
#: ``exp - iat`` is longer, whatever key signed it.
MAX_ACCESS_TOKEN_TTL_SECONDS = 900
MAX_REFRESH_TOKEN_TTL_SECONDS = 30 * 86400
#: zxcvbn's input limit: zxcvbn 4.5.0 raises ValueError on a longer text.
ZXCVBN_MAX_LENGTH = 72
#: The levels LOG_LEVEL may name (the standard library's own).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(RuntimeError):
    """A setting is missing or unsafe; the message is one line naming the variable.

    A RuntimeError because gunicorn reports one raised while loading the app (preload_app)
    as a single line, ``Error: <message>``, and exits 1, instead of a traceback.
    """


@dataclass(frozen=True)
class Declared:
    """A setting as the code reads it: its default and, for an integer, its range."""

    name: str
    default: str | None
    minimum: int | None = None
    maximum: int | None = None


#: Every setting any Source was asked for in this process, by name: the one source of truth
#: that .env.example and the docs are checked against (tests/unit/test_settings_docs.py).
DECLARED: dict[str, Declared] = {}


class Source:
    """Typed access to a mapping of raw string settings (the environment plus overrides)."""

    def __init__(self, config: Mapping[str, Any] | None = None):
        self._values: dict[str, Any] = {**os.environ, **(config or {})}

    def string(self, name: str, default: str | None = None) -> str:
        DECLARED.setdefault(name, Declared(name, default))
        value = self._values.get(name)
        if value is None or str(value).strip() == "":
            if default is None:
                raise SettingsError(f"{name} is required but not set")
            return default
        return str(value).strip()

    def optional(self, name: str) -> str | None:
        DECLARED.setdefault(name, Declared(name, None))
        value = self._values.get(name)
        if value is None or str(value).strip() == "":
            return None
        return str(value).strip()

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        DECLARED[name] = Declared(name, str(default), minimum, maximum)
        raw = self._values.get(name)
        if raw is None or str(raw).strip() == "":
            raw = default  # unset and empty alike: compose passes ${NAME:-} through empty
        try:
            value = int(raw)
        except (TypeError, ValueError) as e:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from e
        if not minimum <= value <= maximum:
            raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}")
        return value

    def redis_url(self, name: str, default: str) -> str:
        """A Redis URL: redis://, rediss://, unix:// or redis+sentinel://…/<primary>."""
        value = self.string(name, default)
        try:
            check_redis_url(value)
        except ValueError as e:
            raise SettingsError(f"{name} is not a Redis URL this stack can use: {e}") from e
        return value

    def words(self, name: str, default: str) -> tuple[str, ...]:
        return tuple(self.string(name, default).replace(",", " ").split())

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """One of ``choices``, named in any case; anything else is refused here, not later."""
        value = self.string(name, default).upper()
        if value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def secret(self, name: str, min_length: int, *, min_bits: int = 128, required: bool = True) -> str | None:
        """A secret with no default: refused when missing, short or a known placeholder."""
        value = self.optional(name)
        if value is None:
            if required:
                raise SettingsError(f"{name} is required and has no default; set it in the environment")
            return None
        check_secret(name, value, min_length, min_bits)
        return value


def check_secret(name: str, value: str, min_length: int, min_bits: int = 128) -> None:
    """Refuse a secret that is short, copied from an example, or guessable in fewer than 2**min_bits tries."""
    if len(value.encode()) < min_length:
        raise SettingsError(f"{name} must be at least {min_length} bytes long")
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        raise SettingsError(f"{name} is a placeholder value; generate a real secret")
    # zxcvbn counts the guesses a cracker needs, seeing the sequences, repeats, keyboard
    # walks and dictionary words that a count of distinct characters misses
    # ("0123456789abcdef" repeated has 16 of them). A longer secret is judged by its first
    # ZXCVBN_MAX_LENGTH characters: whoever guesses it must guess those too, so a secret is
    # at least as strong as its prefix.
    if zxcvbn(value[:ZXCVBN_MAX_LENGTH])["guesses_log10"] < min_bits * math.log10(2):
        raise SettingsError(
            f"{name} is not random enough; generate one (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


@dataclass(frozen=True)
class VerifierSettings:
    """What every service needs to verify access tokens issued by auth_service."""

    service_name: str
    issuer: str
    jwks_url: str
    redis_url: str
    algorithms: tuple[str, ...]
    leeway_seconds: int
    jwks_cooldown_seconds: int
    jwks_max_age_seconds: int
    jwks_timeout_seconds: float
    hs256_secret: str | None
    #: The most revocation keys a worker holds as its deny-list (revocation_cache.py); with
    #: more in Redis, or 0, it checks Redis on every request.
    revocation_cache_entries: int
    #: Fully verified tokens remembered per worker (verified_tokens.py); 0 verifies every time.
    verified_token_cache_entries: int
    #: Read here because every service loads these settings: each refuses a bad LOG_LEVEL
    #: with the same one-line error, before logging is configured with it.
    log_level: str

    @classmethod
    def load(cls, source: Source, service_name: str) -> VerifierSettings:
        """Parse and validate the verifier settings for ``service_name``."""
        algorithms = source.words("JWT_ALGORITHMS", "RS256")
        unknown = [a for a in algorithms if a not in SUPPORTED_ALGORITHMS]
        if unknown:
            raise SettingsError(
                f"JWT_ALGORITHMS has unsupported algorithm(s) {', '.join(unknown)}; "
                f"choose from {', '.join(SUPPORTED_ALGORITHMS)}"
            )
        if "HS256" in algorithms and len(algorithms) > 1:
            # Beside an asymmetric algorithm, HS256 would hand every verifier a key it can
            # mint tokens with, and gain nothing: the issuer signs with one algorithm.
            raise SettingsError(
                f"JWT_ALGORITHMS is {' '.join(algorithms)}: HS256 only on its own (every verifier "
                "holding the shared secret can mint tokens); use asymmetric algorithms, or HS256 alone"
            )
        hs256_secret = source.secret("JWT_HS256_SECRET", MIN_HMAC_SECRET_BYTES, required=False)
        if "HS256" in algorithms and hs256_secret is None:
            raise SettingsError(
                "JWT_ALGORITHMS includes HS256 but JWT_HS256_SECRET is not set "
                f"(it must be at least {MIN_HMAC_SECRET_BYTES} random bytes)"
            )
        return cls(
            service_name=service_name,
            issuer=source.string("JWT_ISSUER", "http://localhost:8001"),
            jwks_url=source.string("JWKS_URL", "http://127.0.0.1:8001/.well-known/jwks.json"),
            redis_url=source.redis_url("REDIS_URL", "redis://127.0.0.1:6379/0"),
            algorithms=algorithms,
            # At least a few seconds: tokens minted right after a logout-all carry an iat up to
            # one second ahead (see auth_service/sessions.py, Sessions.revoke_user), and hosts' clocks drift.
            leeway_seconds=source.integer("JWT_LEEWAY_SECONDS", 30, MIN_LEEWAY_SECONDS, MAX_LEEWAY_SECONDS),
            jwks_cooldown_seconds=source.integer("JWKS_REFETCH_COOLDOWN_SECONDS", 10, 1, 3600),
            jwks_max_age_seconds=source.integer("JWKS_MAX_AGE_SECONDS", 300, 10, 86400),
            jwks_timeout_seconds=float(source.integer("JWKS_TIMEOUT_SECONDS", 3, 1, 30)),
            hs256_secret=hs256_secret if "HS256" in algorithms else None,
            revocation_cache_entries=source.integer("REVOCATION_CACHE_ENTRIES", 50_000, 0, 1_000_000),
            verified_token_cache_entries=source.integer("VERIFIED_TOKEN_CACHE_ENTRIES", 5_000, 0, 1_000_000),
            log_level=source.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
        )
