"""A per-process memory of revocation keys, kept exact by Redis invalidation messages.

Every write to a revocation key (auth_service/sessions.py, with the key names of
revocation.py) publishes the key names on :data:`INVALIDATION_CHANNEL` in the same
transaction or script. Each worker process keeps
one connection subscribed to that channel and, before it answers from memory, reads
whatever Redis has sent on it and forgets those keys.

Why a revocation is never missed (the consistency argument, docs/performance.md):

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
* A subscription error of any kind, a fork, or a full memory clears everything and goes
  back to direct checks until a new subscription is confirmed.
* A result read from Redis is remembered only if no invalidation arrived while it was
  being read (a generation counter), so a revocation racing a read is never overwritten.

Removals are safe without messages: a revocation key disappears from Redis only by
expiring once the tokens it concerns have expired, so remembering it longer refuses
nothing that would otherwise be accepted.

redis-py's own client-side caching needs Redis 7.4; Debian's redis-server is 7.0, so the
tracking is done here on a plain pub/sub connection.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

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

Value = str | None
#: Anything that puts the subscription in doubt, a malformed message included (anyone who
#: can publish on the channel could send one): memory is cleared and Redis asked directly.
_SUBSCRIPTION_ERRORS = (redis.RedisError, OSError, ValueError, TypeError)


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
    """Revocation key values by key name, trusted only while the subscription is confirmed."""

    def __init__(
        self,
        connect: Callable[[], Connection],
        *,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._connect = connect
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, Value] = {}
        self._generation = 0
        self._connection: Connection | None = None
        self._pid: int | None = None
        self._retry_at = 0.0
        self._ping_sent_at: float | None = None  # outstanding PING, if any
        self._confirmed_at: float | None = None  # when the last answered PING was sent

    def lookup(self, keys: Sequence[str]) -> tuple[list[Value] | None, int]:
        """The remembered values of ``keys`` (None if any is unknown or memory is not
        trusted now) and the generation to hand back to :meth:`remember`."""
        with self._lock:
            if not self._synchronised():
                return None, self._generation
            try:
                return [self._values[key] for key in keys], self._generation
            except KeyError:
                return None, self._generation

    def remember(self, keys: Sequence[str], values: Sequence[Value], generation: int) -> None:
        """Keep values just read from Redis, unless an invalidation arrived meanwhile."""
        with self._lock:
            if generation != self._generation or self._connection is None:
                return
            if len(self._values) + len(keys) > self._max_entries:
                self._forget_all()
                return
            self._values.update(zip(keys, values, strict=True))

    # --- the subscription (called with the lock held) -----------------------------------

    def _synchronised(self) -> bool:
        """Apply what Redis has sent; True if memory may answer for this instant."""
        if self._pid != os.getpid():
            # A forked child must not read its parent's socket: start over.
            self._connection, self._pid = None, os.getpid()
            self._forget_all()
        now = self._clock()
        if self._connection is None and not self._subscribe(now):
            return False
        assert self._connection is not None
        try:
            while self._connection.can_read(timeout=0):
                self._apply(self._connection.read_response(push_request=True))
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
        if now < self._retry_at:
            return False
        self._connection = self._connect()
        try:
            self._connection.connect()
            self._connection.send_command("SUBSCRIBE", INVALIDATION_CHANNEL)
            self._ping_sent_at = now  # the confirmation answers like a PONG
            self._apply(self._connection.read_response(push_request=True))
        except _SUBSCRIPTION_ERRORS as e:
            self._lose_subscription(now, e)  # disconnects it
            return False
        return self._confirmed_at is not None

    def _apply(self, response: Any) -> None:
        # A PING on a subscribed connection is answered ["pong", ""]; redis-py's parser
        # hands that over as the plain string "PONG".
        kind = response[0] if isinstance(response, list) and response else str(response).lower()
        if kind == "message":
            for key in json.loads(response[2]):
                self._values.pop(key, None)
            self._generation += 1
        elif kind in ("pong", "subscribe"):
            self._confirmed_at, self._ping_sent_at = self._ping_sent_at, None
        else:
            raise ValueError(f"unexpected reply on the invalidation channel: {kind!r}")

    def _lose_subscription(self, now: float, error: Exception) -> None:
        log.warning("revocation cache: no subscription, checking Redis directly: %s", error)
        if self._connection is not None:
            self._connection.disconnect()
        self._connection = None
        self._retry_at = now + RESUBSCRIBE_DELAY_SECONDS
        self._ping_sent_at = self._confirmed_at = None
        self._forget_all()

    def _forget_all(self) -> None:
        self._values.clear()
        self._generation += 1
