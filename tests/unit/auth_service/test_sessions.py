"""auth_service's writes in real Redis: logout, logout-all, refresh families and their rotation.

Each write is read back through a verifier's RedisRevocationCheck, as every service reads it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
import redis

from auth_service.sessions import Rotation, Sessions, Successor
from secure_service import RevocationUnavailable, redis_client
from secure_service.revocation import INDEX_KEY, RedisRevocationCheck
from tests.support import free_port, revocable_claims


def refresh_claims(**overrides: object) -> dict[str, object]:
    """What the sessions read of a refresh token: the revocation claims and its client."""
    return {**revocable_claims(**overrides), "client_id": "web-app"}


@pytest.fixture
def sessions(redis_url: str) -> Sessions:
    return Sessions(redis_client(redis_url), max_token_lifetime_seconds=3600)


@pytest.fixture
def check(redis_url: str) -> RedisRevocationCheck:
    return RedisRevocationCheck(redis_client(redis_url))


def test_revoked_entries_expire_by_themselves(sessions: Sessions, redis_conn: redis.Redis) -> None:
    token = revocable_claims()
    sessions.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 100, sids=[str(token["sid"])])
    assert 0 < redis_conn.ttl(f"revoked:jti:{token['jti']}") <= 160
    assert 0 < redis_conn.ttl(f"revoked:sid:{token['sid']}") <= 3600 + 30


def test_logout_all_in_the_same_second_keeps_the_next_login(sessions: Sessions, check: RedisRevocationCheck) -> None:
    sub = f"u-{uuid.uuid4()}"
    now = time.time()
    before = revocable_claims(sub=sub, iat=int(now))
    not_before = sessions.revoke_user(sub, now=now)
    assert check.is_revoked(before)
    # A login "a moment later", still within the same second, gets an iat the check accepts.
    issued_at = sessions.issued_at_for(sub, now + 0.1)
    assert issued_at == not_before
    assert not check.is_revoked(revocable_claims(sub=sub, iat=issued_at))


def test_a_service_token_without_sid_is_revoked_too(sessions: Sessions, check: RedisRevocationCheck) -> None:
    token = revocable_claims()
    del token["sid"]
    assert not check.is_revoked(token)
    sessions.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
    assert check.is_revoked(token)


def test_rotation_detects_reuse_and_kills_the_family(sessions: Sessions, check: RedisRevocationCheck) -> None:
    first = refresh_claims()
    second = {**first, "jti": str(uuid.uuid4())}
    sessions.start_session(first, 600)
    assert sessions.rotate(first, str(second["jti"]), 600)[0] is Rotation.ROTATED
    assert sessions.rotate(first, "third", 600)[0] is Rotation.REUSED
    # The legitimate holder's current token is dead too.
    assert sessions.rotate(second, "third", 600)[0] is Rotation.REVOKED
    assert check.is_revoked(revocable_claims(sid=first["sid"]))


def test_an_unknown_family_cannot_rotate(sessions: Sessions) -> None:
    assert sessions.rotate(revocable_claims(), "b", 600)[0] is Rotation.UNKNOWN


def test_rotation_refuses_a_token_issued_before_the_users_not_before(sessions: Sessions) -> None:
    token = refresh_claims()
    sessions.start_session(token, 600)
    sessions.revoke_user(str(token["sub"]), now=float(token["iat"]))  # not-before: iat + 1
    assert sessions.rotate(token, "new", 600)[0] is Rotation.REVOKED


def test_the_rotated_pair_is_never_issued_before_the_not_before_the_rotation_saw(sessions: Sessions) -> None:
    token = refresh_claims(iat=int(time.time()) + 5)
    not_before = sessions.revoke_user(str(token["sub"]))
    sessions.start_session(token, 600)
    outcome, successor = sessions.rotate(token, "new", 600, access_jti="new-access", now=not_before - 0.5)
    assert outcome is Rotation.ROTATED
    assert successor == Successor(refresh_jti="new", access_jti="new-access", issued_at=not_before)


def test_an_unreachable_redis_raises_revocation_unavailable() -> None:
    sessions = Sessions(redis_client(f"redis://127.0.0.1:{free_port()}/0"), max_token_lifetime_seconds=60)
    with pytest.raises(RevocationUnavailable):
        sessions.revoke_user("someone")
    with pytest.raises(RevocationUnavailable):
        sessions.revoke_session(jti=str(uuid.uuid4()), expires_at=int(time.time()) + 60, sids=[])
    with pytest.raises(RevocationUnavailable):
        sessions.issued_at_for("someone", time.time())
    with pytest.raises(RevocationUnavailable):
        sessions.list_sessions("someone")
    with pytest.raises(RevocationUnavailable):
        sessions.end_session("someone", str(uuid.uuid4()))


def test_reuse_near_the_end_of_a_family_keeps_the_session_revoked_for_every_token(
    sessions: Sessions, redis_conn: redis.Redis
) -> None:
    # The presented refresh token has two seconds left, but access tokens minted at the
    # last rotation live for minutes: the session revocation must outlive them all.
    first = refresh_claims()
    second = {**first, "jti": str(uuid.uuid4())}
    sessions.start_session(first, 2)
    sessions.rotate(first, str(second["jti"]), 2)
    assert sessions.rotate(first, "third", 2)[0] is Rotation.REUSED
    assert redis_conn.ttl(f"revoked:sid:{first['sid']}") >= 3600


def test_every_revocation_outlives_the_longest_token_and_the_leeway(
    sessions: Sessions, redis_conn: redis.Redis
) -> None:
    token = revocable_claims()
    sessions.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 100, sids=[str(token["sid"])])
    sessions.revoke_user(str(token["sub"]))
    assert redis_conn.ttl(f"revoked:sid:{token['sid']}") > 3600
    assert redis_conn.ttl(f"user:not-before:{token['sub']}") > 3600


def test_logout_all_twice_in_one_second_revokes_what_was_issued_between(
    sessions: Sessions, check: RedisRevocationCheck
) -> None:
    sub = f"u-{uuid.uuid4()}"
    now = time.time()
    first = sessions.revoke_user(sub, now=now)
    between = revocable_claims(sub=sub, iat=sessions.issued_at_for(sub, now))
    assert not check.is_revoked(between)
    second = sessions.revoke_user(sub, now=now)
    assert second > first
    assert check.is_revoked(between)


def test_a_clock_behind_never_lowers_a_users_not_before(sessions: Sessions) -> None:
    sub = f"u-{uuid.uuid4()}"
    now = time.time()
    ahead = sessions.revoke_user(sub, now=now)
    assert sessions.revoke_user(sub, now=now - 120) > ahead
    assert sessions.user_not_before(sub) == ahead + 1


# --- the session records and each user's index -----------------------------------------


def test_a_sessions_record_expires_with_its_family(sessions: Sessions, redis_conn: redis.Redis) -> None:
    token = refresh_claims()
    sessions.start_session(token, 600)
    family = redis_conn.ttl(f"refresh:current:{token['sid']}")
    assert 595 <= family <= 600
    assert abs(redis_conn.ttl(f"session:{token['sid']}") - family) <= 1
    assert abs(redis_conn.ttl(f"sessions:{token['sub']}") - family) <= 1


def test_a_users_index_lives_as_long_as_its_longest_session(sessions: Sessions, redis_conn: redis.Redis) -> None:
    sub = f"u-{uuid.uuid4()}"
    longer, shorter = refresh_claims(sub=sub), refresh_claims(sub=sub)
    sessions.start_session(longer, 600)
    sessions.start_session(shorter, 300)  # e.g. after REFRESH_TOKEN_TTL_SECONDS was lowered
    assert redis_conn.ttl(f"sessions:{sub}") > 590
    assert {r.sid for r in sessions.list_sessions(sub)} == {longer["sid"], shorter["sid"]}
    sessions.start_session(refresh_claims(sub=sub), 900)
    assert redis_conn.ttl(f"sessions:{sub}") > 890


def test_listing_drops_ended_sessions_from_the_index(sessions: Sessions, redis_conn: redis.Redis) -> None:
    sub = f"u-{uuid.uuid4()}"
    ended, kept = refresh_claims(sub=sub), refresh_claims(sub=sub)
    sessions.start_session(ended, 600)
    sessions.start_session(kept, 600)
    sessions.revoke_session(jti=str(ended["jti"]), expires_at=int(time.time()) + 60, sids=[str(ended["sid"])])
    assert redis_conn.exists(f"session:{ended['sid']}") == 0
    assert [r.sid for r in sessions.list_sessions(sub)] == [kept["sid"]]
    assert redis_conn.zrange(f"sessions:{sub}", 0, -1) == [kept["sid"]]


def test_only_the_owner_can_end_a_session(sessions: Sessions, check: RedisRevocationCheck) -> None:
    token = refresh_claims()
    sessions.start_session(token, 600)
    assert sessions.end_session(f"u-{uuid.uuid4()}", str(token["sid"])) is False
    assert not check.is_revoked(token)
    assert sessions.end_session(str(token["sub"]), str(token["sid"])) is True
    assert check.is_revoked(token)
    assert sessions.end_session(str(token["sub"]), str(token["sid"])) is False


def test_a_retry_within_the_grace_gets_the_same_successor_while_it_is_current(redis_url: str) -> None:
    sessions = Sessions(redis_client(redis_url), max_token_lifetime_seconds=3600, refresh_reuse_grace_seconds=30)
    first = refresh_claims()
    sessions.start_session(first, 600)
    rotated, successor = sessions.rotate(first, "second", 600, access_jti="second-access")
    assert rotated is Rotation.ROTATED and successor is not None
    assert sessions.rotate(first, "another", 600, access_jti="another-access") == (Rotation.RETRIED, successor)
    second = {**first, "jti": "second", "iat": successor.issued_at}
    assert sessions.rotate(second, "third", 600)[0] is Rotation.ROTATED
    assert sessions.rotate(first, "fourth", 600) == (Rotation.REUSED, None)


def _reused(sessions: Sessions, token: dict[str, object]) -> list[str]:
    refresh = refresh_claims(sub=token["sub"], sid=token["sid"])
    sessions.start_session(refresh, 600)
    sessions.rotate(refresh, str(uuid.uuid4()), 600)
    assert sessions.rotate(refresh, str(uuid.uuid4()), 600)[0] is Rotation.REUSED
    return [f"revoked:sid:{token['sid']}"]


def _ended(sessions: Sessions, token: dict[str, object]) -> list[str]:
    refresh = refresh_claims(sub=token["sub"], sid=token["sid"])
    sessions.start_session(refresh, 600)
    assert sessions.end_session(str(token["sub"]), str(token["sid"]))
    return [f"revoked:sid:{token['sid']}"]


def _logged_out(sessions: Sessions, token: dict[str, object]) -> list[str]:
    sessions.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[str(token["sid"])])
    return [f"revoked:jti:{token['jti']}", f"revoked:sid:{token['sid']}"]


def _logged_out_everywhere(sessions: Sessions, token: dict[str, object]) -> list[str]:
    sessions.revoke_user(str(token["sub"]))
    return [f"user:not-before:{token['sub']}"]


@pytest.mark.parametrize("write", [_logged_out, _ended, _logged_out_everywhere, _reused])
def test_every_revocation_is_in_the_index_verifiers_load_until_after_it_expires(
    sessions: Sessions, redis_conn: redis.Redis, write: Callable[[Sessions, dict[str, object]], list[str]]
) -> None:
    for key in write(sessions, revocable_claims()):
        expires_at = redis_conn.expiretime(key)
        assert expires_at > time.time()
        assert redis_conn.zscore(INDEX_KEY, key) >= expires_at
