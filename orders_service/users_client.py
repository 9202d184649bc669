"""orders_service's calls to users_service, with a token exchanged for the caller's (RFC 8693).

orders_service never sends the caller's own token to another service: that token is good
at every service, so users_service (or anything between) would then hold a token it could
replay anywhere. It exchanges it at auth_service for one that only users_service accepts,
with only ``users:read``,
naming orders_service as the actor (``act``), living no longer than the caller's token
and dying with the caller's session (the same ``sid``).

An exchanged token is kept per caller token (by its ``jti``) until shortly before it
expires, so a client placing many orders with one token costs one exchange, not one per
order. It is never kept past the caller's token, and a revoked session makes
users_service refuse it at once, cached or not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from secure_service import Forbidden, PeerClient, UpstreamUnavailable
from secure_service.token_exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT

log = logging.getLogger(__name__)

#: What orders_service asks for: users_service, to read the caller's own profile.
EXCHANGE_AUDIENCE, EXCHANGE_SCOPE = "users_service", "users:read"
#: An exchanged token is exchanged again this long before it expires (a call in flight
#: must not reach users_service with a token that has just expired).
REUSE_MARGIN_SECONDS = 5


class UserInactive(Forbidden):
    code = "user_inactive"
    default_message = "Your account does not exist or is disabled."


class ExchangedTokens:
    """Exchanged tokens by the ``jti`` of the caller's token; bounded, least recently used dropped first."""

    def __init__(self, max_entries: int):
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threaded workers and the unit tests' servers

    def get(self, subject_jti: str, now: float) -> str | None:
        with self._lock:
            entry = self._entries.get(subject_jti)
            if entry is None or entry[1] - REUSE_MARGIN_SECONDS <= now:
                return None
            self._entries.move_to_end(subject_jti)
            return entry[0]

    def put(self, subject_jti: str, token: str, expires_at: float) -> None:
        with self._lock:
            self._entries[subject_jti] = (token, expires_at)
            self._entries.move_to_end(subject_jti)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def forget(self, subject_jti: str) -> None:
        with self._lock:
            self._entries.pop(subject_jti, None)


class UsersClient:
    """Confirms a caller is an existing, active user, with a token exchanged for the caller's."""

    def __init__(
        self,
        users_url: str,
        auth_url: str,
        client: tuple[str, str],
        timeout_seconds: float,
        cache_entries: int,
    ):
        self._users = PeerClient("users_service", users_url, timeout_seconds)
        self._auth = PeerClient("auth_service", auth_url, timeout_seconds)
        self._client = client
        self._exchanged = ExchangedTokens(cache_entries)

    def require_active_user(self, caller_token: str, caller_claims: Mapping[str, Any]) -> None:
        """Raise unless users_service knows the caller's user, asked with an exchanged token."""
        jti = str(caller_claims["jti"])
        token = self._exchanged_token(caller_token, jti)
        response = self._users.call("GET", "/users/me", bearer=token)
        if response.status == 200:
            return
        if response.status in (401, 403, 404):
            self._exchanged.forget(jti)
            raise UserInactive()
        raise UpstreamUnavailable(f"users_service answered {response.status}.")

    def _exchanged_token(self, caller_token: str, jti: str) -> str:
        now = time.time()
        cached = self._exchanged.get(jti, now)
        if cached is not None:
            return cached
        response = self._auth.call(
            "POST",
            "/auth/token",
            basic=self._client,  # client_secret_basic
            form={
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": caller_token,
                "subject_token_type": ACCESS_TOKEN_TYPE,
                "audience": EXCHANGE_AUDIENCE,
                "scope": EXCHANGE_SCOPE,
            },
        )
        if response.status == 200 and isinstance(response.body.get("access_token"), str):
            token = str(response.body["access_token"])
            self._exchanged.put(jti, token, now + float(response.body.get("expires_in", 0)))
            return token
        if response.body.get("error") == "invalid_grant":
            raise UserInactive()  # the caller's token was revoked a moment ago
        # invalid_client or unauthorized_client: this service's client is misconfigured.
        log.error("token exchange refused: %s %s", response.status, response.body.get("error"))
        raise UpstreamUnavailable("auth_service refused the token exchange.")
