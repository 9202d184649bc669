"""Minting access, refresh and service tokens (through Flask-JWT-Extended)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import g
from flask_jwt_extended import create_access_token, create_refresh_token

from secure_service import RevocationStore
from secure_service.revocation import issued_at
from secure_service.verify import ACCESS_TOKEN_TYP, REFRESH_TOKEN_TYP

from .settings import AUDIENCE_BY_SCOPE_PREFIX, SERVICE_NAME, USER_SCOPES, AuthSettings

#: A cached service token is replaced this long before it expires.
SERVICE_TOKEN_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class User:
    """What auth_service knows of a user, from users_service."""

    id: str
    username: str
    roles: tuple[str, ...]
    active: bool

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> User:
        return cls(
            id=str(body["id"]),
            username=str(body["username"]),
            roles=tuple(str(r) for r in body.get("roles", [])),
            active=bool(body.get("active", True)),
        )


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    scope: str

    def as_response(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


class TokenIssuer:
    """Signs tokens with the active key; call inside an app context."""

    def __init__(self, settings: AuthSettings, revocation: RevocationStore, signing_key: Callable[[], tuple[str, Any]]):
        self.settings = settings
        self.revocation = revocation
        self._signing_key = signing_key
        self._service_token: tuple[str, float] | None = None

    def _key_headers(self, typ: str) -> dict[str, str]:
        """Pick the signing key for one token; Flask-JWT-Extended's key loader reads it back."""
        kid, key = self._signing_key()
        g.signing_key = key
        return {"kid": kid, "typ": typ}

    def _access_token(
        self,
        sub: str,
        *,
        issued_at: int,
        scope: str,
        roles: list[str],
        audience: list[str],
        client_id: str,
        sid: str | None,
    ) -> str:
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "iat": issued_at,
            "nbf": issued_at,
            "aud": audience,
            "scope": scope,
            "roles": roles,
            "client_id": client_id,
        }
        if sid is not None:
            claims["sid"] = sid
        return create_access_token(
            identity=sub,
            additional_claims=claims,
            additional_headers=self._key_headers(ACCESS_TOKEN_TYP),
            expires_delta=timedelta(seconds=self.settings.access_token_ttl),
        )

    def _refresh_token(self, sub: str, *, issued_at: int, sid: str, jti: str, lifetime_seconds: int) -> str:
        return create_refresh_token(
            identity=sub,
            additional_claims={
                "jti": jti,
                "iat": issued_at,
                "nbf": issued_at,
                "aud": [SERVICE_NAME],
                "sid": sid,
                "client_id": self.settings.public_client_id,
            },
            additional_headers=self._key_headers(REFRESH_TOKEN_TYP),
            expires_delta=timedelta(seconds=lifetime_seconds),
        )

    def new_session(self, user: User) -> TokenPair:
        """A fresh login: a new session id, an access token and the family's first refresh token."""
        sid = str(uuid.uuid4())
        refresh_jti = str(uuid.uuid4())
        iat = self.revocation.issued_at_for(user.id, time.time())
        refresh = self._refresh_token(
            user.id, issued_at=iat, sid=sid, jti=refresh_jti, lifetime_seconds=self.settings.refresh_token_ttl
        )
        self.revocation.start_family(sid, refresh_jti, self.settings.refresh_token_ttl)
        return self._pair(user, sid, refresh, iat)

    def rotated_pair(
        self, user: User, *, sid: str, new_refresh_jti: str, family_expires_at: int, not_before: int | None
    ) -> TokenPair:
        """The pair after a rotation; the family keeps its absolute expiry (no endless sessions).

        ``not_before`` is the user's not-before as read atomically with the rotation, so
        nothing can slip in between the rotation and the new tokens.
        """
        now = time.time()
        iat = issued_at(now, not_before)
        lifetime = max(1, family_expires_at - int(now))
        refresh = self._refresh_token(user.id, issued_at=iat, sid=sid, jti=new_refresh_jti, lifetime_seconds=lifetime)
        return self._pair(user, sid, refresh, iat)

    def _pair(self, user: User, sid: str, refresh: str, iat: int) -> TokenPair:
        scope = " ".join(USER_SCOPES)
        access = self._access_token(
            user.id,
            issued_at=iat,
            scope=scope,
            roles=list(user.roles),
            audience=list(self.settings.access_audience),
            client_id=self.settings.public_client_id,
            sid=sid,
        )
        return TokenPair(access, refresh, self.settings.access_token_ttl, scope)

    def service_token(self, client_id: str, scopes: frozenset[str]) -> str:
        """A client-credentials token: sub names the client, aud the services its scopes name."""
        audience = sorted({AUDIENCE_BY_SCOPE_PREFIX[s.split(":")[0]] for s in scopes})
        # "client:" keeps clients out of the user-id namespace (RFC 9068 §2.2 lets sub name
        # the client); no user id can collide with it and /auth/revoke cannot target it.
        sub = f"client:{client_id}"
        return self._access_token(
            sub,
            issued_at=self.revocation.issued_at_for(sub, time.time()),
            scope=" ".join(sorted(scopes)),
            roles=[],
            audience=audience,
            client_id=client_id,
            sid=None,
        )

    def own_service_token(self, scope: str) -> str:
        """auth_service's own token for calling users_service, reused until shortly before expiry."""
        cached = self._service_token
        if cached is not None and cached[1] - SERVICE_TOKEN_MARGIN_SECONDS > time.time():
            return cached[0]
        token = self.service_token(SERVICE_NAME, frozenset({scope}))
        self._service_token = (token, time.time() + self.settings.access_token_ttl)
        return token

    def forget_own_service_token(self) -> None:
        """Drop the cached token (users_service refused it), so the next call mints a new one."""
        self._service_token = None
