"""orders_service: owns orders; confirms users at users_service with an exchanged token (RFC 8693)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask

from secure_service import Verifier, create_service_app, health_blueprint, verifier_state
from secure_service.database import database_ready, init_database

from . import routes
from .models import db
from .settings import CLIENT_ID, SERVICE_NAME, OrdersSettings
from .users_client import UsersClient


def create_app(config: Mapping[str, Any] | None = None) -> APIFlask:
    """Build orders_service; ``config`` overrides environment variables of the same name."""
    settings = OrdersSettings.load(config)
    app = create_service_app(
        __name__, SERVICE_NAME, title="orders_service", log_level=settings.log_level, proxy_hops=settings.proxy_hops
    )
    Verifier(app, settings.verifier)
    init_database(app, db, settings.database_url)
    app.extensions["orders_service.users"] = UsersClient(
        settings.users_service_url,
        settings.auth_service_url,
        (CLIENT_ID, settings.client_secret),
        settings.peer_timeout_seconds,
        settings.exchanged_token_cache_entries,
    )
    app.register_blueprint(routes.bp)
    checks = {**verifier_state(app).readiness_checks(), "database": lambda: database_ready(db)}
    app.register_blueprint(health_blueprint(checks))
    return app
