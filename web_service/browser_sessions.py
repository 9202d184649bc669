"""What the BFF holds for each browser, in Redis: its tokens, never in the browser.

The browser holds one opaque cookie, the session id (256 random bits). Redis holds, under
a hash of that id (so that reading Redis yields no cookie to replay), one hash per browser
session::

  web:session:<sha256(id)>   csrf, created_at; once logged in also username,
                             access_token, refresh_token, access_exp (epoch seconds)
  web:refresh:<sha256(id)>   the lock held while one request refreshes the tokens

Why not Flask-Session: it saves the whole session at the end of every request, so the
last request to finish wins. Two tabs of one session would then race: one refreshes (the
refresh token rotates), the other, which started earlier, writes the old refresh token
back, and the next refresh presents a rotated token: auth_service sees reuse and kills the
session. Here the tokens change only in :meth:`BrowserSessions.refresh`, under a
per-session lock (redis-py's Lock), and every other write touches other fields.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

#: Bytes of randomness in a session id and in a CSRF token.
ID_BYTES = 32
#: An anonymous session (a login or sign-up form was shown) lives this long.
ANONYMOUS_TTL_SECONDS = 3600
#: How long one request may hold the refresh lock, and how long another waits for it.
REFRESH_LOCK_SECONDS = 10


class SessionStoreUnavailable(Exception):
    """Redis did not answer: the page says so (503) instead of guessing."""


@dataclass(frozen=True)
class Tokens:
    """What a login or a refresh returns, as the BFF keeps it."""

    access_token: str
    refresh_token: str
    access_exp: int

    @classmethod
    def from_response(cls, body: Mapping[str, Any], now: float) -> Tokens:
        return cls(str(body["access_token"]), str(body["refresh_token"]), int(now) + int(body["expires_in"]))


@dataclass(frozen=True)
class BrowserSession:
    """One browser's session as a request sees it."""

    sid: str
    csrf: str
    username: str | None
    tokens: Tokens | None

    @property
    def logged_in(self) -> bool:
        return self.tokens is not None


def _key(sid: str) -> str:
    return "web:session:" + hashlib.sha256(sid.encode()).hexdigest()


def _lock_key(sid: str) -> str:
    return "web:refresh:" + hashlib.sha256(sid.encode()).hexdigest()


class BrowserSessions:
    """Create, read, refresh and end browser sessions; every Redis failure becomes SessionStoreUnavailable."""

    def __init__(self, client: redis.Redis, *, lifetime_seconds: int):
        self._redis = client
        self._lifetime = lifetime_seconds

    def start_anonymous(self) -> BrowserSession:
        """A new session with a CSRF token and no tokens: what a login form is posted from."""
        sid, csrf = secrets.token_urlsafe(ID_BYTES), secrets.token_urlsafe(ID_BYTES)
        self._write(sid, {"csrf": csrf, "created_at": str(int(time.time()))}, ANONYMOUS_TTL_SECONDS)
        return BrowserSession(sid, csrf, None, None)

    def log_in(self, previous: BrowserSession | None, username: str, tokens: Tokens) -> BrowserSession:
        """A new session id for a login (the old one, if any, ends: no session fixation)."""
        if previous is not None:
            self.end(previous.sid)
        sid, csrf = secrets.token_urlsafe(ID_BYTES), secrets.token_urlsafe(ID_BYTES)
        fields = {"csrf": csrf, "created_at": str(int(time.time())), "username": username, **_token_fields(tokens)}
        self._write(sid, fields, self._lifetime)
        return BrowserSession(sid, csrf, username, tokens)

    def load(self, sid: str | None) -> BrowserSession | None:
        """The session of this cookie value, if it is one."""
        if not sid or len(sid) > 128:
            return None
        try:
            fields = self._redis.hgetall(_key(sid))
        except redis.RedisError as e:
            raise SessionStoreUnavailable() from e
        if not fields or "csrf" not in fields:
            return None
        tokens = None
        if "access_token" in fields:
            tokens = Tokens(fields["access_token"], fields["refresh_token"], int(fields["access_exp"]))
        return BrowserSession(sid, fields["csrf"], fields.get("username"), tokens)

    def refresh(
        self, session: BrowserSession, margin_seconds: int, do_refresh: Callable[[str], Tokens | None]
    ) -> BrowserSession | None:
        """The session with an access token valid for at least ``margin_seconds`` more.

        One request per session refreshes, under the lock; the others wait for it, then
        read what it stored. ``do_refresh`` presents a refresh token and returns the new
        pair, or None when auth_service refused it (the session then ends here too).
        """
        if session.tokens is None or session.tokens.access_exp - time.time() > margin_seconds:
            return session
        try:
            with self._redis.lock(
                _lock_key(session.sid), timeout=REFRESH_LOCK_SECONDS, blocking_timeout=REFRESH_LOCK_SECONDS
            ):
                current = self.load(session.sid)
                if current is None or current.tokens is None:
                    return None
                if current.tokens.access_exp - time.time() > margin_seconds:
                    return current  # another request refreshed while this one waited
                tokens = do_refresh(current.tokens.refresh_token)
                if tokens is None:
                    self.end(session.sid)
                    return None
                self._redis.hset(_key(session.sid), mapping=_token_fields(tokens))
                return BrowserSession(current.sid, current.csrf, current.username, tokens)
        except redis.exceptions.LockError as e:
            raise SessionStoreUnavailable() from e
        except redis.RedisError as e:
            raise SessionStoreUnavailable() from e

    def end(self, sid: str) -> None:
        """Forget a session: its tokens leave Redis (the caller revokes them first)."""
        try:
            self._redis.delete(_key(sid))
        except redis.RedisError as e:
            raise SessionStoreUnavailable() from e

    def _write(self, sid: str, fields: Mapping[str, str], ttl: int) -> None:
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(_key(sid), mapping=dict(fields))
                pipe.expire(_key(sid), ttl)
                pipe.execute()
        except redis.RedisError as e:
            raise SessionStoreUnavailable() from e


def _token_fields(tokens: Tokens) -> dict[str, str]:
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "access_exp": str(tokens.access_exp),
    }
