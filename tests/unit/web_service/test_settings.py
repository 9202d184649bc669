"""web_service refuses, at start-up, settings it could not work with: an origin its Origin
check could not compare against, a link that is not one, no client secret."""

from __future__ import annotations

import secrets

import pytest

from secure_service import SettingsError
from web_service.settings import WebSettings


def load(values: dict[str, str]) -> WebSettings:
    return WebSettings.load({"WEB_SERVICE_CLIENT_SECRET": secrets.token_urlsafe(32), **values})


@pytest.mark.parametrize(
    "origin", ["localhost:8000", "ftp://console.example", "https://console.example/app", "https://console.example?x=1"]
)
def test_a_public_origin_that_is_not_scheme_host_port_is_refused(origin: str) -> None:
    with pytest.raises(SettingsError, match="PUBLIC_ORIGIN"):
        load({"PUBLIC_ORIGIN": origin})


@pytest.mark.parametrize(("origin", "secure"), [("http://localhost:8000", False), ("https://console.example/", True)])
def test_the_cookie_is_secure_exactly_when_the_console_is_served_over_https(origin: str, secure: bool) -> None:
    settings = load({"PUBLIC_ORIGIN": origin})
    assert settings.secure_cookie is secure
    assert settings.public_origin == origin.rstrip("/")


def test_the_api_docs_links_follow_where_a_browser_reaches_each_service() -> None:
    settings = load({"USERS_SERVICE_PUBLIC_URL": "https://users.example/"})

    assert settings.public_api_urls == {
        "auth_service": "http://localhost:8001",
        "users_service": "https://users.example",
        "orders_service": "http://localhost:8003",
    }
    with pytest.raises(SettingsError, match="ORDERS_SERVICE_PUBLIC_URL"):
        load({"ORDERS_SERVICE_PUBLIC_URL": "orders:8003"})


def test_the_console_does_not_start_without_its_client_secret() -> None:
    with pytest.raises(SettingsError, match="WEB_SERVICE_CLIENT_SECRET"):
        WebSettings.load({})
