"""The code the tutorial shows for "your own service" is these files, and it works as the page says."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest

from auth_service import create_app as create_auth_app
from tests.support import bearer
from tests.unit.services import DEFAULT_PASSWORD, Actions, Services

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tutorial_shows_each_example_file_as_it_is() -> None:
    blocks = re.findall(
        r"```python\n# (docs/examples/\S+\.py)\n(.*?)```", (ROOT / "docs" / "tutorial.md").read_text(), re.DOTALL
    )

    assert sorted(path for path, _ in blocks) == sorted(f"docs/examples/{p.name}" for p in EXAMPLES.glob("*.py"))
    for path, shown in blocks:
        assert shown == (ROOT / path).read_text(), path


@pytest.fixture
def reports(services: Services) -> Any:
    config = {name: services.config[name] for name in ("JWT_ISSUER", "JWKS_URL", "REDIS_URL")}
    return example("reports_service").create_app(config).test_client()


def login_for_reports(services: Services, username: str, password: str = DEFAULT_PASSWORD) -> str:
    """A token from an auth_service that names reports_service in ACCESS_TOKEN_AUDIENCE."""
    audience = "auth_service users_service orders_service reports_service"
    auth = create_auth_app({**services.config, "ACCESS_TOKEN_AUDIENCE": audience})
    response = auth.test_client().post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def test_your_own_service_takes_a_token_that_names_it(services: Services, actions: Actions, reports: Any) -> None:
    user = actions.sign_up()
    token = login_for_reports(services, user["username"])

    mine = reports.get("/reports/mine", headers=bearer(token))
    assert mine.status_code == 200
    assert mine.json == {"user": user["id"], "is_admin": False}
    assert reports.get("/reports/everyone", headers=bearer(token)).status_code == 403
    admin = login_for_reports(services, "admin", services.admin_password)
    assert reports.get("/reports/everyone", headers=bearer(admin)).status_code == 200


def test_your_own_service_refuses_what_every_service_refuses(actions: Actions, reports: Any) -> None:
    _user, tokens = actions.new_user()  # the stack's default audience: not reports_service

    assert reports.get("/reports/mine").status_code == 401
    wrong_audience = reports.get("/reports/mine", headers=bearer(tokens["access_token"]))
    assert wrong_audience.status_code == 401
    assert "audience" in wrong_audience.json["message"]
    assert reports.get("/reports/mine", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_plain_pyjwt_verifies_the_stacks_access_tokens_and_nothing_else(services: Services, actions: Actions) -> None:
    verify = example("verify_with_pyjwt").token_verifier(
        services.config["JWKS_URL"], services.config["JWT_ISSUER"], "users_service"
    )
    user, tokens = actions.new_user()

    assert verify(tokens["access_token"])["sub"] == user["id"]
    with pytest.raises(jwt.InvalidTokenError, match="not an access token"):
        verify(tokens["refresh_token"])
    elsewhere = example("verify_with_pyjwt").token_verifier(
        services.config["JWKS_URL"], services.config["JWT_ISSUER"], "reports_service"
    )
    with pytest.raises(jwt.InvalidAudienceError):
        elsewhere(tokens["access_token"])
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    edited = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone else"}).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{edited}.{signature}")
