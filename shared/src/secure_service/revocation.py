"""Revocation state in Redis: revoked tokens, revoked sessions, per-user not-before.

Every verifier checks a token with one ``MGET`` (one round trip), or from its
RevocationCache when that is trusted (revocation_cache.py): every write below publishes
the revocation keys it changed on the invalidation channel, atomically with the write.
auth_service also keeps the refresh-token families here and rotates them atomically with a
Lua script.

Keys (all expire by themselves once the tokens they concern can no longer be valid):
  revoked:jti:<jti>          a single revoked token
  revoked:sid:<sid>          a revoked session: every access and refresh token of one login
  user:not-before:<sub>      tokens of this user with iat before this second are revoked
  refresh:current:<sid>      the jti of the one refresh token of a session still usable
"""

from __future__ import annotations

import enum
import json
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .errors import RevocationUnavailable
from .revocation_cache import INVALIDATION_CHANNEL, RevocationCache, subscription_connection
from .settings import MAX_LEEWAY_SECONDS

# Redis must answer quickly or the request fails closed; one retry covers a connection
# that went stale while Redis restarted.
SOCKET_TIMEOUT_SECONDS = 1.0

# KEYS: family, revoked session, user not-before. ARGV: presented jti, new jti, family ttl,
# presented iat, invalidation channel, revocation retention. Checking the user's not-before
# here, atomically with the swap, means a logout-all that lands while a refresh is in flight
# always wins. On reuse the session revocation is kept for the full retention, not for the
# presented token's remaining life: access tokens minted at the last rotation may outlive
# that, and must stay refused.
_ROTATE_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {'revoked', ''} end
local not_before = redis.call('GET', KEYS[3]) or ''
if not_before ~= '' and tonumber(ARGV[4]) < tonumber(not_before) then return {'revoked', ''} end
local current = redis.call('GET', KEYS[1])
if not current then return {'unknown', ''} end
if current ~= ARGV[1] then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[6])
  redis.call('PUBLISH', ARGV[5], cjson.encode({KEYS[2]}))
  redis.call('DEL', KEYS[1])
  return {'reused', ''}
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return {'rotated', not_before}
"""

# KEYS: user not-before. ARGV: the next whole second, retention, invalidation channel.
# Strictly increasing per call: two logout-alls in the same second each revoke what was
# issued before them, and a host whose clock is behind can never lower a not-before.
_REVOKE_USER_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local not_before = math.max(current + 1, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], string.format('%d', not_before), 'EX', ARGV[2])
redis.call('PUBLISH', ARGV[3], cjson.encode({KEYS[1]}))
return not_before
"""


class Rotation(enum.Enum):
    """Outcome of presenting a refresh token."""

    ROTATED = "rotated"  # it was the current one; the new one replaces it
    REUSED = "reused"  # it had already been rotated: the family is now revoked
    REVOKED = "revoked"  # the session was already revoked
    UNKNOWN = "unknown"  # no such family (expired or logged out)


def redis_client(url: str) -> redis.Redis:
    """A Redis client that fails fast instead of hanging a request."""
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        health_check_interval=30,
        decode_responses=True,
    )


def revocation_store(url: str, *, max_token_lifetime_seconds: int, cache_entries: int) -> RevocationStore:
    """The store a service uses: Redis at ``url``, with a RevocationCache unless ``cache_entries`` is 0."""
    client = redis_client(url)
    cache = (
        RevocationCache(lambda: subscription_connection(client), max_entries=cache_entries) if cache_entries else None
    )
    return RevocationStore(client, max_token_lifetime_seconds=max_token_lifetime_seconds, cache=cache)


def issued_at(now: float, not_before: int | None) -> int:
    """Whole-second ``iat`` for a token minted at ``now``, never before ``not_before``."""
    return max(math.floor(now), not_before or 0)


def _jti_key(jti: str) -> str:
    return f"revoked:jti:{jti}"


def _sid_key(sid: str) -> str:
    return f"revoked:sid:{sid}"


def _not_before_key(sub: str) -> str:
    return f"user:not-before:{sub}"


def _family_key(sid: str) -> str:
    return f"refresh:current:{sid}"


def _publish_invalidation(pipe: Any, keys: list[str]) -> None:
    """Queue the message that makes every RevocationCache forget ``keys`` (same transaction)."""
    pipe.publish(INVALIDATION_CHANNEL, json.dumps(keys))


