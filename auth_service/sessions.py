"""Sessions and revocations: what auth_service writes to Redis.

The revocation keys are the ones every verifier reads (secure_service/revocation.py); each
write here publishes the keys it changed on the invalidation channel in the same
transaction or script, so that no verifier's RevocationCache keeps an old answer. The
refresh-token families are auth_service's alone, rotated atomically by a Lua script.

Keys besides the revocation keys (they expire with the session):
  refresh:current:<sid>      the jti of the one refresh token of a session still usable
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from secure_service import RevocationUnavailable
from secure_service.revocation import jti_key, not_before_key, publish_invalidation, sid_key
from secure_service.revocation_cache import INVALIDATION_CHANNEL
from secure_service.settings import MAX_LEEWAY_SECONDS

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


def issued_at(now: float, not_before: int | None) -> int:
    """Whole-second ``iat`` for a token minted at ``now``, never before ``not_before``."""
    return max(math.floor(now), not_before or 0)


def _family_key(sid: str) -> str:
    return f"refresh:current:{sid}"


class Sessions:
    """Start, rotate and revoke sessions; every Redis failure becomes RevocationUnavailable."""

    def __init__(self, client: redis.Redis, *, max_token_lifetime_seconds: int):
        self._redis = client
        # How long a session or user revocation must be remembered: the longest any token
        # (a refresh token) can live, plus the leeway a verifier grants past its exp.
        self._retention = max_token_lifetime_seconds + MAX_LEEWAY_SECONDS
        self._rotate = client.register_script(_ROTATE_SCRIPT)
        self._revoke_user = client.register_script(_REVOKE_USER_SCRIPT)

    def revoke_session(self, *, jti: str, expires_at: int, sids: Iterable[str]) -> None:
        """Revoke one token and every session in ``sids`` (their access and refresh tokens)."""
        jti_ttl = max(1, expires_at - int(time.time()) + 60)
        sids = list(sids)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(jti_key(jti), "1", ex=jti_ttl)
                for sid in sids:
                    pipe.set(sid_key(sid), "1", ex=self._retention)
                    pipe.delete(_family_key(sid))
                publish_invalidation(pipe, [jti_key(jti), *map(sid_key, sids)])
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
                keys=[not_before_key(sub)], args=[next_second, self._retention, INVALIDATION_CHANNEL]
            )
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        return int(not_before)

    def user_not_before(self, sub: str) -> int | None:
        """The second from which this user's tokens are valid, if one was set."""
        try:
            value = self._redis.get(not_before_key(sub))
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        return int(value) if value is not None else None

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
                keys=[_family_key(claims["sid"]), sid_key(claims["sid"]), not_before_key(claims["sub"])],
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
