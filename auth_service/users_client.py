"""auth_service's client for users_service: the credential check and the user lookup."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn

from secure_service import PeerClient, UpstreamUnavailable
from secure_service.peer_client import PeerResponse

from .tokens import User

log = logging.getLogger(__name__)


class UsersClient:
    """Calls users_service's internal endpoints with auth_service's own service token."""

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        service_token: Callable[[], str],
        forget_service_token: Callable[[], None],
    ):
        self._peer = PeerClient("users_service", base_url, timeout_seconds)
        self._token = service_token
        self._forget_token = forget_service_token

    def check_credentials(self, username: str, password: str) -> User | None:
        """The user these credentials belong to, or None if they are wrong."""
        response = self._call("POST", "/internal/credentials/verify", {"username": username, "password": password})
        if response.status != 200:
            self._unexpected(response.status)
        if not response.body.get("valid"):
            return None
        user = User.from_json(response.body["user"])
        # users_service decides the roles auth_service signs; it may only answer for the
        # user asked about (the case-folded name is the account's key there too).
        if user.username.casefold() != username.casefold():
            self._mismatch("a credential check", user.id)
        return user

    def get_user(self, user_id: str) -> User | None:
        """The current state of a user (roles, active), or None if it no longer exists."""
        response = self._call("GET", f"/internal/users/{user_id}")
        if response.status == 404:
            return None
        if response.status != 200:
            self._unexpected(response.status)
        user = User.from_json(response.body)
        if user.id != user_id:
            self._mismatch("a user lookup", user.id)
        return user

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> PeerResponse:
        response = self._peer.call(method, path, bearer=self._token(), json=body)
        if response.status == 401:
            # The cached service token died (its key was retired, or it was revoked):
            # mint a fresh one and try once more.
            self._forget_token()
            response = self._peer.call(method, path, bearer=self._token(), json=body)
        return response

    def _mismatch(self, what: str, answered_id: str) -> NoReturn:
        # Nothing is signed for such an answer: a broken or compromised users_service.
        log.error("users_service answered %s for another user (%s); refused", what, answered_id)
        raise UpstreamUnavailable("users_service gave an inconsistent answer.")

    def _unexpected(self, status: int) -> None:
        # Still refused with a fresh token: the two services disagree on keys, issuer or scopes.
        log.error("users_service refused auth_service's service token (HTTP %d)", status)
        raise UpstreamUnavailable("users_service refused the credential check.")
