"""What every service of the stack needs to verify tokens and answer consistently."""

from .audit import audit
from .errors import (
    AuthError,
    Conflict,
    Forbidden,
    InsufficientScope,
    InvalidCredentials,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    NotFound,
    RevocationUnavailable,
    ServiceError,
    TokenExpired,
    TokenRevoked,
    UpstreamUnavailable,
)
from .health import health_blueprint
from .peer_client import PeerClient
from .revocation import RevocationStore, Rotation, redis_client, revocation_store
from .service_app import create_service_app
from .settings import SettingsError, Source, VerifierSettings
from .verify import Verifier, authenticate, current_claims, has_role, require_token, verifier_state

__all__ = [
    "AuthError",
    "Conflict",
    "Forbidden",
    "InsufficientScope",
    "InvalidCredentials",
    "InvalidRequest",
    "InvalidToken",
    "MissingToken",
    "NotFound",
    "PeerClient",
    "RevocationStore",
    "RevocationUnavailable",
    "Rotation",
    "ServiceError",
    "SettingsError",
    "Source",
    "TokenExpired",
    "TokenRevoked",
    "UpstreamUnavailable",
    "Verifier",
    "VerifierSettings",
    "audit",
    "authenticate",
    "create_service_app",
    "current_claims",
    "has_role",
    "health_blueprint",
    "redis_client",
    "revocation_store",
    "require_token",
    "verifier_state",
]
