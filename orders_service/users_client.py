"""orders_service's client for users_service: relays the caller's own token."""

from __future__ import annotations

from secure_service import Forbidden, PeerClient, UpstreamUnavailable


class UserInactive(Forbidden):
    code = "user_inactive"
    default_message = "Your account does not exist or is disabled."


class UsersClient:
    """Confirms a caller is an existing, active user, using the caller's own token."""

    def __init__(self, base_url: str, timeout_seconds: float):
        self._peer = PeerClient("users_service", base_url, timeout_seconds)

    def require_active_user(self, caller_token: str) -> None:
        """Raise unless users_service knows the token's user (token relay, no extra privilege)."""
        response = self._peer.call("GET", "/users/me", bearer=caller_token)
        if response.status == 200:
            return
        if response.status in (401, 403, 404):
            raise UserInactive()
        raise UpstreamUnavailable(f"users_service answered {response.status}.")
