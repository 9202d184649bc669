"""Sessions and revocations: what auth_service writes to Redis.

The revocation keys are the ones every verifier reads (secure_service/revocation.py); each
write here publishes the keys it changed on the invalidation channel in the same
transaction or script, so that no verifier's RevocationCache keeps an old answer. The
refresh-token families are auth_service's alone, rotated atomically by a Lua script.

Keys besides the revocation keys (each expires with its session, at the family's absolute
expiry, or sooner):
  refresh:current:<sid>      the jti of the one refresh token of a session still usable
  refresh:previous:<sid>     with REFRESH_REUSE_GRACE_SECONDS only, for that long after a
                             rotation: the rotated jti and the ids and iat of its successor
                             pair (JSON), so that a retry gets the same pair again
  session:<sid>              hash: sub, client_id, created_at, last_used_at (epoch seconds)
                             and iat, the current refresh token's (to apply a not-before)
  sessions:<sub>             sorted set: the user's sids, scored by their family's expiry

Only ids and times are kept, never a token. A session is live while its family exists, its
sid is not revoked and its iat is not before the user's not-before; the index may hold
dead members, which listing drops. Only a refresh writes to a live session (last_used_at).
"""

from __future__ import annotations

import enum
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import redis

from secure_service import RevocationUnavailable, redis_client
from secure_service.revocation import (
    INDEX_COMPLETE,
    INDEX_KEY,
    INDEX_MARGIN_SECONDS,
    SOCKET_TIMEOUT_SECONDS,
    announce_revocations,
    jti_key,
    not_before_key,
    sid_key,
)
from secure_service.revocation_cache import INVALIDATION_CHANNEL
from secure_service.settings import MAX_LEEWAY_SECONDS

