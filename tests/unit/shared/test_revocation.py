"""Revocation state in real Redis: deny-list, sessions, user not-before, refresh families."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from secure_service import RevocationStore, RevocationUnavailable, Rotation, redis_client
from tests.support import free_port


@pytest.fixture
def store(redis_url: str) -> RevocationStore:
    return RevocationStore(redis_client(redis_url), max_token_lifetime_seconds=3600)


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"jti": str(uuid.uuid4()), "sub": f"u-{uuid.uuid4()}", "sid": str(uuid.uuid4()), "iat": now, **overrides}


def test_a_fresh_token_is_not_revoked(store: RevocationStore) -> None:
    assert store.is_revoked(claims()) is False


def test_revoked_entries_expire_by_themselves(store: RevocationStore, redis_conn: redis.Redis) -> None:
    token = claims()
    store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 100, sids=[str(token["sid"])])
    assert 0 < redis_conn.ttl(f"revoked:jti:{token['jti']}") <= 160
    assert 0 < redis_conn.ttl(f"revoked:sid:{token['sid']}") <= 3600 + 30


def test_logout_all_in_the_same_second_keeps_the_next_login(store: RevocationStore) -> None:
    sub = f"u-{uuid.uuid4()}"
    now = time.time()
    before = claims(sub=sub, iat=int(now))
    not_before = store.revoke_user(sub, now=now)
    assert store.is_revoked(before)
    # A login "a moment later", still within the same second, gets an iat the check accepts.
    issued_at = store.issued_at_for(sub, now + 0.1)
    assert issued_at == not_before
    assert not store.is_revoked(claims(sub=sub, iat=issued_at))


def test_a_service_token_without_sid_is_checked_too(store: RevocationStore) -> None:
    token = claims()
    del token["sid"]
    assert not store.is_revoked(token)
    store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
    assert store.is_revoked(token)


def test_rotation_detects_reuse_and_kills_the_family(store: RevocationStore) -> None:
    first = claims()
    second = {**first, "jti": str(uuid.uuid4())}
    store.start_family(str(first["sid"]), str(first["jti"]), 600)
    assert store.rotate(first, str(second["jti"]), 600) == (Rotation.ROTATED, None)
    assert store.rotate(first, "third", 600)[0] is Rotation.REUSED
    # The legitimate holder's current token is dead too.
    assert store.rotate(second, "third", 600)[0] is Rotation.REVOKED
    assert store.is_revoked(claims(sid=first["sid"]))


def test_an_unknown_family_cannot_rotate(store: RevocationStore) -> None:
    assert store.rotate(claims(), "b", 600)[0] is Rotation.UNKNOWN


def test_rotation_refuses_a_token_issued_before_the_users_not_before(store: RevocationStore) -> None:
    token = claims()
    store.start_family(str(token["sid"]), str(token["jti"]), 600)
    store.revoke_user(str(token["sub"]), now=float(token["iat"]))  # not-before: iat + 1
    assert store.rotate(token, "new", 600)[0] is Rotation.REVOKED


def test_rotation_reports_the_not_before_it_saw(store: RevocationStore) -> None:
    token = claims(iat=int(time.time()) + 5)
    not_before = store.revoke_user(str(token["sub"]))
    store.start_family(str(token["sid"]), str(token["jti"]), 600)
    assert store.rotate(token, "new", 600) == (Rotation.ROTATED, not_before)


def test_an_unreachable_redis_raises_revocation_unavailable() -> None:
    store = RevocationStore(redis_client(f"redis://127.0.0.1:{free_port()}/0"), max_token_lifetime_seconds=60)
    with pytest.raises(RevocationUnavailable):
        store.is_revoked(claims())
    with pytest.raises(RevocationUnavailable):
        store.revoke_user("someone")
    assert store.ping() is False


def test_reuse_near_the_end_of_a_family_keeps_the_session_revoked_for_every_token(
    store: RevocationStore, redis_conn: redis.Redis
) -> None:
    # The presented refresh token has two seconds left, but access tokens minted at the
    # last rotation live for minutes: the session revocation must outlive them all.
    first = claims()
    second = {**first, "jti": str(uuid.uuid4())}
    store.start_family(str(first["sid"]), str(first["jti"]), 2)
    store.rotate(first, str(second["jti"]), 2)
    assert store.rotate(first, "third", 2)[0] is Rotation.REUSED
    assert redis_conn.ttl(f"revoked:sid:{first['sid']}") >= 3600


def test_every_revocation_outlives_the_longest_token_and_the_leeway(
    store: RevocationStore, redis_conn: redis.Redis
) -> None:
    token = claims()
    store.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 100, sids=[str(token["sid"])])
    store.revoke_user(str(token["sub"]))
    assert redis_conn.ttl(f"revoked:sid:{token['sid']}") > 3600
    assert redis_conn.ttl(f"user:not-before:{token['sub']}") > 3600


def test_logout_all_twice_in_one_second_revokes_what_was_issued_between(store: RevocationStore) -> None:
    sub = f"u-{uuid.uuid4()}"
    now = time.time()
    first = store.revoke_user(sub, now=now)
    between = claims(sub=sub, iat=store.issued_at_for(sub, now))
    assert not store.is_revoked(between)
    second = store.revoke_user(sub, now=now)
    assert second > first
    assert store.is_revoked(between)


def test_a_clock_behind_never_lowers_a_users_not_before(store: RevocationStore) -> None:
    sub = f"u-{uuid.uuid4()}"
    now = time.time()
    ahead = store.revoke_user(sub, now=now)
    assert store.revoke_user(sub, now=now - 120) > ahead
    assert store.user_not_before(sub) == ahead + 1
