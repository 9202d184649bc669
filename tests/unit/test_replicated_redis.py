"""Redis with Sentinel, as compose.scale.yml runs it: real processes started by the stack's
own scripts (deploy/redis/redis-server.sh, redis-sentinel.sh), a primary that is killed.

What is proved here: services reach the primary through the sentinels and follow a failover
without a restart; a revocation is answered only once a replica holds it, so a failover
forgets none; while no primary answers, a verifier's check fails closed, never "not revoked".
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from auth_service.sessions import ReplicaAcknowledgement, RevocationNotReplicated, Sessions
from secure_service import RevocationUnavailable, redis_client, revocation_check
from secure_service.revocation import INDEX_COMPLETE, INDEX_KEY, SentinelAddress, jti_key
from secure_service.settings import SettingsError, Source
from tests.support import ReplicatedRedis, replicated_redis, revocable_claims


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ReplicatedRedis]:
    with replicated_redis(tmp_path) as started:
        yield started


def sessions_on(cluster: ReplicatedRedis, *, replicas: int = 1) -> Sessions:
    url = cluster.url("auth_service")
    acknowledgement = ReplicaAcknowledgement(url, replicas=replicas, timeout_ms=300) if replicas else None
    return Sessions(redis_client(url), max_token_lifetime_seconds=3600, acknowledgement=acknowledgement)


def revoke(sessions: Sessions) -> str:
    """Revoke a fresh token; its jti."""
    token = revocable_claims()
    sessions.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 600, sids=[])
    return str(token["jti"])


@contextmanager
def cut_off(cluster: ReplicatedRedis, replica: int) -> Iterator[None]:
    """The replica behind a partition: paused (SIGSTOP), and its link dropped by the primary,
    so nothing written meanwhile reaches it, even from a socket buffer."""
    os.kill(cluster.processes[replica].pid, signal.SIGSTOP)
    try:
        cluster.node(cluster.primary_port()).client_kill_filter(_type="replica")
        yield
    finally:
        os.kill(cluster.processes[replica].pid, signal.SIGCONT)


def replica_port(cluster: ReplicatedRedis) -> int:
    return next(port for port in cluster.node_ports if port != cluster.primary_port())


def test_a_service_follows_a_failover_without_a_restart(cluster: ReplicatedRedis) -> None:
    client = redis_client(cluster.url("auth_service"))
    client.set(jti_key("before"), "1")
    assert client.wait(1, 1000) == 1
    first_primary = cluster.kill_primary()
    cluster.wait_until(lambda: cluster.primary_port() != first_primary, "the sentinels never promoted the replica")

    def reads_and_writes() -> bool:
        try:
            return client.get(jti_key("before")) == "1" and bool(client.set(jti_key("after"), "1"))
        except redis.RedisError:
            return False

    # The same client object: its pool asks the sentinels again once the old primary is gone.
    cluster.wait_until(reads_and_writes, "the client never reached the new primary")


def test_a_node_restarted_after_a_failover_comes_back_as_the_new_primarys_replica(cluster: ReplicatedRedis) -> None:
    first_primary = cluster.kill_primary()
    cluster.wait_until(lambda: cluster.primary_port() != first_primary, "the sentinels never promoted the replica")
    cluster.start_node(first_primary)  # with no --replicaof: its first role was the primary
    # It asked the sentinels before starting, so it is a replica from its first moment, not
    # a second primary waiting for the sentinels to demote it.
    assert cluster.role(first_primary) == "slave"
    cluster.wait_until(lambda: cluster.replicas_in_sync() == 1, "the old primary never caught up")


def test_a_revocation_is_answered_only_once_a_replica_holds_it(cluster: ReplicatedRedis) -> None:
    sessions = sessions_on(cluster)
    jti = revoke(sessions)
    assert cluster.node(replica_port(cluster)).get(jti_key(jti)) == b"1"

    with cut_off(cluster, replica_port(cluster)), pytest.raises(RevocationNotReplicated) as refused:
        revoke(sessions)
    assert refused.value.status_code == 503  # answered as RevocationUnavailable: retry later
    cluster.wait_until(lambda: cluster.replicas_in_sync() == 1, "the replica never came back")
    revoke(sessions)  # acknowledged again once the replica is back


def test_no_acknowledged_revocation_is_forgotten_by_a_failover(cluster: ReplicatedRedis) -> None:
    # The loss WAIT prevents: the replica falls behind (paused), the primary acknowledges
    # a revocation, and the primary dies before the replica has it.
    sessions = sessions_on(cluster)
    acknowledged, refused = [revoke(sessions)], 0
    replica = replica_port(cluster)
    with cut_off(cluster, replica):
        for _ in range(3):
            try:
                acknowledged.append(revoke(sessions))
            except RevocationNotReplicated:
                refused += 1
        first_primary = cluster.kill_primary()
    cluster.wait_until(lambda: cluster.primary_port() == replica, "the sentinels never promoted the replica")
    assert first_primary != replica
    new_primary = cluster.node(replica)
    forgotten = [jti for jti in acknowledged if new_primary.get(jti_key(jti)) is None]
    assert forgotten == []
    assert refused == 3


def test_without_acknowledgement_a_failover_forgets_a_revocation(cluster: ReplicatedRedis) -> None:
    # The same sequence with REVOCATION_MIN_REPLICAS=0: why the setting exists.
    sessions = sessions_on(cluster, replicas=0)
    replica = replica_port(cluster)
    with cut_off(cluster, replica):
        jti = revoke(sessions)  # answered at once, from the primary alone
        cluster.kill_primary()
    cluster.wait_until(lambda: cluster.primary_port() == replica, "the sentinels never promoted the replica")
    assert cluster.node(replica).get(jti_key(jti)) is None


def test_while_no_primary_answers_a_revoked_token_is_never_accepted(cluster: ReplicatedRedis) -> None:
    sessions = sessions_on(cluster)
    sessions.mark_index_complete()
    token = revocable_claims()
    sessions.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 600, sids=[])
    # As users_service checks: its own account, through the sentinels, with the deny-list cache.
    check = revocation_check(redis_client(cluster.url("users_service")), cache_entries=1000)
    assert check.is_revoked(token)
    first_primary = cluster.kill_primary()
    answers = {"revoked": 0, "unavailable": 0, "accepted": 0}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            answers["revoked" if check.is_revoked(token) else "accepted"] += 1
        except RevocationUnavailable:
            answers["unavailable"] += 1
        if cluster.primary_port() != first_primary and answers["revoked"] > 50:
            break
        time.sleep(0.01)
    assert answers["accepted"] == 0, answers
    assert answers["revoked"] > 50, answers  # and the check recovered on the new primary
    assert not check.is_revoked(revocable_claims())


def test_the_sentinels_tell_a_service_where_the_primary_is_and_nothing_more(cluster: ReplicatedRedis) -> None:
    password = cluster.passwords["REDIS_USERS_SERVICE_PASSWORD"]
    sentinel = redis.Redis(port=cluster.sentinel_ports[0], username="users_service", password=password)
    assert int(sentinel.sentinel_get_master_addr_by_name("jwt-stack")[1]) == cluster.primary_port()
    for command in (
        ("SENTINEL", "FAILOVER", "jwt-stack"),
        ("SENTINEL", "SET", "jwt-stack", "quorum", "1"),
        ("SENTINEL", "MONITOR", "elsewhere", "127.0.0.1", "1", "1"),
        ("SENTINEL", "REMOVE", "jwt-stack"),
        ("SENTINEL", "CONFIG", "GET", "*"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            sentinel.execute_command(*command)


def test_the_replication_and_sentinel_accounts_read_no_key(cluster: ReplicatedRedis) -> None:
    node = cluster.primary_port()
    for user, variable in (("replication", "REDIS_REPLICATION_PASSWORD"), ("sentinel", "REDIS_SENTINEL_PASSWORD")):
        account = redis.Redis(port=node, username=user, password=cluster.passwords[variable])
        with pytest.raises(redis.exceptions.NoPermissionError):
            account.get(INDEX_KEY)
        with pytest.raises(redis.exceptions.NoPermissionError):
            account.zadd(INDEX_KEY, {INDEX_COMPLETE: 1})


def test_a_sentinel_url_names_its_sentinels_and_primary() -> None:
    address = SentinelAddress.parse("redis+sentinel://users_service:s3cret@s1:26379,s2:26380/jwt-stack")
    assert address == SentinelAddress((("s1", 26379), ("s2", 26380)), "jwt-stack", "users_service", "s3cret")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/0",
        "redis+sentinel://s1/jwt-stack",  # no port
        "redis+sentinel://s1:26379",  # no primary
        "redis+sentinel://s1:26379/jwt-stack/0",
        f"redis+sentinel://s1:26379,/{uuid.uuid4()}",
    ],
)
def test_a_redis_url_of_no_usable_form_is_refused_at_start_up(url: str) -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        Source({"REDIS_URL": url}).redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")