# KEYS: family, revoked session, user not-before, session record, previous rotation,
# revocation index. ARGV: presented jti, new refresh jti, family ttl, presented iat,
# invalidation channel, revocation retention, now (epoch seconds), grace seconds, new
# access jti, index margin. A revocation is indexed and announced as announce_revocations
# does it in a transaction.
# Checking the user's not-before here, atomically with the swap, means a logout-all that
# lands while a refresh is in flight always wins; the new pair's iat is decided here too,
# from the not-before read in the same step. On reuse the session revocation is kept for
# the full retention, not for the presented token's remaining life: access tokens minted
# at the last rotation may outlive that, and must stay refused. With a grace, the presented
# token that was just rotated, presented again while its successor is still the current
# one, gets that same successor (ids and iat) back: one branch, not a second one.
_ROTATE_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {'revoked'} end
local not_before = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[4]) < not_before then return {'revoked'} end
local current = redis.call('GET', KEYS[1])
if not current then return {'unknown'} end
local has_record = redis.call('EXISTS', KEYS[4]) == 1
if current ~= ARGV[1] then
  local previous = redis.call('GET', KEYS[5])
  if previous then
    previous = cjson.decode(previous)
    if previous.rotated == ARGV[1] and previous.refresh_jti == current then
      if has_record then redis.call('HSET', KEYS[4], 'last_used_at', ARGV[7]) end
      return {'retried', previous.refresh_jti, previous.access_jti, tostring(previous.iat)}
    end
  end
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[6])
  redis.call('ZADD', KEYS[6], 'GT', tonumber(ARGV[7]) + tonumber(ARGV[6]) + tonumber(ARGV[10]), KEYS[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', ARGV[7])
  redis.call('PUBLISH', ARGV[5], cjson.encode({KEYS[2]}))
  redis.call('DEL', KEYS[1], KEYS[4], KEYS[5])
  return {'reused'}
end
local iat = math.max(math.floor(tonumber(ARGV[7])), not_before)
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if has_record then redis.call('HSET', KEYS[4], 'last_used_at', ARGV[7], 'iat', iat) end
if tonumber(ARGV[8]) > 0 then
  local successor = {rotated = ARGV[1], refresh_jti = ARGV[2], access_jti = ARGV[9], iat = iat}
  redis.call('SET', KEYS[5], cjson.encode(successor), 'EX', ARGV[8])
end
return {'rotated', ARGV[2], ARGV[9], tostring(iat)}
"""

# KEYS: user not-before, revocation index. ARGV: the next whole second, retention,
# invalidation channel, index margin.
# Strictly increasing per call: two logout-alls in the same second each revoke what was
# issued before them, and a host whose clock is behind can never lower a not-before.
_REVOKE_USER_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local not_before = math.max(current + 1, tonumber(ARGV[1]))
redis.call('SET', KEYS[1], string.format('%d', not_before), 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], 'GT', tonumber(ARGV[1]) + tonumber(ARGV[2]) + tonumber(ARGV[4]), KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - 1)
redis.call('PUBLISH', ARGV[3], cjson.encode({KEYS[1]}))
return not_before
"""


class Rotation(enum.Enum):
    """Outcome of presenting a refresh token."""

    ROTATED = "rotated"  # it was the current one; the new one replaces it
    RETRIED = "retried"  # it was just rotated, within the grace: its successor again
    REUSED = "reused"  # it had already been rotated: the family is now revoked
    REVOKED = "revoked"  # the session was already revoked
    UNKNOWN = "unknown"  # no such family (expired or logged out)


def issued_at(now: float, not_before: int | None) -> int:
    """Whole-second ``iat`` for a token minted at ``now``, never before ``not_before``."""
    return max(math.floor(now), not_before or 0)


@dataclass(frozen=True)
class Successor:
    """What the pair a rotation mints is made of: its two token ids and its ``iat``."""

    refresh_jti: str
    access_jti: str
    issued_at: int


@dataclass(frozen=True)
class SessionRecord:
    """A live session as its user may see it; times in epoch seconds."""

    sid: str
    client_id: str
    created_at: float
    last_used_at: float


def _batches(items: Iterable[str], size: int) -> Iterable[list[str]]:
    # itertools.batched, which needs Python 3.12.
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _family_key(sid: str) -> str:
    return f"refresh:current:{sid}"


def _previous_key(sid: str) -> str:
    return f"refresh:previous:{sid}"


def _record_key(sid: str) -> str:
    return f"session:{sid}"


def _index_key(sub: str) -> str:
    return f"sessions:{sub}"


_RECORD_FIELDS = ("sub", "client_id", "created_at", "last_used_at", "iat")


class RevocationNotReplicated(RevocationUnavailable):
    """A revocation was written to the primary, but not to enough replicas in time."""

    default_message = "The revocation could not be confirmed on a replica; retry shortly."


class ReplicaAcknowledgement:
    """Answer a write only once ``replicas`` replicas hold it: Redis' WAIT after the write.

    A primary lost before it replicates a write takes the write with it, and a revocation
    forgotten so lets its token through again. WAIT counts the writes made on its own
    connection, and redis-py gives each command or pipeline any connection of its pool; so
    these writes go one at a time through a client of one connection. That client does not
    retry: a retried WAIT would run on a new connection, which has written nothing, and be
    acknowledged at once.
    """

    def __init__(self, url: str, *, replicas: int, timeout_ms: int):
        self._replicas, self._timeout_ms = replicas, timeout_ms
        self._client = redis_client(
            url, retries=0, max_connections=1, socket_timeout=SOCKET_TIMEOUT_SECONDS + timeout_ms / 1000
        )
        self._lock = threading.Lock()

    @contextmanager
    def writing(self) -> Iterator[redis.Redis]:
        """The client to write with; on leaving, WAIT, and RevocationNotReplicated if too few hold it."""
        with self._lock:
            yield self._client
            acknowledged = int(self._client.wait(self._replicas, self._timeout_ms))
        if acknowledged < self._replicas:
            raise RevocationNotReplicated()


class Sessions:
    """Start, rotate and revoke sessions; every Redis failure becomes RevocationUnavailable.

    With ``acknowledgement``, every write that makes a token invalid (a revocation, a
    logout, a rotation, which retires the presented refresh token) is answered only once
    replicas hold it.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        max_token_lifetime_seconds: int,
        refresh_reuse_grace_seconds: int = 0,
        acknowledgement: ReplicaAcknowledgement | None = None,
    ):
        self._redis = client
        self._acknowledgement = acknowledgement
        # How long a session or user revocation must be remembered: the longest any token
        # (a refresh token) can live, plus the leeway a verifier grants past its exp.
        self._retention = max_token_lifetime_seconds + MAX_LEEWAY_SECONDS
        self._grace = refresh_reuse_grace_seconds
        self._rotate = client.register_script(_ROTATE_SCRIPT)
        self._revoke_user = client.register_script(_REVOKE_USER_SCRIPT)

    def _invalidating(self) -> AbstractContextManager[redis.Redis]:
        """The client for a write that makes tokens invalid: acknowledged by replicas, if asked."""
        return self._acknowledgement.writing() if self._acknowledgement else nullcontext(self._redis)

    def _announcing(self, script: Any, *, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script that may publish an invalidation, inside MULTI/EXEC.

        EXEC queues its reply to this client before the script runs, so Redis writes the
        invalidation to every subscriber before it writes the reply here. A bare EVALSHA
        queues the reply after the script, and a Redis preempted between the two writes
        let the reply arrive first: measured on a busy 2-core machine, 17 in 600 calls had
        the message reach a subscriber up to 4.5 ms after the reply; inside MULTI, 0 in 600.
        """
        with self._invalidating() as client:
            try:
                return self._exec_script(client, script, keys, args)
            except redis.exceptions.NoScriptError:
                client.script_load(script.script)  # a Redis restarted (or failed over) since: load it again
                return self._exec_script(client, script, keys, args)

    @staticmethod
    def _exec_script(client: redis.Redis, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        with client.pipeline(transaction=True) as pipe:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
            (result,) = pipe.execute()
        return result

    def revoke_session(self, *, jti: str, expires_at: int, sids: Iterable[str]) -> None:
        """Revoke one token and every session in ``sids`` (their access and refresh tokens)."""
        jti_ttl = max(1, expires_at - int(time.time()) + 60)
        sids = list(sids)
        try:
            with self._invalidating() as client, client.pipeline(transaction=True) as pipe:
                pipe.set(jti_key(jti), "1", ex=jti_ttl)
                self._queue_session_revocation(pipe, sids)
                announce_revocations(pipe, {jti_key(jti): jti_ttl, **{sid_key(sid): self._retention for sid in sids}})
                pipe.execute()
        except redis.RedisError as e:
            raise RevocationUnavailable() from e

    def _queue_session_revocation(self, pipe: Any, sids: Sequence[str]) -> None:
        """Queue what revokes each session in ``sids``; the caller publishes their sid keys."""
        for sid in sids:
            pipe.set(sid_key(sid), "1", ex=self._retention)
            # Its record goes too; the user's index drops the sid when next listed.
            pipe.delete(_family_key(sid), _previous_key(sid), _record_key(sid))

    def mark_index_complete(self) -> None:
        """Say that every revocation key in Redis is in the index (auth_service's start-up).

        True of every Redis only an index-keeping auth_service has written to; one that
        still holds keys from before (an upgrade) is indexed first with
        :func:`index_existing_revocations`, as the Redis operator.
        """
        try:
            self._redis.zadd(INDEX_KEY, {INDEX_COMPLETE: math.inf})
        except redis.RedisError as e:
            raise RevocationUnavailable() from e

    def end_session(self, sub: str, sid: str) -> bool:
        """Revoke ``sid`` as :meth:`revoke_session` does, if it is a live session of ``sub``.

        False, and nothing written, for a session that is another user's, ended or unknown.
        """
        if not self._live(sub, [sid])[0]:
            return False
        try:
            with self._invalidating() as client, client.pipeline(transaction=True) as pipe:
                self._queue_session_revocation(pipe, [sid])
                pipe.zrem(_index_key(sub), sid)
                announce_revocations(pipe, {sid_key(sid): self._retention})
                pipe.execute()
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        return True

    def list_sessions(self, sub: str) -> list[SessionRecord]:
        """The live sessions of ``sub``, newest first; dead members leave the user's index."""
        index = _index_key(sub)
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(index, "-inf", time.time())
                pipe.zrange(index, 0, -1)
                _, sids = pipe.execute()
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        live, dead = self._live(sub, sids)
        if dead:
            # Only the index entry: a dead session's record was deleted with its family, or
            # (after a logout-all) expires with it.
            try:
                self._redis.zrem(index, *dead)
            except redis.RedisError as e:
                raise RevocationUnavailable() from e
        return sorted(live, key=lambda record: record.created_at, reverse=True)

    def _live(self, sub: str, sids: Sequence[str]) -> tuple[list[SessionRecord], list[str]]:
        """Which of ``sids`` are live sessions of ``sub``, and which are dead.

        A session, once dead, never lives again (a revocation stays, a family never comes
        back, a not-before only moves forward), so what is read here may be acted on.
        """
        if not sids:
            return [], []
        try:
            # One snapshot: a rotation cannot land between the reads.
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.get(not_before_key(sub))
                pipe.mget([*map(_family_key, sids), *map(sid_key, sids)])
                for sid in sids:
                    pipe.hmget(_record_key(sid), _RECORD_FIELDS)
                not_before, states, *records = pipe.execute()
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        live: list[SessionRecord] = []
        dead: list[str] = []
        for sid, family, revoked, record in zip(sids, states[: len(sids)], states[len(sids) :], records, strict=True):
            owner, client_id, created_at, last_used_at, iat = record
            if (
                family is None
                or revoked is not None
                or owner != sub
                or iat is None
                or (not_before is not None and int(iat) < int(not_before))
            ):
                dead.append(sid)
            else:
                live.append(SessionRecord(sid, client_id, float(created_at), float(last_used_at)))
        return live, dead

    def revoke_user(self, sub: str, now: float | None = None) -> int:
        """Revoke every token of ``sub`` issued before now; returns the new not-before.

        ``iat`` has whole-second precision, so the not-before is the next whole second and
        tokens issued from now on carry ``iat`` of at least that second (see
        :meth:`issued_at_for`): a login right after logout-all works, every earlier token
        does not. Each call moves the not-before strictly forward (see the script).
        """
        next_second = math.floor(now if now is not None else time.time()) + 1
        try:
            not_before = self._announcing(
                self._revoke_user,
                keys=[not_before_key(sub), INDEX_KEY],
                args=[next_second, self._retention, INVALIDATION_CHANNEL, INDEX_MARGIN_SECONDS],
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

    def start_session(self, refresh_claims: Mapping[str, Any], ttl_seconds: int, *, now: float | None = None) -> None:
        """Record a new session from its first refresh token's claims: its family and its record."""
        now = time.time() if now is None else now
        sid, sub, ttl = refresh_claims["sid"], refresh_claims["sub"], max(1, ttl_seconds)
        record: dict[str, str | int] = {
            "sub": sub,
            "client_id": refresh_claims["client_id"],
            "created_at": repr(now),
            "last_used_at": repr(now),
            "iat": int(refresh_claims["iat"]),
        }
        index = _index_key(sub)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(_family_key(sid), refresh_claims["jti"], ex=ttl)
                pipe.hset(_record_key(sid), mapping=record)
                pipe.expire(_record_key(sid), ttl)
                # Scored by expiry, so expired members go without reading them; the index
                # lives as long as its longest-lived session (NX on creation, GT after).
                pipe.zremrangebyscore(index, "-inf", now)
                pipe.zadd(index, {sid: now + ttl})
                pipe.expire(index, ttl, nx=True)
                pipe.expire(index, ttl, gt=True)
                pipe.execute()
        except redis.RedisError as e:
            raise RevocationUnavailable() from e

    def rotate(
        self,
        claims: Mapping[str, Any],
        new_jti: str,
        ttl_seconds: int,
        *,
        access_jti: str | None = None,
        now: float | None = None,
    ) -> tuple[Rotation, Successor | None]:
        """Atomically replace a family's current refresh token, detecting reuse.

        ``claims`` are the presented refresh token's; ``new_jti`` and ``access_jti`` (fresh if
        not given) the ids of the pair to mint. Returns the outcome and, when rotated or
        retried, what the pair is made of: its ``iat`` is never before the user's
        not-before as it stood at that instant, and a retry gets the first answer's again.
        """
        sid = claims["sid"]
        access_jti = access_jti if access_jti is not None else str(uuid.uuid4())
        try:
            status, *successor = self._announcing(
                self._rotate,
                keys=[
                    _family_key(sid),
                    sid_key(sid),
                    not_before_key(claims["sub"]),
                    _record_key(sid),
                    _previous_key(sid),
                    INDEX_KEY,
                ],
                args=[
                    claims["jti"],
                    new_jti,
                    max(1, ttl_seconds),
                    claims["iat"],
                    INVALIDATION_CHANNEL,
                    self._retention,
                    repr(time.time() if now is None else now),
                    self._grace,
                    access_jti,
                    INDEX_MARGIN_SECONDS,
                ],
            )
        except redis.RedisError as e:
            raise RevocationUnavailable() from e
        if not successor:
            return Rotation(status), None
        refresh_jti, access_jti, issued_at = successor
        return Rotation(status), Successor(refresh_jti, access_jti, int(issued_at))

    def is_current_refresh(self, claims: Mapping[str, Any]) -> bool:
        """Whether a refresh token is its session's current one (not rotated, nor its session ended)."""
        try:
            return bool(self._redis.get(_family_key(claims["sid"])) == claims["jti"])
        except redis.RedisError as e:
            raise RevocationUnavailable() from e


def index_existing_revocations(client: redis.Redis) -> int:
    """Index every revocation key ``client``'s Redis holds, then mark the index complete;
    returns how many keys were indexed.

    The upgrade step for a Redis written by an auth_service that kept no index, run once
    as the Redis operator before the new auth_service starts (python -m
    auth_service.revocation_index): it needs SCAN, which no service's Redis user has (SCAN
    is not bound by ACL key patterns and would list every key). Idempotent, and safe
    beside writers: an index entry never lowers a score.
    """
    indexed = 0
    for pattern in (jti_key("*"), sid_key("*"), not_before_key("*")):
        for batch in _batches(client.scan_iter(match=pattern, count=1000), 500):
            with client.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.expiretime(key)
                expiries = pipe.execute()
            # -1: no expiry (never written so; kept for ever), -2: gone meanwhile.
            scores = {
                key: (math.inf if expiry == -1 else expiry + INDEX_MARGIN_SECONDS)
                for key, expiry in zip(batch, expiries, strict=True)
                if expiry != -2
            }
            if scores:
                client.zadd(INDEX_KEY, scores, gt=True)
                indexed += len(scores)
    client.zadd(INDEX_KEY, {INDEX_COMPLETE: math.inf})
    return indexed
