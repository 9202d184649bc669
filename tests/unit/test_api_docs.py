"""Each API service serves Swagger UI at /docs: its own files, its own document, a strict CSP."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

from secure_service.api_docs import ASSETS

from .services import Services


class _Resources(HTMLParser):
    """Every script, stylesheet and icon a page loads, and whether it has inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.inline_script = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self._in_script = True
            if values.get("src"):
                self.loaded.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.loaded.append(values["href"] or "")
        if any(name.startswith("on") for name in values):
            self.inline_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


@pytest.fixture(params=["auth", "users", "orders"])
def api(request: pytest.FixtureRequest, services: Services) -> FlaskClient:
    return getattr(services, request.param).test_client()


def test_the_docs_page_starts_swagger_ui_on_the_services_own_document(api: FlaskClient) -> None:
    page = api.get("/docs")

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    spec_url = re.search(r'data-spec-url="([^"]+)"', page.text)
    assert spec_url and spec_url.group(1) == "/openapi.json"
    assert api.get(spec_url.group(1)).json["openapi"].startswith("3.")


def test_every_file_the_page_loads_is_served_by_the_service_itself(api: FlaskClient) -> None:
    resources = _Resources()
    resources.feed(api.get("/docs").text)

    assert resources.loaded, "the page loads Swagger UI's files"
    assert not resources.inline_script
    for url in resources.loaded:
        assert url.startswith("/docs/"), f"{url} is not this service's own file"
        with api.get(url) as answer:
            assert answer.status_code == 200, url
            assert answer.content_length and answer.content_length > 0, url


def test_the_page_and_its_files_forbid_inline_script_framing_and_other_origins(api: FlaskClient) -> None:
    for url in ["/docs", "/docs/swagger-ui-bundle.js", "/docs/start-swagger-ui.js"]:
        with api.get(url) as answer:
            headers = answer.headers
        policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))

        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'", "no inline script, no other origin"
        assert policy["connect-src"] == "'self'", "Try it out reaches this service only"
        assert policy["frame-ancestors"] == "'none'"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_only_the_listed_files_are_served(api: FlaskClient) -> None:
    for name in ["swagger-ui.js.map", "index.html", "oauth2-redirect.html", "..%2F__init__.py", "LICENSE"]:
        answer = api.get(f"/docs/{name}")
        assert answer.status_code == 404, name
        assert answer.json["error"] == "not_found"
    assert set(ASSETS) >= {"swagger-ui-bundle.js", "swagger-ui.css", "start-swagger-ui.js"}


def test_the_docs_are_not_part_of_the_document_they_show(api: FlaskClient) -> None:
    paths = api.get("/openapi.json").json["paths"]

    assert not [path for path in paths if path.startswith("/docs")]


def test_the_document_names_each_schema_once(api: FlaskClient) -> None:
    schemas = api.get("/openapi.json").json["components"]["schemas"]

    assert not [name for name in schemas if name.rstrip("0123456789") != name and name.rstrip("0123456789") in schemas]


@pytest.mark.parametrize(("service", "path"), [("auth", "/auth/login"), ("users", "/users")])
def test_the_document_says_where_a_console_may_name_its_browser(services: Services, service: str, path: str) -> None:
    document = getattr(services, service).test_client().get("/openapi.json").json
    parameters = document["paths"][path]["post"].get("parameters", [])

    assert [p["name"] for p in parameters if p["in"] == "header"] == ["End-User-Address"]
    assert [p for p in document["paths"]["/healthz"]["get"].get("parameters", []) if p["in"] == "header"] == []
