"""Revocation state in Redis, as every verifier reads it: revoked tokens, revoked sessions,
per-user not-before.

Verifiers depend on :class:`RevocationCheck` alone. :class:`RedisRevocationCheck` answers
with one ``MGET`` (one round trip); :class:`CachedRevocationCheck` answers from the
worker's copy of the deny-list while that is trusted (revocation_cache.py), else asks Redis.

The writer, auth_service (auth_service/sessions.py), names the keys with the functions
below and, atomically with each write (:func:`announce_revocations`, or the same commands
in its Lua scripts), indexes every key it sets in :data:`INDEX_KEY` and publishes their
names on the invalidation channel: that is what lets a RevocationCache load the whole
deny-list and keep it exact.

Keys (all expire by themselves once the tokens they concern can no longer be valid):
  revoked:jti:<jti>          a single revoked token
  revoked:sid:<sid>          a revoked session: every access and refresh token of one login
  user:not-before:<sub>      tokens of this user with iat before this second are revoked
  revocation:index           sorted set: the name of every key above, scored by a time
                             after it expires; and INDEX_COMPLETE once nothing is missing
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from .errors import RevocationUnavailable
from .revocation_cache import INVALIDATION_CHANNEL, RevocationCache, Value, subscription_connection

#: Every revocation key by name, for verifiers to load the whole deny-list from.
INDEX_KEY = "revocation:index"
#: The member auth_service adds (scored +inf) once every revocation key in Redis is in the
#: index: at start-up, after indexing keys written before it kept one. A verifier holds no
#: deny-list without it.
INDEX_COMPLETE = "(complete)"
#: A key's score is its expiry plus this much, so that an indexing host's clock running a
#: little ahead of Redis' never drops a key that is still set. (Keys that expired read as
#: None and are left out of a load anyway.)
INDEX_MARGIN_SECONDS = 300
#: Keys read per MGET while loading, so that no single reply blocks Redis for long.
LOAD_BATCH = 1000

# Redis must answer quickly or the request fails closed; one retry covers a connection
# that went stale while Redis restarted.
SOCKET_TIMEOUT_SECONDS = 1.0


class RevocationCheck(Protocol):
    """What a verifier asks of revocation state."""

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """True if the token, its session or its user's earlier tokens were revoked.

        Raises RevocationUnavailable when that cannot be known (fail closed).
        """
        ...

    def ping(self) -> bool:
        """Whether the store answers (for /readyz)."""
        ...


SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelAddress:
    """Where a primary is found through Sentinel: ``redis+sentinel://user:password@host:port,…/<primary>``.

    The form Flask-Limiter reads too (limits' RedisSentinelStorage), so one REDIS_URL serves
    a service's revocation client and its rate limits; the sentinels take the same
    credentials as the nodes, as limits logs in to them.
    """

    sentinels: tuple[tuple[str, int], ...]
    primary: str
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SentinelAddress:
        """Raises ValueError, naming what is missing, for a URL of another form."""
        parts = urlsplit(url)
        if parts.scheme != SENTINEL_SCHEME:
            raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
        credentials, _, hosts = parts.netloc.rpartition("@")
        username, _, password = credentials.partition(":")
        sentinels = []
        for location in hosts.split(","):
            # A fake scheme, as limits parses each location: urlsplit then reads host and port.
            host = urlsplit(f"//{location.strip()}")
            if not host.hostname or host.port is None:
                raise ValueError(f"each sentinel needs a host and a port, not {location!r}")
            sentinels.append((host.hostname, host.port))
        primary = parts.path.strip("/")
        if not primary or "/" in primary:
            raise ValueError("the path names the primary, as Sentinel monitors it: /<primary>")
        return cls(tuple(sentinels), primary, unquote(username) or None, unquote(password) or None)


def check_redis_url(url: str) -> None:
    """Raises ValueError unless ``url`` is one :func:`redis_client` can use."""
    scheme = urlsplit(url).scheme
    if scheme == SENTINEL_SCHEME:
        SentinelAddress.parse(url)
    elif scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"the scheme must be redis, rediss, unix or {SENTINEL_SCHEME}, not {scheme!r}")


def redis_client(
    url: str,
    *,
    retries: int = 1,
    max_connections: int | None = None,
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
) -> redis.Redis:
    """A Redis client that fails fast instead of hanging a request.

    A ``redis+sentinel://`` URL gives a client of the primary the sentinels name, which
    asks them again after a failover: its connections follow the new primary without a
    restart (redis-py's SentinelConnectionPool). ``socket_timeout`` is longer only for a
    client whose commands block by design (WAIT).
    """
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
        "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=retries),
        "health_check_interval": 30,
        "decode_responses": True,
        "max_connections": max_connections,
    }
    if urlsplit(url).scheme != SENTINEL_SCHEME:
        return redis.Redis.from_url(url, **options)
    address = SentinelAddress.parse(url)
    credentials = {"username": address.username, "password": address.password}
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        address.sentinels,
        sentinel_kwargs={
            **credentials,
            "socket_timeout": SOCKET_TIMEOUT_SECONDS,
            "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
        },
        **credentials,
    )
    return cast(redis.Redis, sentinels.master_for(address.primary, **options))  # type: ignore[no-untyped-call]


def revocation_check(client: redis.Redis, *, cache_entries: int) -> RevocationCheck:
    """A verifier's check through ``client``: with a RevocationCache unless ``cache_entries`` is 0."""
    direct = RedisRevocationCheck(client)
    if not cache_entries:
        return direct
    cache = RevocationCache(
        lambda: subscription_connection(client),
        load=lambda: deny_list(client),
        read=direct.read,
        max_entries=cache_entries,
    )
    return CachedRevocationCheck(direct, cache)


def jti_key(jti: str) -> str:
    """The key that revokes one token."""
    return f"revoked:jti:{jti}"


def sid_key(sid: str) -> str:
    """The key that revokes a session: every access and refresh token of one login."""
    return f"revoked:sid:{sid}"


def not_before_key(sub: str) -> str:
    """The key holding the second before which a user's tokens are revoked."""
    return f"user:not-before:{sub}"


def keys_of(claims: Mapping[str, Any]) -> list[str]:
    """The keys that decide whether a token is revoked: its jti, its user's not-before, its session."""
    keys = [jti_key(claims["jti"]), not_before_key(claims["sub"])]
    sid = claims.get("sid")
    if isinstance(sid, str):
        keys.append(sid_key(sid))
    return keys


def announce_revocations(pipe: Any, ttls: Mapping[str, int], now: float | None = None) -> None:
    """Queue, in the transaction that sets these keys with these TTLs, their index entries
    and the message that makes every RevocationCache read them again."""
    now = time.time() if now is None else now
    pipe.zadd(INDEX_KEY, {key: now + ttl + INDEX_MARGIN_SECONDS for key, ttl in ttls.items()}, gt=True)
    pipe.zremrangebyscore(INDEX_KEY, "-inf", now)  # keys long expired
    pipe.publish(INVALIDATION_CHANNEL, json.dumps(list(ttls)))


def deny_list(client: redis.Redis) -> dict[str, str] | None:
    """Every revocation key Redis holds, with its value; None unless the index is complete."""
    names = cast(list[str], client.zrange(INDEX_KEY, 0, -1))
    if INDEX_COMPLETE not in names:
        return None
    names.remove(INDEX_COMPLETE)
    values: dict[str, str] = {}
    for start in range(0, len(names), LOAD_BATCH):
        batch = names[start : start + LOAD_BATCH]
        read = cast(list[Value], client.mget(batch))  # decode_responses=True
        values.update((key, value) for key, value in zip(batch, read, strict=True) if value is not None)
    return values


def _revoked(claims: Mapping[str, Any], values: Sequence[Value]) -> bool:
    """The verdict on a token from the values of :func:`keys_of`, in that order."""
    jti_revoked, not_before = values[0], values[1]
    sid_revoked = values[2] if len(values) > 2 else None
    if jti_revoked is not None or sid_revoked is not None:
        return True
    return not_before is not None and claims["iat"] < int(not_before)


class RedisRevocationCheck:
    """Asks Redis on every check; every Redis failure becomes RevocationUnavailable."""

    def __init__(self, client: redis.Redis):
        self._redis = client

    def read(self, keys: Sequence[str]) -> list[Value]:
        """The values of ``keys``, in one round trip."""
        try:
            return cast(list[Value], self._redis.mget(keys))  # decode_responses=True
        except redis.RedisError as e:
            raise RevocationUnavailable() from e

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """True if the token, its session or its user's earlier tokens were revoked."""
        return _revoked(claims, self.read(keys_of(claims)))

    def ping(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False


class CachedRevocationCheck:
    """A RedisRevocationCheck answered from the worker's deny-list while that is trusted."""

    def __init__(self, direct: RedisRevocationCheck, cache: RevocationCache):
        self._direct = direct
        self._cache = cache

    def is_revoked(self, claims: Mapping[str, Any]) -> bool:
        """True if the token, its session or its user's earlier tokens were revoked."""
        keys = keys_of(claims)
        values = self._cache.lookup(keys)
        if values is None:
            values = self._direct.read(keys)
        return _revoked(claims, values)

    def ping(self) -> bool:
        """Whether Redis answers (the cache never answers for it)."""
        return self._direct.ping()
