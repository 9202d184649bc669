"""make dev's secrets: generated once into DATA_DIR/dev.env (mode 0600), one Redis user per service."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit

from tests.support import load_script

devstack = load_script("devstack")


def test_every_dev_secret_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    generated = devstack.load_dev_secrets(tmp_path, environ={})
    assert set(generated) == {
        "ADMIN_PASSWORD",
        "ORDERS_SERVICE_CLIENT_SECRET",
        "WEB_SERVICE_CLIENT_SECRET",
        "DEV_CLIENT_SECRET",
        *devstack.REDIS_PASSWORDS,
    }
    assert len(set(generated.values())) == len(generated)
    assert stat.S_IMODE((tmp_path / "dev.env").stat().st_mode) == 0o600
    assert devstack.load_dev_secrets(tmp_path, environ={}) == generated


def test_a_secret_from_the_environment_wins_and_is_not_written(tmp_path: Path) -> None:
    chosen = {"REDIS_ORDERS_SERVICE_PASSWORD": "chosen-by-the-developer"}
    loaded = devstack.load_dev_secrets(tmp_path, environ=chosen)
    assert loaded["REDIS_ORDERS_SERVICE_PASSWORD"] == "chosen-by-the-developer"
    assert "chosen-by-the-developer" not in (tmp_path / "dev.env").read_text()


def test_with_a_redis_of_your_own_only_the_admin_password_is_generated(tmp_path: Path) -> None:
    assert set(devstack.load_dev_secrets(tmp_path, ("ADMIN_PASSWORD",), environ={})) == {"ADMIN_PASSWORD"}
    assert (tmp_path / "dev.env").read_text().startswith("ADMIN_PASSWORD=")
    assert "REDIS" not in (tmp_path / "dev.env").read_text()


def test_each_service_gets_its_own_redis_user_and_password(tmp_path: Path) -> None:
    dev_secrets = devstack.load_dev_secrets(tmp_path, environ={})
    urls = devstack.redis_urls(6390, dev_secrets)
    assert set(urls) == set(devstack.SERVICES)
    for service, url in urls.items():
        parts = urlsplit(url)
        assert (parts.username, parts.hostname, parts.port) == (service, "127.0.0.1", 6390)
        assert parts.password == dev_secrets[devstack.REDIS_SERVICE_PASSWORDS[service]]


def test_a_generated_client_secret_passes_the_services_own_check(tmp_path: Path) -> None:
    from secure_service.settings import MIN_CLIENT_SECRET_BYTES, check_secret

    generated = devstack.load_dev_secrets(tmp_path, environ={})
    for name in devstack.CLIENT_SECRETS:
        check_secret(name, generated[name], MIN_CLIENT_SECRET_BYTES)  # raises SettingsError if too weak
