"""What every service of the stack needs to verify tokens and answer consistently."""

from .audit import audit
from .errors import (
    AuthError,
    Conflict,
    Forbidden,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    NotFound,
    Reason,
    RevocationUnavailable,
    ServiceError,
    TokenExpired,
    TokenRevoked,
    UpstreamUnavailable,
)
from .health import health_blueprint
from .peer_client import PeerClient
from .request_auth import authenticate, current_claims, has_role, require_token
from .revocation import RevocationCheck, redis_client, revocation_check
from .service_app import create_service_app
from .settings import SettingsError, Source, VerifierSettings
from .verifier import Verifier, VerifierState, verifier_state

__all__ = [
    "AuthError",
    "Conflict",
    "Forbidden",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "MissingToken",
    "NotFound",
    "PeerClient",
    "Reason",
    "RevocationCheck",
    "RevocationUnavailable",
    "ServiceError",
    "SettingsError",
    "Source",
    "TokenExpired",
    "TokenRevoked",
    "UpstreamUnavailable",
    "Verifier",
    "VerifierSettings",
    "VerifierState",
    "audit",
    "authenticate",
    "create_service_app",
    "current_claims",
    "has_role",
    "health_blueprint",
    "redis_client",
    "revocation_check",
    "require_token",
    "verifier_state",
]
