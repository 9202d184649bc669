"""web_service: the browser console, a backend-for-frontend that keeps every token server-side."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from apiflask import APIFlask
from flask import render_template
from werkzeug.exceptions import HTTPException

from secure_service import create_service_app, health_blueprint, redis_client
from secure_service.errors import ServiceError

from . import routes
from .api import StackApi
from .browser_sessions import BrowserSessions
from .page_security import init_page_security
from .settings import SERVICE_NAME, WebSettings
from .state import EXTENSION_KEY, WebState


def create_app(config: Mapping[str, Any] | None = None) -> APIFlask:
    """Build web_service; ``config`` overrides environment variables of the same name."""
    settings = WebSettings.load(config)
    app = create_service_app(
        __name__,
        SERVICE_NAME,
        title="web_service",
        log_level=settings.log_level,
        proxy_hops=settings.proxy_hops,
        # Pages for a person, not an API: the console links to the API services' docs instead.
        api_docs=False,
    )
    store = redis_client(settings.redis_url)
    app.extensions[EXTENSION_KEY] = WebState(
        settings=settings,
        sessions=BrowserSessions(store, lifetime_seconds=settings.session_lifetime_seconds),
        api=StackApi(settings),
    )
    init_page_security(app, settings.public_origin)
    app.register_blueprint(routes.bp)
    app.register_blueprint(health_blueprint({"redis": lambda: _redis_answers(store)}))

    @app.context_processor
    def _api_docs() -> dict[str, Any]:
        # Every page's footer links to each API service's interactive docs.
        return {"api_docs": {name: f"{url}/docs" for name, url in settings.public_api_urls.items()}}

    @app.errorhandler(HTTPException)
    def _page_error(error: HTTPException) -> tuple[str, int]:
        # A page for a person, never the JSON shape the API services answer with.
        message = error.description if error.code in (400, 403, 404, 405, 413) else "Something went wrong."
        return render_template("error.html", session=None, message=message), error.code or 500

    @app.errorhandler(ServiceError)
    def _shared_error(error: ServiceError) -> tuple[str, int, dict[str, str]]:
        # What the shared package refuses before a view runs (a form that is not UTF-8, …).
        page = render_template("error.html", session=None, message=error.message)
        return page, error.status_code, dict(error.headers or {})

    return app


def _redis_answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