class RevocationStore:
    """Read and write revocation state; every Redis failure becomes RevocationUnavailable."""

    def __init__(self, client: redis.Redis, *, max_token_lifetime_seconds: int, cache: RevocationCache | None = None):
        self._redis = client
        self._cache = cache
        # How long a session or user revocation must be remembered: the longest any token
        # (a refresh token) can live, plus the leeway a verifier grants past its exp.
        self._retention = max_token_lifetime_seconds + MAX_LEEWAY_SECONDS
        self._rotate = client.register_script(_ROTATE_SCRIPT)
        self._revoke_user = client.register_script(_REVOKE_USER_SCRIPT)

    # --- checks (every verifier) -------------------------------------------------------

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """True if the token, its session or its user's earlier tokens were revoked."""
        sid = claims.get("sid")
        keys = [_jti_key(claims["jti"]), _not_before_key(claims["sub"])]
        if isinstance(sid, str):
            keys.append(_sid_key(sid))
        values, generation = self._cache.lookup(keys) if self._cache else (None, 0)
        if values is None:
            try:
                values = cast(list[str | None], self._redis.mget(keys))  # decode_responses=True
            except redis.RedisError as e:
                raise RevocationUnavailable() from e
            if self._cache:
                self._cache.remember(keys, values, generation)
        jti_revoked, not_before = values[0], values[1]
        sid_revoked = values[2] if len(values) > 2 else None
        if jti_revoked is not None or sid_revoked is not None:
            return True
        return not_before is not None and claims["iat"] < int(not_before)

    def user_not_before(self, sub: str) -> int | None:
        """The second from which this user's tokens are valid, if one was set."""
        try:
            value = self._redis.get(_not_before_key(sub))
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        return int(value) if value is not None else None

    def ping(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    # --- changes (auth_service) --------------------------------------------------------

    def revoke_session(self, *, jti: str, expires_at: int, sids: Iterable[str]) -> None:
        """Revoke one token and every session in ``sids`` (their access and refresh tokens)."""
        jti_ttl = max(1, expires_at - int(time.time()) + 60)
        sids = list(sids)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(_jti_key(jti), "1", ex=jti_ttl)
                for sid in sids:
                    pipe.set(_sid_key(sid), "1", ex=self._retention)
                    pipe.delete(_family_key(sid))
                _publish_invalidation(pipe, [_jti_key(jti), *map(_sid_key, sids)])
                pipe.execute()
        except redis.RedisError as e:
            raise RevocationUnavailable() from e

    def revoke_user(self, sub: str, now: float | None = None) -> int:
        """Revoke every token of ``sub`` issued before now; returns the new not-before.

        ``iat`` has whole-second precision, so the not-before is the next whole second and
        tokens issued from now on carry ``iat`` of at least that second (see
        :meth:`issued_at_for`): a login right after logout-all works, every earlier token
        does not. Each call moves the not-before strictly forward (see the script).
        """
        next_second = math.floor(now if now is not None else time.time()) + 1
        try:
            not_before = self._revoke_user(
                keys=[_not_before_key(sub)], args=[next_second, self._retention, INVALIDATION_CHANNEL]
            )
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        return int(not_before)

    def issued_at_for(self, sub: str, now: float) -> int:
        """The ``iat`` for a new token of ``sub``: now, but never before its not-before."""
        return issued_at(now, self.user_not_before(sub))

    def start_family(self, sid: str, refresh_jti: str, ttl_seconds: int) -> None:
        """Record the first refresh token of a new session."""
        try:
            self._redis.set(_family_key(sid), refresh_jti, ex=max(1, ttl_seconds))
        except redis.RedisError as e:
            raise RevocationUnavailable() from e

    def rotate(self, claims: Mapping[str, Any], new_jti: str, ttl_seconds: int) -> tuple[Rotation, int | None]:
        """Atomically replace a family's current refresh token, detecting reuse.

        ``claims`` are the presented refresh token's. Returns the outcome and, when rotated,
        the user's not-before as it stood at that instant (for the new tokens' ``iat``).
        """
        try:
            status, not_before = self._rotate(
                keys=[_family_key(claims["sid"]), _sid_key(claims["sid"]), _not_before_key(claims["sub"])],
                args=[
                    claims["jti"],
                    new_jti,
                    max(1, ttl_seconds),
                    claims["iat"],
                    INVALIDATION_CHANNEL,
                    self._retention,
                ],
            )
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        return Rotation(status), int(not_before) if not_before else None
