"""Each worker's copy of the whole deny-list, kept exact by Redis invalidation messages.

A verifier needs to know, for every token, whether one of its keys (revocation.py) is set.
Almost every token is not revoked, and a new token always misses a per-token memory, so
this module holds the other side instead: every revocation key Redis has, loaded once from
the index auth_service keeps of them (:func:`revocation.deny_list`). A key that is not in
memory is not in Redis, and a token that is not revoked needs no round trip at all.

Why a revocation is never missed (the consistency argument, docs/performance.md):

* The load starts only once the worker's subscription to :data:`INVALIDATION_CHANNEL` is
  confirmed. Every write to a revocation key (auth_service/sessions.py) publishes the key
  names on that channel in the same transaction or script as the write, and indexes the key
  in the same step. So a write is either before the confirmation, and in the load, or
  after it, and its message arrives on the subscription.
* Before memory answers, the worker reads whatever Redis has sent on the subscription and
  reads the named keys again (one ``MGET``, only when something was revoked). A message
  is applied only after the value it announces can be read, so no order of events leaves
  an old value in memory.
* Redis delivers everything on one connection in order. The worker sends a ``PING`` on the
  subscription every few milliseconds; when its ``PONG`` arrives, every invalidation
  published before Redis handled that ``PING`` has arrived before it and been applied.
* Memory is used only while the last answered ``PING`` was *sent* less than
  :data:`MAX_STALENESS_SECONDS` ago. So a request never misses a revocation that committed
  more than that long before it, whatever fails: a silent network, a paused Redis, a
  lost message. Otherwise it asks Redis directly, which fails closed.
* In the normal case a revocation is visible at once: Redis writes the invalidation to
  the subscription in the same event-loop pass as its reply to the revoking call, before
  that reply can travel back through auth_service to anyone.
* A subscription error of any kind, a fork, an index not marked complete, or a deny-list
  larger than ``max_entries`` leaves memory empty and checks Redis directly until a new
  subscription and load succeed.

Removals are safe without messages: a revocation key disappears from Redis only by
expiring once the tokens it concerns have expired, so keeping it longer refuses nothing
that would otherwise be accepted. Memory drops them at its next load, which happens when
it outgrows ``max_entries``.

redis-py's own client-side caching needs Redis 7.4 and tracks keys one by one (what this
replaced); Debian's redis-server is 7.0, so the tracking is done here on a plain pub/sub
connection.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

from .errors import RevocationUnavailable

#: redis-py's connection class is untyped; this module uses connect, disconnect,
#: send_command, can_read and read_response.
Connection = Any

log = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "revocation:invalidated"
#: How old the last confirmed round trip on the subscription may be for memory to be used:
#: the worst case, under any failure, between a revocation and every verifier seeing it.
MAX_STALENESS_SECONDS = 0.010
#: How often a busy worker confirms its subscription. A PING costs a send syscall (tens of
#: µs on loopback), so as rarely as the bound allows: the PONG is read by a later request,
#: and it must arrive before the previous confirmation is MAX_STALENESS_SECONDS old.
PING_INTERVAL_SECONDS = 0.007
#: After a failed subscription, how long to check Redis directly before trying again.
RESUBSCRIBE_DELAY_SECONDS = 1.0
#: After a deny-list that could not be held (not marked complete, or too large), how long
#: before loading it again: a load reads the whole index.
RELOAD_DELAY_SECONDS = 10.0

Value = str | None


class DenyListUnavailable(Exception):
    """The deny-list cannot be held whole in memory now (see :meth:`RevocationCache._loaded`)."""


#: Anything that puts the subscription in doubt, a malformed message included (anyone who
#: can publish on the channel could send one): memory is cleared and Redis asked directly.
_SUBSCRIPTION_ERRORS = (redis.RedisError, RevocationUnavailable, DenyListUnavailable, OSError, ValueError, TypeError)


def subscription_connection(client: redis.Redis) -> Connection:
    """A new connection to ``client``'s server, configured like it, for the subscription.

    It never retries or health-checks by itself: redis-py's PubSub reconnects and
    resubscribes silently, losing whatever was published meanwhile, which is exactly what
    this cache must notice.
    """
    pool = client.connection_pool
    options = {**pool.connection_kwargs, "health_check_interval": 0, "retry": None}
    return pool.connection_class(**options)


class RevocationCache:
    """The deny-list in memory, trusted only while the subscription is confirmed."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        *,
        load: Callable[[], Mapping[str, str] | None],
        read: Callable[[Sequence[str]], list[Value]],
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        """``load`` returns every revocation key with its value (None if that cannot be
        known complete); ``read`` the values of some keys; both from the same Redis."""
        self._connect = connect
        self._load = load
        self._read = read
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}  # every revocation key Redis holds, once loaded
        self._connection: Connection | None = None
        self._pid: int | None = None
        self._retry_at = 0.0
        self._ping_sent_at: float | None = None  # outstanding PING, if any
        self._confirmed_at: float | None = None  # when the last answered PING was sent

    def lookup(self, keys: Sequence[str]) -> list[Value] | None:
        """The values of ``keys`` (None for a key that is not set), or None if memory is
        not trusted at this instant and Redis must be asked."""
        with self._lock:
            if not self._synchronised():
                return None
            return [self._values.get(key) for key in keys]

    # --- the subscription (called with the lock held) -----------------------------------

    def _synchronised(self) -> bool:
        """Apply what Redis has sent; True if memory may answer for this instant."""
        if self._pid != os.getpid():
            # A forked child must not read its parent's socket: start over.
            self._connection, self._pid = None, os.getpid()
            self._values = {}
        now = self._clock()
        if self._connection is None and not self._subscribe(now):
            return False
        assert self._connection is not None
        try:
            changed: set[str] = set()
            while self._connection.can_read(timeout=0):
                self._apply(self._connection.read_response(push_request=True), changed)
            if changed:
                self._reread(changed)
            if self._ping_sent_at is not None and now - self._ping_sent_at > RESUBSCRIBE_DELAY_SECONDS:
                # A connection that went silent without closing: start a new one.
                raise redis.ConnectionError("no PONG on the invalidation channel")
            if self._ping_sent_at is None and now - (self._confirmed_at or 0.0) >= PING_INTERVAL_SECONDS:
                self._connection.send_command("PING")
                self._ping_sent_at = now
        except _SUBSCRIPTION_ERRORS as e:
            self._lose_subscription(now, e)
            return False
        return self._confirmed_at is not None and now - self._confirmed_at < MAX_STALENESS_SECONDS

    def _subscribe(self, now: float) -> bool:
        """Subscribe, then load the deny-list: what the load misses, the subscription sees."""
        if now < self._retry_at:
            return False
        self._connection = self._connect()
        try:
            self._connection.connect()
            self._connection.send_command("SUBSCRIBE", INVALIDATION_CHANNEL)
            self._ping_sent_at = now  # the confirmation answers like a PONG
            self._apply(self._connection.read_response(push_request=True), set())
            if self._confirmed_at is None:
                raise redis.ConnectionError("the subscription was not confirmed")
            self._values = self._loaded()
        except _SUBSCRIPTION_ERRORS as e:
            self._lose_subscription(now, e)  # disconnects it
            return False
        return True

    def _loaded(self) -> dict[str, str]:
        values = self._load()
        if values is None:
            raise DenyListUnavailable("the revocation index is not marked complete")
        if len(values) > self._max_entries:
            raise DenyListUnavailable(f"{len(values)} revocations, more than REVOCATION_CACHE_ENTRIES")
        return dict(values)

    def _apply(self, response: Any, changed: set[str]) -> None:
        # A PING on a subscribed connection is answered ["pong", ""]; redis-py's parser
        # hands that over as the plain string "PONG".
        kind = response[0] if isinstance(response, list) and response else str(response).lower()
        if kind == "message":
            keys = json.loads(response[2])
            if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
                raise ValueError("an invalidation that is not a list of key names")
            changed.update(keys)
        elif kind in ("pong", "subscribe"):
            self._confirmed_at, self._ping_sent_at = self._ping_sent_at, None
        else:
            raise ValueError(f"unexpected reply on the invalidation channel: {kind!r}")

    def _reread(self, keys: set[str]) -> None:
        """Read again the keys an invalidation named: each message was published with its
        write, so what Redis holds now is at least as new as what it announced."""
        ordered = sorted(keys)
        for key, value in zip(ordered, self._read(ordered), strict=True):
            if value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = value
        if len(self._values) > self._max_entries:
            # Expired keys stay until a load leaves them out: load again.
            self._values = self._loaded()

    def _lose_subscription(self, now: float, error: Exception) -> None:
        log.warning("revocation cache: no deny-list in memory, checking Redis directly: %s", error)
        if self._connection is not None:
            self._connection.disconnect()
        self._connection = None
        delay = RELOAD_DELAY_SECONDS if isinstance(error, DenyListUnavailable) else RESUBSCRIBE_DELAY_SECONDS
        self._retry_at = now + delay
        self._ping_sent_at = self._confirmed_at = None
        self._values = {}
