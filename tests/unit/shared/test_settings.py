"""Settings are validated at start-up: unsafe values stop the service with a one-line reason."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from secure_service import SettingsError, Source, VerifierSettings
from secure_service.settings import check_secret
from tests.support import load_script
from users_service.settings import UsersSettings

STRONG = secrets.token_urlsafe(32)


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
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "0123456789abcdef" * 3}, "not random enough"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "qwertyuiopasdfghjklzxcvbnm1234567890"}, "not random enough"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "Zq8ABCDEFGHIJKLMNOPQRSTUVWXYZx7Kp9"}, "not random enough"),
        ({"JWT_ALGORITHMS": "HS256", "JWT_HS256_SECRET": "0123456789abcdef" * 6}, "not random enough"),
        ({"JWT_ALGORITHMS": "RS256 HS256", "JWT_HS256_SECRET": STRONG}, "HS256 only on its own"),
        ({"JWT_ALGORITHMS": "HS256 EdDSA", "JWT_HS256_SECRET": STRONG}, "HS256 only on its own"),
        ({"LOG_LEVEL": "VERBOSE"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
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


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "ERROR", "CRITICAL"])
def test_log_levels_are_read_in_any_case(level: str) -> None:
    assert load(LOG_LEVEL=level).log_level == level.upper()


@pytest.mark.parametrize("length", [32, 48, 64, 200])
def test_long_random_secrets_pass(length: int) -> None:
    # Longer than zxcvbn's 72-character input limit too: the check must not crash on them.
    for _ in range(20):
        check_secret("SECRET", secrets.token_urlsafe(length), 32)


def test_the_secrets_the_scripts_and_tests_generate_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    make_env, devstack = load_script("make_env"), load_script("devstack")
    for attempt in range(50):
        env_file = tmp_path / f"{attempt}.env"
        monkeypatch.setattr("sys.argv", ["make_env.py", str(env_file)])
        assert make_env.main() == 0
        generated = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        dev = devstack.load_dev_secrets(tmp_path / f"dev-{attempt}")
        for admin_password in (generated["ADMIN_PASSWORD"], dev["ADMIN_PASSWORD"]):
            assert UsersSettings.load({"ADMIN_PASSWORD": admin_password}).admin_password == admin_password
        # The client secrets of tests/unit/conftest.py and tests/e2e/conftest.py.
        check_secret("SERVICE_CLIENTS[reporting].secret", secrets.token_urlsafe(32), 32)
