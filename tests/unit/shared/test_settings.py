"""Settings are validated at start-up: unsafe values stop the service with a one-line reason."""

from __future__ import annotations

import secrets

import pytest

from secure_service import SettingsError, Source, VerifierSettings


def load(**values: str) -> VerifierSettings:
    return VerifierSettings.load(Source(values), "users_service")


def test_defaults_are_rs256_only_with_at_most_30s_leeway() -> None:
    settings = load()
    assert settings.algorithms == ("RS256",)
    assert settings.leeway_seconds <= 30


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"JWT_ALGORITHMS": "none"}, "unsupported"),
        ({"JWT_ALGORITHMS": "RS256 PS512"}, "unsupported"),
        ({"JWT_ALGORITHMS": "HS256"}, "JWT_HS256_SECRET is not set"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "short-secret"}, "at least 32 bytes"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "your-secret-key-goes-here-0123456789"}, "placeholder"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "supersecretkeysupersecretkey12345"}, "placeholder"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "abcdefgh" * 4}, "not random enough"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "a" * 40}, "not random enough"),
        ({"JWT_LEEWAY_SECONDS": "300"}, "between 5 and 30"),
        ({"JWT_LEEWAY_SECONDS": "0"}, "between 5 and 30"),
        ({"JWT_LEEWAY_SECONDS": "soon"}, "must be an integer"),
    ],
)
def test_unsafe_settings_are_refused(values: dict[str, str], reason: str) -> None:
    with pytest.raises(SettingsError, match=reason) as error:
        load(**values)
    assert "\n" not in str(error.value)


def test_hs256_is_an_explicit_opt_in_with_a_strong_secret() -> None:
    secret = secrets.token_urlsafe(32)
    settings = load(JWT_ALGORITHMS="HS256", JWT_HS256_SECRET=secret)
    assert settings.hs256_secret == secret
