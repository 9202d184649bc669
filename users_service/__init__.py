"""users_service: the user directory of the stack."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask
from flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from secure_service import Verifier, authenticate, create_service_app, health_blueprint, verifier_state
from secure_service.database import database_ready, init_database
from secure_service.end_user import trust_named_end_user
from secure_service.rate_limits import init_rate_limiter
from secure_service.scopes import SIGNUP_SCOPE

from . import internal, routes
from .models import User, db, username_key
from .passwords import HashingSlots, hash_password
from .settings import SERVICE_NAME, UsersSettings

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> APIFlask:
    """Build users_service; ``config`` overrides environment variables of the same name."""
    settings = UsersSettings.load(config)
    app = create_service_app(
        __name__, SERVICE_NAME, title="users_service", log_level=settings.log_level, proxy_hops=settings.proxy_hops
    )
    Verifier(app, settings.verifier)
    init_database(app, db, settings.database_url)
    with app.app_context():
        _ensure_admin(settings.admin_username, settings.admin_password)
        db.engine.dispose()
    app.extensions["users_service.hashing"] = HashingSlots(settings.signup_hash_concurrency)
    app.register_blueprint(routes.bp)
    app.register_blueprint(internal.bp)
    # Sign-up is the one unauthenticated endpoint that costs a hash: limited per address,
    # the browser's when the console (a token with SIGNUP_SCOPE) signs it up and names it.
    app.before_request(_count_sign_ups_by_end_user)
    limiter = init_rate_limiter(app, settings.verifier.redis_url, "signup")
    app.view_functions["users.sign_up"] = limiter.limit(
        settings.signup_limit_per_address, error_message="Too many sign-ups from this address; retry later."
    )(app.view_functions["users.sign_up"])
    checks = {**verifier_state(app).readiness_checks(), "database": lambda: database_ready(db)}
    app.register_blueprint(health_blueprint(checks))
    return app


def _count_sign_ups_by_end_user() -> None:
    if request.endpoint != "users.sign_up" or "Authorization" not in request.headers:
        return
    claims = authenticate()  # a token that fails is a 401, never a silent fallback
    if SIGNUP_SCOPE in claims["scope"].split():
        trust_named_end_user()


def _ensure_admin(username: str, password: str) -> None:
    """Create the admin account on first start; an existing one is left as it is."""
    key = username_key(username)
    if db.session.scalar(select(User.id).where(User.username_key == key)) is not None:
        return
    db.session.add(User(username=username, username_key=key, password_hash=hash_password(password), roles="admin user"))
    try:
        db.session.commit()
        log.info("created admin account %s", username)
    except IntegrityError:
        db.session.rollback()  # another process created it first
