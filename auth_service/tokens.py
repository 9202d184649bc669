"""Minting access, refresh and service tokens, signed with PyJWT.

Not through Flask-JWT-Extended's ``create_access_token``: it adds claims of its own
(``fresh``, ``type``) that RFC 9068 does not define and nothing here reads, and it takes
the signing key from a loader, which the key of one token would have to reach through
``flask.g``. A token is its claims, signed with the active key; the ``typ`` header says
which kind it is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from secure_service.claim_rules import ACCESS_TOKEN_TYP, REFRESH_TOKEN_TYP

from .keystore import SigningKeys
from .sessions import Sessions, Successor
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
    """Signs tokens with the active key."""

    def __init__(self, settings: AuthSettings, sessions: Sessions, keys: SigningKeys):
        self.settings = settings
        self.sessions = sessions
        self._keys = keys
        self._service_token: tuple[str, float] | None = None

    def _sign(self, claims: dict[str, Any], typ: str) -> str:
        """``claims`` signed with the active key, whose ``kid`` the header names."""
        kid, key = self._keys.signing_key()
        return jwt.encode(
            {"iss": self.settings.verifier.issuer, **claims},
            key,
            algorithm=self.settings.signing_algorithm,
            headers={"kid": kid, "typ": typ},
        )

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
        jti: str | None = None,
    ) -> str:
        claims: dict[str, Any] = {
            "sub": sub,
            "aud": audience,
            # From iat, so that exp - iat is the configured lifetime, which verifiers bound.
            "exp": issued_at + self.settings.access_token_ttl,
            "iat": issued_at,
            "nbf": issued_at,
            "jti": jti or str(uuid.uuid4()),
            "scope": scope,
            "roles": roles,
            "client_id": client_id,
        }
        if sid is not None:
            claims["sid"] = sid
        return self._sign(claims, ACCESS_TOKEN_TYP)

    def _refresh_claims(self, sub: str, *, issued_at: int, sid: str, jti: str, expires_at: int) -> dict[str, Any]:
        return {
            "sub": sub,
            "aud": [SERVICE_NAME],
            "exp": expires_at,
            "iat": issued_at,
            "nbf": issued_at,
            "jti": jti,
            "sid": sid,
            "client_id": self.settings.public_client_id,
        }

    def new_session(self, user: User) -> TokenPair:
        """A fresh login: a new session id, an access token and the family's first refresh token."""
        sid = str(uuid.uuid4())
        refresh_jti = str(uuid.uuid4())
        iat = self.sessions.issued_at_for(user.id, time.time())
        claims = self._refresh_claims(
            user.id, issued_at=iat, sid=sid, jti=refresh_jti, expires_at=iat + self.settings.refresh_token_ttl
        )
        self.sessions.start_session(claims, self.settings.refresh_token_ttl)
        return self._pair(user, sid, self._sign(claims, REFRESH_TOKEN_TYP), iat)

    def rotated_pair(self, user: User, *, sid: str, successor: Successor, family_expires_at: int) -> TokenPair:
        """The pair a rotation decided on; the family keeps its absolute expiry (no endless sessions).

        ``successor`` comes from the rotation itself: its ``iat`` was set from the user's
        not-before atomically with it, so nothing can slip in between; and a retry within
        the reuse grace gets the same ids and ``iat``, so the very same claims again.
        """
        claims = self._refresh_claims(
            user.id, issued_at=successor.issued_at, sid=sid, jti=successor.refresh_jti, expires_at=family_expires_at
        )
        refresh = self._sign(claims, REFRESH_TOKEN_TYP)
        return self._pair(user, sid, refresh, successor.issued_at, access_jti=successor.access_jti)

    def _pair(self, user: User, sid: str, refresh: str, iat: int, *, access_jti: str | None = None) -> TokenPair:
        scope = " ".join(USER_SCOPES)
        access = self._access_token(
            user.id,
            issued_at=iat,
            scope=scope,
            roles=list(user.roles),
            audience=list(self.settings.access_audience),
            client_id=self.settings.public_client_id,
            sid=sid,
            jti=access_jti,
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
            issued_at=self.sessions.issued_at_for(sub, time.time()),
            scope=" ".join(sorted(scopes)),
            roles=[],
            audience=audience,
            client_id=client_id,
            sid=None,
        )

    def exchanged_token(
        self, subject: Mapping[str, Any], *, client_id: str, audience: str, scopes: frozenset[str]
    ) -> tuple[str, int]:
        """A token for ``client_id`` to call ``audience`` for the subject token's user (RFC 8693).

        Narrower than the subject token in every way: one audience, ``scopes`` (which the
        caller has checked are the subject's), no roles, and never a longer life; the same
        ``sid``, so it dies with the user's session. ``act`` names the client acting for
        the user (and, nested, whoever acted before it). Returns the token and its lifetime.
        """
        iat = self.sessions.issued_at_for(subject["sub"], time.time())
        expires_at = min(int(subject["exp"]), iat + self.settings.access_token_ttl)
        actor: dict[str, Any] = {"sub": f"client:{client_id}"}
        if "act" in subject:
            actor["act"] = subject["act"]
        claims: dict[str, Any] = {
            "sub": subject["sub"],
            "aud": [audience],
            "exp": expires_at,
            "iat": iat,
            "nbf": iat,
            "jti": str(uuid.uuid4()),
            "scope": " ".join(sorted(scopes)),
            "roles": [],
            "client_id": client_id,
            "sid": subject["sid"],
            "act": actor,
        }
        return self._sign(claims, ACCESS_TOKEN_TYP), expires_at - iat

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
