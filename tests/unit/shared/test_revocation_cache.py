"""Each worker's deny-list: answers from memory without a round trip, yet never misses a
revocation."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import pytest
import redis

from auth_service.sessions import Sessions, index_existing_revocations
from secure_service import redis_client
from secure_service import revocation_cache as cache_module
from secure_service.revocation import (
    INDEX_COMPLETE,
    INDEX_KEY,
    CachedRevocationCheck,
    RedisRevocationCheck,
    deny_list,
    jti_key,
)
from secure_service.revocation_cache import MAX_STALENESS_SECONDS, RevocationCache, subscription_connection
from tests.support import free_port, revocable_claims


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_for(
    redis_url: str, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
) -> RevocationCache:
    client = redis_client(redis_url)
    direct = RedisRevocationCheck(client)
    return RevocationCache(
        lambda: subscription_connection(client),
        load=lambda: deny_list(client),
        read=direct.read,
        max_entries=max_entries,
        clock=clock,
    )


@pytest.fixture
def auth_store(redis_url: str) -> Sessions:
    """What auth_service writes with: another process, another client; started, as its
    create_app does, by marking the revocation index complete."""
    sessions = Sessions(redis_client(redis_url), max_token_lifetime_seconds=3600)
    sessions.mark_index_complete()
    return sessions


@pytest.fixture
def verifier_store(redis_url: str, auth_store: Sessions) -> CachedRevocationCheck:
    """What users_service or orders_service holds: a check with a deny-list."""
    return CachedRevocationCheck(RedisRevocationCheck(redis_client(redis_url)), cache_for(redis_url))


def mget_calls(redis_conn: redis.Redis) -> int:
    return int(redis_conn.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))


def warmed(store: CachedRevocationCheck) -> None:
    """Check until the answer comes from memory (the subscription confirmed, the list loaded)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert store.is_revoked(revocable_claims()) is False
        time.sleep(0.001)
        assert store._cache is not None
        if store._cache.lookup(["any"]) is not None:
            return
    raise AssertionError("the deny-list never answered")


def test_new_tokens_are_answered_from_memory_without_a_round_trip(
    verifier_store: CachedRevocationCheck, redis_conn: redis.Redis
) -> None:
    warmed(verifier_store)
    before = mget_calls(redis_conn)
    for _ in range(20):
        assert verifier_store.is_revoked(revocable_claims()) is False  # a token never seen before
    # At most a PING's worth of misses: a stale moment asks Redis, never a new token as such.
    assert mget_calls(redis_conn) - before < 5


def test_what_was_revoked_before_a_worker_started_is_in_its_deny_list(
    redis_url: str, auth_store: Sessions, redis_conn: redis.Redis
) -> None:
    token, session, user = revocable_claims(), revocable_claims(), revocable_claims(iat=int(time.time()) - 5)
    auth_store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
    auth_store.revoke_session(jti=str(uuid.uuid4()), expires_at=int(time.time()) + 60, sids=[str(session["sid"])])
    auth_store.revoke_user(str(user["sub"]))
    store = CachedRevocationCheck(RedisRevocationCheck(redis_client(redis_url)), cache_for(redis_url))
    warmed(store)
    before = mget_calls(redis_conn)
    assert [store.is_revoked(token), store.is_revoked(session), store.is_revoked(user)] == [True, True, True]
    assert store.is_revoked({**user, "iat": int(time.time()) + 5}) is False  # issued after the not-before
    assert mget_calls(redis_conn) - before < 4  # from memory


def test_without_a_complete_index_every_check_asks_redis(redis_url: str, redis_conn: redis.Redis) -> None:
    # A revocation written by an auth_service that kept no index: only a scan would find it.
    token = revocable_claims()
    redis_conn.set(jti_key(str(token["jti"])), "1", ex=60)
    redis_conn.zrem(INDEX_KEY, INDEX_COMPLETE)
    try:
        store = CachedRevocationCheck(RedisRevocationCheck(redis_client(redis_url)), cache_for(redis_url))
        for _ in range(5):
            assert store.is_revoked(token) is True
            time.sleep(0.002)
        assert store._cache is not None and store._cache.lookup(["any"]) is None
    finally:
        index_existing_revocations(redis_client(redis_url))  # the upgrade step: the key is indexed


