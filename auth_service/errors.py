"""The errors only auth_service raises; the shared handlers render them like every other."""

from __future__ import annotations

from secure_service import ServiceError


class InvalidCredentials(ServiceError):
    status_code = 401
    code = "invalid_credentials"
    default_message = "Invalid username or password."


# The RFC 6749 §5.2 errors of the token, revocation and introspection endpoints (and RFC
# 8693 §2.2.2's invalid_target); oauth.py adds the error_description member they carry.


class InvalidClient(ServiceError):
    status_code = 401
    code = "invalid_client"
    default_message = "Client authentication failed."

    def __init__(self, message: str | None = None, *, scheme: str | None = None):
        # RFC 6749 §5.2: a client that authenticated with a scheme is told which one failed.
        super().__init__(message, headers={"WWW-Authenticate": f'{scheme} realm="auth_service"'} if scheme else None)


class InvalidScope(ServiceError):
    status_code = 400
    code = "invalid_scope"
    default_message = "The requested scope is not allowed for this client."


class InvalidGrant(ServiceError):
    status_code = 400
    code = "invalid_grant"
    default_message = "The grant is invalid, expired or revoked."


class UnauthorizedClient(ServiceError):
    status_code = 400
    code = "unauthorized_client"
    default_message = "This client may not do this."


class UnsupportedGrantType(ServiceError):
    status_code = 400
    code = "unsupported_grant_type"
    default_message = "This grant type is not supported."


class InvalidTarget(ServiceError):
    status_code = 400
    code = "invalid_target"
    default_message = "The requested audience is not one this client may get a token for."
