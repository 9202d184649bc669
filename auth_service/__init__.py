"""auth_service: the token issuer of the stack."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask

from secure_service import (
    RevocationUnavailable,
    Verifier,
    create_service_app,
    health_blueprint,
    redis_client,
    revocation_check,
)
from secure_service.jwks import SourceVersion
from secure_service.scopes import CREDENTIALS_SCOPE

from . import discovery, oauth, routes
from .cli import keys_command
from .keystore import KeyStore, SharedSecret, SigningKeys
from .login_limits import init_login_limits
from .sessions import ReplicaAcknowledgement, Sessions
from .settings import SERVICE_NAME, AuthSettings
from .state import EXTENSION_KEY, AuthService
from .tokens import TokenIssuer
from .users_client import UsersClient


def create_app(config: Mapping[str, Any] | None = None) -> APIFlask:
    """Build auth_service; ``config`` overrides environment variables of the same name."""
    settings = AuthSettings.load(config)
    app = create_service_app(
        __name__, SERVICE_NAME, title="auth_service", log_level=settings.log_level, proxy_hops=settings.proxy_hops
    )

    # The OAuth endpoints' confidential clients may authenticate with HTTP Basic (oauth.py).
    app.security_schemes["ClientSecretBasic"] = {"type": "http", "scheme": "basic"}

    keys: SigningKeys
    jwks_version: SourceVersion | None = None
    if settings.signing_algorithm == "HS256":
        # Opt-in shared secret: nothing is published, every verifier holds the secret.
        assert settings.verifier.hs256_secret is not None
        keys = SharedSecret(settings.verifier.hs256_secret)
    else:
        keystore = KeyStore(settings.keys_dir, settings.signing_algorithm)
        keystore.load_or_create()
        keys = keystore
        # This service's own verifier reads the key store in-process, and sees each change
        # at once: a key retired with `keys retire` (another process) stops verifying here
        # at the next request, not once the JWKS cache ages out.
        jwks_version = keystore.version
    public_jwks = keys.public_jwks

    # One client: the verifier here reads the revocations that the sessions write.
    redis = redis_client(settings.verifier.redis_url)
    revocation = revocation_check(redis, cache_entries=settings.verifier.revocation_cache_entries)
    verifier = Verifier()
    verifier.init_app(
        app, settings.verifier, jwks_fetcher=public_jwks, jwks_version=jwks_version, revocation=revocation
    )

    acknowledgement = (
        ReplicaAcknowledgement(
            settings.verifier.redis_url,
            replicas=settings.revocation_min_replicas,
            timeout_ms=settings.revocation_replica_timeout_ms,
        )
        if settings.revocation_min_replicas
        else None
    )
    sessions = Sessions(
        redis,
        max_token_lifetime_seconds=settings.refresh_token_ttl,
        refresh_reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
        acknowledgement=acknowledgement,
    )
    try:
        # Until the index is marked complete, verifiers check Redis on every request.
        sessions.mark_index_complete()
    except RevocationUnavailable:
        logging.getLogger(__name__).warning(
            "Redis unavailable at start-up: the revocation index is not marked complete, so"
            " verifiers check Redis on every request until auth_service starts with Redis up"
        )
    issuer = TokenIssuer(settings, sessions, keys)
    app.extensions[EXTENSION_KEY] = AuthService(
        settings=settings,
        keys=keys,
        issuer=issuer,
        sessions=sessions,
        users=UsersClient(
            settings.users_service_url,
            settings.peer_timeout_seconds,
            lambda: issuer.own_service_token(CREDENTIALS_SCOPE),
            issuer.forget_own_service_token,
        ),
    )
    app.cli.add_command(keys_command)
    app.register_blueprint(routes.bp)
    app.register_blueprint(oauth.bp)
    init_login_limits(app, settings, "auth.login")
    app.register_blueprint(discovery.bp)
    # The signing keys are loaded above or the app never starts; readiness is Redis. Not
    # users_service: it needs this service's JWKS to become ready itself.
    app.register_blueprint(health_blueprint({"redis": revocation.ping}))
    return app