def test_the_upgrade_step_indexes_revocations_written_without_an_index(redis_url: str, redis_conn: redis.Redis) -> None:
    token = revocable_claims()
    redis_conn.set(jti_key(str(token["jti"])), "1", ex=60)  # as an auth_service that kept no index
    assert redis_conn.zscore(INDEX_KEY, jti_key(str(token["jti"]))) is None
    redis_conn.zrem(INDEX_KEY, INDEX_COMPLETE)
    env = {**os.environ, "REDIS_URL": redis_url}  # the operator's URL (the test Redis has no ACL)
    run = subprocess.run(
        [sys.executable, "-m", "auth_service.revocation_index"], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "the index is marked complete" in run.stdout
    score = redis_conn.zscore(INDEX_KEY, jti_key(str(token["jti"])))
    assert score is not None and score >= redis_conn.expiretime(jti_key(str(token["jti"])))
    store = CachedRevocationCheck(RedisRevocationCheck(redis_client(redis_url)), cache_for(redis_url))
    warmed(store)
    before = mget_calls(redis_conn)
    assert store.is_revoked(token) is True
    assert mget_calls(redis_conn) == before


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


def _logout_all(store: Sessions) -> None:
    store.revoke_user(f"u-{uuid.uuid4()}")


def _refresh_reuse(store: Sessions) -> None:
    refresh = {**revocable_claims(), "client_id": "web-app"}
    store.start_session(refresh, 600)
    store.rotate(refresh, str(uuid.uuid4()), 600)
    store.rotate(refresh, str(uuid.uuid4()), 600)  # the old one again: the session is revoked


def _logout(store: Sessions) -> None:
    store.revoke_session(jti=str(uuid.uuid4()), expires_at=int(time.time()) + 60, sids=[str(uuid.uuid4())])


@pytest.mark.parametrize("write", [_logout, _logout_all, _refresh_reuse])
def test_the_invalidation_reaches_every_subscriber_before_the_revoking_reply(
    redis_url: str, auth_store: Sessions, write: Callable[[Sessions], None]
) -> None:
    # What "from that moment" rests on: whoever gets the reply, every verifier already
    # has the message in its socket. Repeated, because the opposite order shows only when
    # Redis is preempted between its two writes (a few calls in a hundred on a busy box).
    subscriber = subscription_connection(redis_client(redis_url))
    subscriber.connect()
    subscriber.send_command("SUBSCRIBE", cache_module.INVALIDATION_CHANNEL)
    subscriber.read_response(push_request=True)
    late = 0
    for _ in range(1000):
        write(auth_store)
        if not subscriber.can_read(timeout=0):
            late += 1
            assert subscriber.can_read(timeout=1)
        while subscriber.can_read(timeout=0):
            subscriber.read_response(push_request=True)
    subscriber.disconnect()
    assert late == 0


def test_logout_is_seen_by_the_very_next_check(verifier_store: CachedRevocationCheck, auth_store: Sessions) -> None:
    token = revocable_claims()
    warmed(verifier_store)
    auth_store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
    assert next_check(verifier_store, token) is True


def test_a_revoked_session_is_seen_by_the_very_next_check(
    verifier_store: CachedRevocationCheck, auth_store: Sessions
) -> None:
    token = revocable_claims()
    warmed(verifier_store)
    auth_store.revoke_session(jti=str(uuid.uuid4()), expires_at=int(time.time()) + 60, sids=[str(token["sid"])])
    assert next_check(verifier_store, token) is True


def test_logout_all_is_seen_by_the_very_next_check(verifier_store: CachedRevocationCheck, auth_store: Sessions) -> None:
    token = revocable_claims(iat=int(time.time()) - 5)
    warmed(verifier_store)
    auth_store.revoke_user(str(token["sub"]))
    assert next_check(verifier_store, token) is True


def test_refresh_reuse_revokes_the_session_at_once(verifier_store: CachedRevocationCheck, auth_store: Sessions) -> None:
    access = revocable_claims()
    refresh = {**revocable_claims(sub=access["sub"], sid=access["sid"])}
    auth_store.start_session({**refresh, "client_id": "web-app"}, 600)
    warmed(verifier_store)
    auth_store.rotate(refresh, str(uuid.uuid4()), 600)
    assert verifier_store.is_revoked(access) is False
    auth_store.rotate(refresh, str(uuid.uuid4()), 600)  # the old refresh token again: reuse
    assert next_check(verifier_store, access) is True


def test_a_lost_subscription_falls_back_to_redis(
    verifier_store: CachedRevocationCheck, auth_store: Sessions, redis_conn: redis.Redis
) -> None:
    token = revocable_claims()
    warmed(verifier_store)
    redis_conn.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    # Published while nobody listens: only Redis itself knows now.
    auth_store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
    assert verifier_store.is_revoked(token) is True


def test_memory_is_not_trusted_without_a_recent_confirmation(redis_url: str, auth_store: Sessions) -> None:
    clock = ManualClock()
    cache = cache_for(redis_url, clock=clock)
    assert cache.lookup(["k"]) == [None]
    clock.now += MAX_STALENESS_SECONDS * 2  # Redis has not confirmed anything since
    assert cache.lookup(["k"]) is None
    time.sleep(0.05)  # the PONG of the PING that lookup just sent arrives
    assert cache.lookup(["k"]) == [None]


def test_a_malformed_invalidation_clears_memory_instead_of_failing(
    redis_url: str, redis_conn: redis.Redis, auth_store: Sessions
) -> None:
    cache = cache_for(redis_url, clock=ManualClock())
    assert cache.lookup(["k"]) == [None]
    redis_conn.publish(cache_module.INVALIDATION_CHANNEL, "5")  # not a list of key names
    time.sleep(0.05)
    assert cache.lookup(["k"]) is None


def test_a_subscription_that_stops_answering_is_replaced(redis_url: str, auth_store: Sessions) -> None:
    clock = ManualClock()
    cache = cache_for(redis_url, clock=clock)
    assert cache.lookup(["k"]) == [None]
    silent = cache._connection
    silent.can_read = lambda timeout=0: False  # the network goes quiet; nothing closes
    clock.now += MAX_STALENESS_SECONDS * 2
    assert cache.lookup(["k"]) is None  # not confirmed lately; a PING goes out
    clock.now += cache_module.RESUBSCRIBE_DELAY_SECONDS * 2
    assert cache.lookup(["k"]) is None  # no PONG for too long: that connection is dropped
    clock.now += cache_module.RESUBSCRIBE_DELAY_SECONDS * 2
    assert cache.lookup(["k"]) == [None]  # a new subscription, a new load
    assert cache._connection is not silent


def test_an_invalidation_is_applied_from_what_redis_holds_after_it(
    redis_url: str, redis_conn: redis.Redis, auth_store: Sessions
) -> None:
    cache = cache_for(redis_url, clock=ManualClock())  # time stands still: memory stays trusted
    key = jti_key(str(uuid.uuid4()))
    assert cache.lookup([key]) == [None]
    redis_conn.set(key, "1", ex=60)  # written, not yet announced: memory does not know
    assert cache.lookup([key]) == [None]
    redis_conn.publish(cache_module.INVALIDATION_CHANNEL, f'["{key}"]')
    time.sleep(0.05)
    assert cache.lookup([key]) == ["1"]
    redis_conn.delete(key)  # as if it expired and someone said so
    redis_conn.publish(cache_module.INVALIDATION_CHANNEL, f'["{key}"]')
    time.sleep(0.05)
    assert cache.lookup([key]) == [None]


def test_a_deny_list_too_large_for_memory_is_not_held(
    redis_url: str, auth_store: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    present = len(deny_list(redis_client(redis_url)) or {})
    auth_store.revoke_session(jti=str(uuid.uuid4()), expires_at=int(time.time()) + 60, sids=[])
    cache = cache_for(redis_url, max_entries=present, clock=ManualClock())
    assert cache.lookup(["k"]) is None
    assert "more than REVOCATION_CACHE_ENTRIES" in caplog.text


def test_a_deny_list_that_outgrows_memory_is_loaded_again_without_what_expired(
    redis_url: str, redis_conn: redis.Redis, auth_store: Sessions
) -> None:
    present = len(deny_list(redis_client(redis_url)) or {})
    cache = cache_for(redis_url, max_entries=present + 1, clock=ManualClock())
    assert cache.lookup(["k"]) == [None]
    expiring = jti_key(str(uuid.uuid4()))
    auth_store.revoke_session(jti=expiring.removeprefix("revoked:jti:"), expires_at=int(time.time()) + 60, sids=[])
    time.sleep(0.05)
    assert cache.lookup([expiring]) == ["1"]  # now full
    redis_conn.delete(expiring)  # it expires: nobody says so
    kept = revocable_claims()
    auth_store.revoke_session(jti=str(kept["jti"]), expires_at=int(time.time()) + 60, sids=[])
    time.sleep(0.05)
    # One over the bound: the list is loaded again, and what expired is not in it.
    assert cache.lookup([expiring, jti_key(str(kept["jti"]))]) == [None, "1"]


def test_a_forked_worker_starts_with_no_deny_list(
    redis_url: str, auth_store: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = cache_for(redis_url, clock=ManualClock())
    assert cache.lookup(["a"]) == [None]
    old_connection = cache._connection
    monkeypatch.setattr(cache_module.os, "getpid", lambda: -1)
    assert cache.lookup(["a"]) == [None]  # subscribed and loaded again, in the child
    assert cache._connection is not old_connection


def test_without_redis_memory_is_never_used() -> None:
    client = redis_client(f"redis://127.0.0.1:{free_port()}/0")
    cache = RevocationCache(
        lambda: subscription_connection(client),
        load=lambda: {},
        read=RedisRevocationCheck(client).read,
        max_entries=10,
        clock=ManualClock(),
    )
    assert cache.lookup(["a"]) is None
