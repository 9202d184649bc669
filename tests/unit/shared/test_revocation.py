"""What a verifier reads of revocation state, in real Redis: one key per revoked token,
session and user not-before (auth_service's writes: tests/unit/auth_service/test_sessions.py).
"""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from secure_service import RevocationUnavailable, redis_client, revocation_check
from secure_service.revocation import (
    INDEX_KEY,
    CachedRevocationCheck,
    RedisRevocationCheck,
    announce_revocations,
    jti_key,
    not_before_key,
    sid_key,
)
from secure_service.revocation_cache import INVALIDATION_CHANNEL
from tests.support import free_port, revocable_claims


@pytest.fixture
def check(redis_url: str) -> RedisRevocationCheck:
    return RedisRevocationCheck(redis_client(redis_url))


def test_a_fresh_token_is_not_revoked(check: RedisRevocationCheck) -> None:
    assert check.is_revoked(revocable_claims()) is False


def test_a_revoked_jti_revokes_that_token_only(check: RedisRevocationCheck, redis_conn: redis.Redis) -> None:
    token = revocable_claims()
    redis_conn.set(jti_key(str(token["jti"])), "1", ex=60)
    assert check.is_revoked(token)
    assert not check.is_revoked({**token, "jti": str(uuid.uuid4())})


def test_a_revoked_session_revokes_each_of_its_tokens(check: RedisRevocationCheck, redis_conn: redis.Redis) -> None:
    token = revocable_claims()
    redis_conn.set(sid_key(str(token["sid"])), "1", ex=60)
    assert check.is_revoked(token)
    assert check.is_revoked({**token, "jti": str(uuid.uuid4())})
    assert not check.is_revoked({**token, "sid": str(uuid.uuid4())})


def test_a_users_not_before_revokes_tokens_issued_before_it(
    check: RedisRevocationCheck, redis_conn: redis.Redis
) -> None:
    token = revocable_claims()
    redis_conn.set(not_before_key(str(token["sub"])), str(int(token["iat"]) + 1), ex=60)
    assert check.is_revoked(token)
    assert not check.is_revoked({**token, "iat": int(token["iat"]) + 1})


def test_a_service_token_without_sid_is_checked_too(check: RedisRevocationCheck, redis_conn: redis.Redis) -> None:
    token = revocable_claims()
    del token["sid"]
    assert not check.is_revoked(token)
    redis_conn.set(jti_key(str(token["jti"])), "1", ex=60)
    assert check.is_revoked(token)


def test_an_unreachable_redis_raises_revocation_unavailable() -> None:
    check = RedisRevocationCheck(redis_client(f"redis://127.0.0.1:{free_port()}/0"))
    with pytest.raises(RevocationUnavailable):
        check.is_revoked(revocable_claims())
    assert check.ping() is False


def test_a_verifier_caches_unless_told_not_to(redis_url: str) -> None:
    client = redis_client(redis_url)
    assert isinstance(revocation_check(client, cache_entries=0), RedisRevocationCheck)
    cached = revocation_check(client, cache_entries=10)
    assert isinstance(cached, CachedRevocationCheck)
    assert cached.ping() is True
    assert cached.is_revoked(revocable_claims()) is False


def test_a_revocation_is_indexed_and_announced_in_the_transaction_of_its_write(redis_conn: redis.Redis) -> None:
    listener = redis_conn.pubsub()
    listener.subscribe(INVALIDATION_CHANNEL)
    assert listener.get_message(timeout=1)["type"] == "subscribe"
    key = jti_key(str(uuid.uuid4()))
    with redis_conn.pipeline(transaction=True) as pipe:
        pipe.set(key, "1", ex=60)
        announce_revocations(pipe, {key: 60})
        pipe.execute()
    message = listener.get_message(timeout=1)
    assert message is not None and json.loads(message["data"]) == [key]
    # Scored after the key expires, so that a verifier's load never leaves it out.
    assert redis_conn.zscore(INDEX_KEY, key) >= redis_conn.expiretime(key)
    listener.close()
