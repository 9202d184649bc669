"""A service built like users_service, minus its database: two endpoints that differ only in authentication.

users_service's ``/users/me`` also reads the database, so ``/healthz`` against it mixes
the cost of a query into the cost of a token. This app is made by the same factory, with
the same middleware, verifier and gunicorn settings, and its two endpoints return the
same small JSON object; ``/authenticated`` needs a valid access token with
``users:read`` first. Only ``make bench`` runs it.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask

from secure_service import (
    Source,
    Verifier,
    VerifierSettings,
    create_service_app,
    health_blueprint,
    require_token,
    verifier_state,
)

# Access tokens are issued for users_service; verifying them here needs its audience.
AUDIENCE = "users_service"


def create_app() -> APIFlask:
    app = create_service_app(__name__, AUDIENCE, title="auth cost")
    Verifier(app, VerifierSettings.load(Source(), AUDIENCE))
    app.register_blueprint(health_blueprint(verifier_state(app).readiness_checks()))

    @app.get("/plain")
    def plain() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/authenticated")
    @require_token(scopes=["users:read"])
    def authenticated() -> dict[str, Any]:
        return {"status": "ok"}

    return app
