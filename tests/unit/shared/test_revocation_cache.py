"""The per-process revocation cache: answers from memory, yet never misses a revocation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
import redis

from auth_service.sessions import Sessions
from secure_service import redis_client
from secure_service import revocation_cache as cache_module
from secure_service.revocation import CachedRevocationCheck, RedisRevocationCheck
from secure_service.revocation_cache import MAX_STALENESS_SECONDS, RevocationCache, subscription_connection
from tests.support import free_port, revocable_claims


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_for(
    redis_url: str, *, max_entries: int = 1000, clock: Callable[[], float] = time.monotonic
) -> RevocationCache:
    client = redis_client(redis_url)
    return RevocationCache(lambda: subscription_connection(client), max_entries=max_entries, clock=clock)


@pytest.fixture
def verifier_store(redis_url: str) -> CachedRevocationCheck:
    """What users_service or orders_service holds: a check with a cache."""
    return CachedRevocationCheck(RedisRevocationCheck(redis_client(redis_url)), cache_for(redis_url))


@pytest.fixture
def auth_store(redis_url: str) -> Sessions:
    """What auth_service writes with: another process, another client."""
    return Sessions(redis_client(redis_url), max_token_lifetime_seconds=3600)


def mget_calls(redis_conn: redis.Redis) -> int:
    return int(redis_conn.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))


def warmed(store: CachedRevocationCheck, token: dict[str, object]) -> None:
    """Check ``token`` until the answer comes from memory (the subscription confirmed)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert store.is_revoked(token) is False
        time.sleep(0.001)
        assert store._cache is not None
        values, _ = store._cache.lookup(["revoked:jti:" + str(token["jti"])])
        if values is not None:
            return
    raise AssertionError("the cache never answered")


def test_a_repeated_check_is_answered_from_memory(
    verifier_store: CachedRevocationCheck, redis_conn: redis.Redis
) -> None:
    token = revocable_claims()
    warmed(verifier_store, token)
    before = mget_calls(redis_conn)
    for _ in range(20):
        assert verifier_store.is_revoked(token) is False
    assert mget_calls(redis_conn) - before < 20


#: In production a revocation's reply travels back through auth_service to a client before
#: anyone can send the next request (logout to refusal is 1.5 ms at the median, make bench).
#: In this one process there is no such hop: Redis writes its reply to the revoking
#: connection and the invalidation to the subscription in the same pass, reply first, so a
#: check made the very microsecond the reply is read can, rarely, run before the
#: invalidation is in the socket (seen once in CI). The checks below wait a loopback hop.
REPLY_HOP_SECONDS = 0.001


def next_check(store: CachedRevocationCheck, token: dict[str, object]) -> bool:
    """The next check of ``token``, made no sooner than the revoking reply could reach a client."""
    time.sleep(REPLY_HOP_SECONDS)
    return store.is_revoked(token)


def test_logout_is_seen_by_the_very_next_check(verifier_store: CachedRevocationCheck, auth_store: Sessions) -> None:
    token = revocable_claims()
    warmed(verifier_store, token)
    auth_store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
    assert next_check(verifier_store, token) is True


def test_a_revoked_session_is_seen_by_the_very_next_check(
    verifier_store: CachedRevocationCheck, auth_store: Sessions
) -> None:
    token = revocable_claims()
    warmed(verifier_store, token)
    auth_store.revoke_session(jti=str(uuid.uuid4()), expires_at=int(time.time()) + 60, sids=[str(token["sid"])])
    assert next_check(verifier_store, token) is True


def test_logout_all_is_seen_by_the_very_next_check(verifier_store: CachedRevocationCheck, auth_store: Sessions) -> None:
    token = revocable_claims(iat=int(time.time()) - 5)
    warmed(verifier_store, token)
    auth_store.revoke_user(str(token["sub"]))
    assert next_check(verifier_store, token) is True


def test_refresh_reuse_revokes_the_session_at_once(verifier_store: CachedRevocationCheck, auth_store: Sessions) -> None:
    access = revocable_claims()
    refresh = {**revocable_claims(sub=access["sub"], sid=access["sid"])}
    auth_store.start_session({**refresh, "client_id": "web-app"}, 600)
    warmed(verifier_store, access)
    auth_store.rotate(refresh, str(uuid.uuid4()), 600)
    assert verifier_store.is_revoked(access) is False
    auth_store.rotate(refresh, str(uuid.uuid4()), 600)  # the old refresh token again: reuse
    assert next_check(verifier_store, access) is True


