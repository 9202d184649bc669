"""auth_service's state: what its routes, CLI and discovery documents use, in one object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app

from .keystore import SigningKeys
from .sessions import Sessions
from .settings import AuthSettings
from .tokens import TokenIssuer
from .users_client import UsersClient

EXTENSION_KEY = "auth_service"


@dataclass(frozen=True)
class AuthService:
    """Built once by create_app and kept in ``app.extensions``."""

    settings: AuthSettings
    #: A KeyStore, or a SharedSecret when HS256 was opted into.
    keys: SigningKeys
    issuer: TokenIssuer
    sessions: Sessions
    users: UsersClient


def auth_state(app: Flask | None = None) -> AuthService:
    """The state of ``app``, by default the current one."""
    return cast(AuthService, (app or current_app).extensions[EXTENSION_KEY])
