"""Interactive API docs at /docs: Swagger UI on the service's own OpenAPI document.

Swagger UI's files come from the pinned ``flask-swagger-ui`` package and are served by the
service itself, never from a CDN. Its blueprint is not used, nor APIFlask's own docs page:
both start Swagger UI with an inline script, which a CSP that forbids inline script (the
point of having one) blocks. This page loads the same files, plus one script of ours.

Only the listed files are served. A token pasted into "Authorize" stays in the page's
memory (``persistAuthorization`` is off), and the CSP lets the page talk to its own origin
only, so "Try it out" calls this service and nothing else.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from apiflask import APIFlask
from flask import Response, abort, render_template_string, send_from_directory, url_for

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons as data: SVGs.
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_SWAGGER_UI = Path(str(resources.files("flask_swagger_ui") / "dist"))
_OURS = Path(str(resources.files("secure_service") / "api_docs_assets"))
#: Every file /docs/<name> serves, and where it lives.
ASSETS = {
    "swagger-ui.css": _SWAGGER_UI,
    "swagger-ui-bundle.js": _SWAGGER_UI,
    "favicon-32x32.png": _SWAGGER_UI,
    "start-swagger-ui.js": _OURS,
    "api-docs.css": _OURS,
}
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}: API docs</title>
  <link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
  <link rel="stylesheet" href="{{ asset('api-docs.css') }}">
  <link rel="icon" type="image/png" href="{{ asset('favicon-32x32.png') }}">
</head>
<body>
  <p class="api-docs-banner">To try an endpoint that needs a token, log in with
    <code>POST /auth/login</code> at auth_service (curl, or its own docs page), then paste the
    <code>access_token</code> into <b>Authorize</b>. The page keeps it in memory only.</p>
  <div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
  <script src="{{ asset('swagger-ui-bundle.js') }}"></script>
  <script src="{{ asset('start-swagger-ui.js') }}"></script>
</body>
</html>
"""


def init_api_docs(app: APIFlask) -> None:
    """Serve Swagger UI for ``app``'s /openapi.json at /docs, left out of the document itself."""

    def page() -> Response:
        html = render_template_string(
            PAGE,
            title=app.title,
            spec_url=url_for("openapi.spec"),
            asset=lambda name: url_for("api_docs_asset", name=name),
        )
        return Response(html, mimetype="text/html", headers=HEADERS)

    def asset(name: str) -> Response:
        directory = ASSETS.get(name)
        if directory is None:
            abort(404)
        response = send_from_directory(directory, name, max_age=3600)
        response.headers.update(HEADERS)
        return response

    app.add_url_rule("/docs", "api_docs", app.doc(hide=True)(page), methods=["GET"])
    app.add_url_rule("/docs/<name>", "api_docs_asset", app.doc(hide=True)(asset), methods=["GET"])