def test_a_lost_subscription_falls_back_to_redis(
    verifier_store: CachedRevocationCheck, auth_store: Sessions, redis_conn: redis.Redis
) -> None:
    token = revocable_claims()
    warmed(verifier_store, token)
    redis_conn.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    # Published while nobody listens: only Redis itself knows now.
    auth_store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
    assert verifier_store.is_revoked(token) is True


def test_memory_is_not_trusted_without_a_recent_confirmation(redis_url: str) -> None:
    clock = ManualClock()
    cache = cache_for(redis_url, clock=clock)
    values, generation = cache.lookup(["k"])
    cache.remember(["k"], [None], generation)
    assert cache.lookup(["k"])[0] == [None]
    clock.now += MAX_STALENESS_SECONDS * 2  # Redis has not confirmed anything since
    assert cache.lookup(["k"])[0] is None
    time.sleep(0.05)  # the PONG of the PING that lookup just sent arrives
    assert cache.lookup(["k"])[0] == [None]


def test_a_malformed_invalidation_clears_memory_instead_of_failing(redis_url: str, redis_conn: redis.Redis) -> None:
    cache = cache_for(redis_url, clock=ManualClock())
    _, generation = cache.lookup(["k"])
    cache.remember(["k"], [None], generation)
    redis_conn.publish(cache_module.INVALIDATION_CHANNEL, "5")  # not a list of key names
    time.sleep(0.05)
    assert cache.lookup(["k"])[0] is None


def test_a_subscription_that_stops_answering_is_replaced(redis_url: str) -> None:
    clock = ManualClock()
    cache = cache_for(redis_url, clock=clock)
    _, generation = cache.lookup(["k"])
    cache.remember(["k"], [None], generation)
    silent = cache._connection
    silent.can_read = lambda timeout=0: False  # the network goes quiet; nothing closes
    clock.now += MAX_STALENESS_SECONDS * 2
    assert cache.lookup(["k"])[0] is None  # not confirmed lately; a PING goes out
    clock.now += cache_module.RESUBSCRIBE_DELAY_SECONDS * 2
    assert cache.lookup(["k"])[0] is None  # no PONG for too long: that connection is dropped
    clock.now += cache_module.RESUBSCRIBE_DELAY_SECONDS * 2
    _, generation = cache.lookup(["k"])  # a new subscription
    cache.remember(["k"], [None], generation)
    assert cache.lookup(["k"])[0] == [None]
    assert cache._connection is not silent


def test_a_read_that_raced_an_invalidation_is_not_kept(redis_url: str, redis_conn: redis.Redis) -> None:
    cache = cache_for(redis_url, clock=ManualClock())  # time stands still: memory stays trusted
    _, generation = cache.lookup(["k"])
    redis_conn.publish(cache_module.INVALIDATION_CHANNEL, '["k"]')
    time.sleep(0.05)
    cache.lookup(["other"])  # the invalidation is applied
    cache.remember(["k"], [None], generation)  # the value read before it must not stay
    assert cache.lookup(["k"])[0] is None
    _, generation = cache.lookup(["k"])
    cache.remember(["k"], [None], generation)  # read after it: kept
    assert cache.lookup(["k"])[0] == [None]


def test_a_full_cache_starts_over(redis_url: str) -> None:
    cache = cache_for(redis_url, max_entries=2, clock=ManualClock())
    _, generation = cache.lookup(["a"])
    cache.remember(["a", "b"], [None, None], generation)
    assert cache.lookup(["a", "b"])[0] == [None, None]
    _, generation = cache.lookup(["c"])
    cache.remember(["c"], ["1"], generation)
    assert cache.lookup(["a"])[0] is None
    assert cache.lookup(["c"])[0] is None
    _, generation = cache.lookup(["c"])
    cache.remember(["c"], ["1"], generation)
    assert cache.lookup(["c"])[0] == ["1"]


def test_a_forked_worker_starts_with_an_empty_cache(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = cache_for(redis_url, clock=ManualClock())
    _, generation = cache.lookup(["a"])
    cache.remember(["a"], [None], generation)
    assert cache.lookup(["a"])[0] == [None]
    monkeypatch.setattr(cache_module.os, "getpid", lambda: -1)
    assert cache.lookup(["a"])[0] is None


def test_without_redis_memory_is_never_used() -> None:
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    cache = RevocationCache(lambda: subscription_connection(client), max_entries=10, clock=ManualClock())
    _, generation = cache.lookup(["a"])
    cache.remember(["a"], [None], generation)
    assert cache.lookup(["a"])[0] is None
