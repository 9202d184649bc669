"""The errors only auth_service raises; the shared handlers render them like every other."""

from __future__ import annotations

from secure_service import ServiceError


class InvalidCredentials(ServiceError):
    status_code = 401
    code = "invalid_credentials"
    default_message = "Invalid username or password."


class InvalidClient(ServiceError):
    status_code = 401
    code = "invalid_client"
    default_message = "Client authentication failed."


class InvalidScope(ServiceError):
    status_code = 400
    code = "invalid_scope"
    default_message = "The requested scope is not allowed for this client."
