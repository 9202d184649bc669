"""The common skeleton of every service's application factory."""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask
from flask import request
from werkzeug.middleware.proxy_fix import ProxyFix

from .api_docs import init_api_docs
from .errors import init_error_handling
from .input_guard import init_input_guard
from .logs import configure_logging
from .openapi import init_openapi
from .request_ids import init_request_ids
from .settings import Source

#: Request bodies in this stack are small JSON objects; anything larger is refused (413).
MAX_BODY_BYTES = 16 * 1024


class ServiceApp(APIFlask):
    """APIFlask that logs an unexpected exception as one line, without a stack trace.

    A traceback can carry request data (a password in a local variable's repr, a token in
    a header); the log line names the exception type and where it was raised instead.
    """

    def log_exception(self, exc_info: Any) -> None:
        exc_type, _value, tb = exc_info
        where = "unknown"
        while tb is not None:
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
            tb = tb.tb_next
        self.logger.error(
            "unhandled %s in %s %s at %s",
            getattr(exc_type, "__name__", "exception"),
            request.method,
            request.path,
            where,
        )


def trusted_proxy_hops(source: Source) -> int:
    """TRUSTED_PROXY_HOPS: how many reverse proxies in front of the service set X-Forwarded-For."""
    return source.integer("TRUSTED_PROXY_HOPS", 0, 0, 5)


def create_service_app(
    import_name: str,
    service_name: str,
    *,
    title: str,
    log_level: str = "INFO",
    proxy_hops: int = 0,
    api_docs: bool = True,
) -> ServiceApp:
    """An APIFlask app with the shared error shape, body limit, JSON logs and OpenAPI.

    With ``api_docs`` it also serves Swagger UI on its document at /docs (api_docs.py).

    With ``proxy_hops`` > 0 the client address and scheme are taken from that many
    X-Forwarded-For / X-Forwarded-Proto entries (Werkzeug's ProxyFix), so rate limits and
    audit events see the client, not the proxy. With 0 those headers are ignored: a
    client that reaches the service directly cannot choose its own address.
    """
    configure_logging(service_name, log_level)
    app = ServiceApp(
        import_name,
        title=title,
        version="1.0.0",
        spec_path="/openapi.json",
        # APIFlask's docs page loads Swagger UI from a CDN: api_docs.py serves it instead.
        docs_path=None,
    )
    app.config.update(
        SERVICE_NAME=service_name,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_DESCRIPTION="Invalid request body or parameters",
        AUTO_404_RESPONSE=False,
    )
    if proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops)  # type: ignore[method-assign]
    init_error_handling(app, realm=service_name)
    init_request_ids(app)
    init_input_guard(app)
    init_openapi(app)
    if api_docs:
        init_api_docs(app)
    # Imported here, not at package import: under gunicorn, prometheus-client must load
    # after gunicorn_config has chosen the multiprocess directory.
    from .metrics import init_metrics

    init_metrics(app)
    return app
