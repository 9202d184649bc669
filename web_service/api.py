"""The console's calls to the stack: one PeerClient per service, the session's token on each.

Logins and sign-ups name the browser's address (``End-User-Address``), so the services'
per-address limits count each browser, not the console's one address for all of them
(secure_service/end_user.py). They trust it only from the console: at login it
authenticates as client ``web_service``; at sign-up it sends its own service token
(client credentials, scope ``users:signup``).

Every refusal comes back as :class:`ApiRefused` with the service's own message (the shared
error shape's ``message``, never a token: the services never put one there), which the
page shows; an unreachable or failing service raises UpstreamUnavailable (a 503 page).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from secure_service.end_user import HEADER as END_USER_HEADER
from secure_service.errors import UpstreamUnavailable
from secure_service.peer_client import PeerClient, PeerResponse
from secure_service.scopes import SIGNUP_SCOPE

from .browser_sessions import Tokens
from .settings import SERVICE_NAME, WebSettings

log = logging.getLogger(__name__)

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
    if response.status == 429:
        # The service's text points at Retry-After, a header a person never sees.
        message = "Too many attempts from your address; wait a few minutes and try again."
    error = body.get("error") if isinstance(body.get("error"), str) else "refused"
    return ApiRefused(response.status, str(error), str(message))


def _ok(response: PeerResponse, *expected: int) -> Mapping[str, Any]:
    if response.status not in expected:
        if response.body.get("error") == "invalid_client":
            # The console's own credentials, not the person's: a 503 for them, the cause for us.
            log.error("auth_service refused the console's client credentials: check WEB_SERVICE_CLIENT_SECRET")
            raise UpstreamUnavailable("The console cannot sign anyone in right now; retry shortly.")
        raise _refusal(response)
    return response.body


class ServiceToken:
    """The console's own access token (client credentials), reused until shortly before it expires.

    Written here rather than with an OAuth client library: one grant, one form post through
    PeerClient, which already maps failures to 503 and carries the request id.
    """

    #: Fetch a new one once fewer seconds than this are left.
    MARGIN_SECONDS = 30

    def __init__(self, auth: PeerClient, credentials: tuple[str, str], scope: str):
        self._auth, self._credentials, self._scope = auth, credentials, scope
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._expires_at - time.time() < self.MARGIN_SECONDS:
                now = time.time()
                form = {"grant_type": "client_credentials", "scope": self._scope}
                body = _ok(self._auth.call("POST", "/auth/token", form=form, basic=self._credentials), 200)
                self._token, self._expires_at = str(body["access_token"]), now + float(body["expires_in"])
            return self._token

    def forget(self) -> None:
        """Drop the token (refused, say after a revocation): the next get fetches another."""
        with self._lock:
            self._token = None


class StackApi:
    """auth_service, users_service and orders_service as the console uses them."""

    def __init__(self, settings: WebSettings):
        timeout = settings.peer_timeout_seconds
        self.auth = PeerClient("auth_service", settings.auth_service_url, timeout)
        self.users = PeerClient("users_service", settings.users_service_url, timeout)
        self.orders = PeerClient("orders_service", settings.orders_service_url, timeout)
        self._credentials = (SERVICE_NAME, settings.client_secret)
        self._signup_token = ServiceToken(self.auth, self._credentials, SIGNUP_SCOPE)

    # --- auth_service ---------------------------------------------------------------

    def log_in(self, username: str, password: str, browser_address: str) -> Tokens:
        now = time.time()
        response = self.auth.call(
            "POST",
            "/auth/login",
            json={"username": username, "password": password},
            basic=self._credentials,
            headers={END_USER_HEADER: browser_address},
        )
        return Tokens.from_response(_ok(response, 200), now)

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

    def sign_up(self, username: str, password: str, email: str | None, browser_address: str) -> None:
        body: dict[str, Any] = {"username": username, "password": password}
        if email:
            body["email"] = email
        headers = {END_USER_HEADER: browser_address}
        response = self.users.call("POST", "/users", json=body, bearer=self._signup_token.get(), headers=headers)
        if response.status == 401:  # the console's own token was refused: once more with a new one
            self._signup_token.forget()
            response = self.users.call("POST", "/users", json=body, bearer=self._signup_token.get(), headers=headers)
        _ok(response, 201)

    def profile(self, tokens: Tokens) -> Mapping[str, Any]:
        return _ok(self.users.call("GET", "/users/me", bearer=tokens.access_token), 200)

    def orders_of(self, tokens: Tokens) -> list[Mapping[str, Any]]:
        return list(_ok(self.orders.call("GET", "/orders", bearer=tokens.access_token), 200).get("orders", []))

    def place_order(self, tokens: Tokens, item: str, quantity: int) -> None:
        _ok(
            self.orders.call("POST", "/orders", bearer=tokens.access_token, json={"item": item, "quantity": quantity}),
            201,
        )
