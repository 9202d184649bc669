"""The one object the console's views reach: settings, the session store, the stack's API."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .api import StackApi
from .browser_sessions import BrowserSessions
from .settings import WebSettings

EXTENSION_KEY = "web_service"


@dataclass(frozen=True)
class WebState:
    settings: WebSettings
    sessions: BrowserSessions
    api: StackApi

    @property
    def cookie_name(self) -> str:
        # The __Host- prefix makes a browser refuse the cookie unless it is Secure, for
        # this host only and for every path: no subdomain or plain-HTTP page can set it.
        return "__Host-console" if self.settings.secure_cookie else "console"


def web_state() -> WebState:
    state: WebState = current_app.extensions[EXTENSION_KEY]
    return state
