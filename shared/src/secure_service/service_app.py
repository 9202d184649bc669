"""The common skeleton of every service's application factory."""

from __future__ import annotations

from apiflask import APIFlask

from .errors import init_error_handling
from .logs import configure_logging

#: Request bodies in this stack are small JSON objects; anything larger is refused (413).
MAX_BODY_BYTES = 16 * 1024


def create_service_app(import_name: str, service_name: str, *, title: str, log_level: str = "INFO") -> APIFlask:
    """An APIFlask app with the shared error shape, body limit, JSON logs and OpenAPI."""
    configure_logging(service_name, log_level)
    app = APIFlask(
        import_name,
        title=title,
        version="1.0.0",
        spec_path="/openapi.json",
        # The interactive docs page loads scripts from a CDN; a security reference stack
        # serves only the machine-readable document.
        docs_path=None,
    )
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_DESCRIPTION="Invalid request body or parameters",
        AUTO_404_RESPONSE=False,
    )
    app.security_schemes = {"BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    init_error_handling(app, realm=service_name)
    return app
