"""The console's calls to the stack: one PeerClient per service, the session's token on each.

Every refusal comes back as :class:`ApiRefused` with the service's own message (the shared
error shape's ``message``, never a token: the services never put one there), which the
page shows; an unreachable or failing service raises UpstreamUnavailable (a 503 page).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from secure_service.peer_client import PeerClient, PeerResponse

from .browser_sessions import Tokens
from .settings import WebSettings

#: Refusals whose message a person can act on; anything else is shown generically.
_GENERIC = "The request was refused."


class ApiRefused(Exception):
    """A service answered 4xx: ``status``, its error code and its message for the page."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        #: The HTTP status the service answered.
        self.status = status
        #: The shared error shape's machine-readable code (``invalid_credentials``, …).
        self.error = error
        #: What the page shows.
        self.message = message


def _refusal(response: PeerResponse) -> ApiRefused:
    body = response.body
    message = body.get("message") if isinstance(body.get("message"), str) else _GENERIC
    details = body.get("details")
    if isinstance(details, Mapping):
        # Field errors (sign-up, orders): "password: Length must be between 12 and 128."
        parts = [f"{field}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for field, v in details.items()]
        message = f"{message} {'; '.join(parts)}" if parts else message
    error = body.get("error") if isinstance(body.get("error"), str) else "refused"
    return ApiRefused(response.status, str(error), str(message))


def _ok(response: PeerResponse, *expected: int) -> Mapping[str, Any]:
    if response.status not in expected:
        raise _refusal(response)
    return response.body


class StackApi:
    """auth_service, users_service and orders_service as the console uses them."""

    def __init__(self, settings: WebSettings):
        timeout = settings.peer_timeout_seconds
        self.auth = PeerClient("auth_service", settings.auth_service_url, timeout)
        self.users = PeerClient("users_service", settings.users_service_url, timeout)
        self.orders = PeerClient("orders_service", settings.orders_service_url, timeout)

    # --- auth_service ---------------------------------------------------------------

    def log_in(self, username: str, password: str) -> Tokens:
        now = time.time()
        body = _ok(self.auth.call("POST", "/auth/login", json={"username": username, "password": password}), 200)
        return Tokens.from_response(body, now)

    def refresh(self, refresh_token: str) -> Tokens | None:
        """The next pair, or None if auth_service refused the refresh token (the session is over)."""
        now = time.time()
        response = self.auth.call("POST", "/auth/refresh", bearer=refresh_token)
        if response.status == 401:
            return None
        return Tokens.from_response(_ok(response, 200), now)

    def log_out(self, tokens: Tokens) -> None:
        _ok(
            self.auth.call(
                "POST", "/auth/logout", bearer=tokens.access_token, json={"refresh_token": tokens.refresh_token}
            ),
            204,
            401,
        )

    def log_out_everywhere(self, tokens: Tokens) -> None:
        _ok(self.auth.call("POST", "/auth/logout-all", bearer=tokens.access_token), 204)

    def sessions(self, tokens: Tokens) -> list[Mapping[str, Any]]:
        return list(_ok(self.auth.call("GET", "/auth/sessions", bearer=tokens.access_token), 200).get("sessions", []))

    def end_session(self, tokens: Tokens, sid: str) -> None:
        _ok(self.auth.call("DELETE", f"/auth/sessions/{sid}", bearer=tokens.access_token), 204)

    # --- users_service and orders_service --------------------------------------------

    def sign_up(self, username: str, password: str, email: str | None) -> None:
        body: dict[str, Any] = {"username": username, "password": password}
        if email:
            body["email"] = email
        _ok(self.users.call("POST", "/users", json=body), 201)

    def profile(self, tokens: Tokens) -> Mapping[str, Any]:
        return _ok(self.users.call("GET", "/users/me", bearer=tokens.access_token), 200)

    def orders_of(self, tokens: Tokens) -> list[Mapping[str, Any]]:
        return list(_ok(self.orders.call("GET", "/orders", bearer=tokens.access_token), 200).get("orders", []))

    def place_order(self, tokens: Tokens, item: str, quantity: int) -> None:
        _ok(
            self.orders.call("POST", "/orders", bearer=tokens.access_token, json={"item": item, "quantity": quantity}),
            201,
        )
