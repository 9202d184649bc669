"""deploy/redis/redis-server.sh: each service's own Redis code works as its ACL user, and no more.

A real redis-server started by the script (as compose and make dev start it), driven by
auth_service's Sessions, the shared package's revocation check and the services' rate
limiter, the way the services drive them. tests/e2e/test_least_privilege.py checks the same rules on the running stack.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask

from auth_service.sessions import Rotation, Sessions
from secure_service import RevocationCheck, RevocationUnavailable, redis_client, revocation_check
from secure_service.rate_limits import init_rate_limiter
from secure_service.revocation_cache import INVALIDATION_CHANNEL
from tests.support import free_port, revocable_claims, wait_for_redis
from web_service.browser_sessions import BrowserSessions, Tokens

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {
    "default": "REDIS_PASSWORD",
    "auth_service": "REDIS_AUTH_SERVICE_PASSWORD",
    "users_service": "REDIS_USERS_SERVICE_PASSWORD",
    "orders_service": "REDIS_ORDERS_SERVICE_PASSWORD",
    "web_service": "REDIS_WEB_SERVICE_PASSWORD",
}
RESOURCE_SERVICES = ("users_service", "orders_service")
#: Redis URL of one ACL user.
UrlFor = Callable[[str], str]


def start(env: dict[str, str], directory: Path, port: int) -> subprocess.Popen[bytes]:
    argv = ["sh", str(ROOT / "deploy/redis/redis-server.sh"), "--bind", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        [*argv, "--dir", str(directory)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(scope="module")
def url_for(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UrlFor]:
    passwords = {user: secrets.token_urlsafe(18) for user in PASSWORDS}
    port = free_port()
    process = start({PASSWORDS[user]: value for user, value in passwords.items()}, tmp_path_factory.mktemp("acl"), port)
    try:
        wait_for_redis(port, b"-NOAUTH", process)
        yield lambda user: f"redis://{user}:{passwords[user]}@127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def check_for(url: str) -> RevocationCheck:
    return revocation_check(redis_client(url), cache_entries=1000)


def sessions_for(url: str) -> Sessions:
    return Sessions(redis_client(url), max_token_lifetime_seconds=3600, refresh_reuse_grace_seconds=30)


def refresh_claims(**overrides: object) -> dict[str, object]:
    return {**revocable_claims(**overrides), "client_id": "web-app"}


def test_auth_service_does_everything_revocation_asks_of_it(url_for: UrlFor, caplog: pytest.LogCaptureFixture) -> None:
    # One client for both, as in auth_service's create_app.
    client = redis_client(url_for("auth_service"))
    check = revocation_check(client, cache_entries=1000)
    # With a reuse grace, so that the rotation script's every branch runs.
    sessions = Sessions(client, max_token_lifetime_seconds=3600, refresh_reuse_grace_seconds=30)
    first = refresh_claims()
    second = {**first, "jti": str(uuid.uuid4())}
    with caplog.at_level(logging.WARNING, logger="secure_service.revocation_cache"):
        assert check.ping()
        sessions.mark_index_complete()  # what its start-up does
        sessions.start_session(first, 600)
        sessions.start_session(refresh_claims(sub=first["sub"]), 300)  # the index's expiry moves
        rotated, successor = sessions.rotate(first, str(second["jti"]), 600)
        assert rotated is Rotation.ROTATED
        assert sessions.rotate(first, str(uuid.uuid4()), 600) == (Rotation.RETRIED, successor)
        assert len(sessions.list_sessions(str(first["sub"]))) == 2
        assert sessions.rotate({**second, "jti": "not-the-current-one"}, str(uuid.uuid4()), 600)[0] is Rotation.REUSED
        assert check.is_revoked(second)
        assert len(sessions.list_sessions(str(first["sub"]))) == 1  # and the index pruned
        (remaining,) = sessions.list_sessions(str(first["sub"]))
        assert sessions.end_session(str(first["sub"]), remaining.sid)
        assert check.is_revoked({**first, "sid": remaining.sid})
        other = revocable_claims()
        sessions.revoke_session(jti=str(other["jti"]), expires_at=int(time.time()) + 60, sids=[str(other["sid"])])
        assert check.is_revoked(other)
        user = revocable_claims()
        not_before = sessions.revoke_user(str(user["sub"]))
        assert sessions.user_not_before(str(user["sub"])) == not_before
        assert check.is_revoked(user)
    assert caplog.records == []  # its revocation cache subscribed and loaded the deny-list too


@pytest.mark.parametrize("service", RESOURCE_SERVICES)
def test_a_resource_service_verifies_with_its_cache_and_cannot_revoke(
    url_for: UrlFor, service: str, caplog: pytest.LogCaptureFixture
) -> None:
    issuer, verifier = sessions_for(url_for("auth_service")), check_for(url_for(service))
    token = revocable_claims()
    issuer.mark_index_complete()
    with caplog.at_level(logging.WARNING, logger="secure_service.revocation_cache"):
        assert verifier.ping()
        assert not verifier.is_revoked(token)
        issuer.revoke_session(jti=str(token["jti"]), expires_at=int(time.time()) + 60, sids=[])
        assert verifier.is_revoked(token)
    # The cache subscribed and loaded the deny-list: a refused SUBSCRIBE, PING or ZRANGE
    # would have been logged here.
    assert caplog.records == []
    # auth_service's own writes, with this service's credentials, are refused.
    writer = sessions_for(url_for(service))
    with pytest.raises(RevocationUnavailable):
        writer.revoke_user(str(token["sub"]))
    with pytest.raises(RevocationUnavailable):
        writer.revoke_session(jti=str(uuid.uuid4()), expires_at=int(time.time()) + 60, sids=[])
    with pytest.raises(RevocationUnavailable):
        writer.mark_index_complete()
    # Nor may it read, start or end sessions: they are auth_service's alone.
    session = refresh_claims()
    issuer.start_session(session, 600)
    with pytest.raises(RevocationUnavailable):
        writer.list_sessions(str(session["sub"]))
    with pytest.raises(RevocationUnavailable):
        writer.end_session(str(session["sub"]), str(session["sid"]))
    with pytest.raises(RevocationUnavailable):
        writer.start_session(refresh_claims(), 600)
    with pytest.raises(RevocationUnavailable):
        writer.rotate(session, str(uuid.uuid4()), 600)
    assert [s.sid for s in issuer.list_sessions(str(session["sub"]))] == [session["sid"]]


@pytest.mark.parametrize("service", RESOURCE_SERVICES)
def test_a_resource_service_listens_only_on_the_invalidation_channel(url_for: UrlFor, service: str) -> None:
    client = redis.Redis.from_url(url_for(service))
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.publish(INVALIDATION_CHANNEL, "[]")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command("SUBSCRIBE", "somewhere-else")


def limited_app(url: str, key_prefix: str) -> Flask:
    app = Flask(__name__)
    app.config["SERVICE_NAME"] = key_prefix
    limiter = init_rate_limiter(app, url, key_prefix)

    @app.post("/")
    @limiter.limit("2 per minute")
    def limited() -> dict[str, str]:
        return {}

    return app


@pytest.mark.parametrize(("service", "key_prefix"), [("auth_service", "login"), ("users_service", "signup")])
def test_each_limiter_keeps_its_counters_under_its_own_prefix(url_for: UrlFor, service: str, key_prefix: str) -> None:
    client = limited_app(url_for(service), key_prefix).test_client()
    assert [client.post("/").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize(("service", "key_prefix"), [("users_service", "login"), ("orders_service", "signup")])
def test_no_service_can_touch_another_ones_rate_limits(url_for: UrlFor, service: str, key_prefix: str) -> None:
    app = limited_app(url_for(service), key_prefix)
    app.testing = True  # the storage error reaches the test instead of becoming a 500
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.test_client().post("/")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "REDIS_ORDERS_SERVICE_PASSWORD is required"),
        ("short-one", "at least 16 characters"),
        ("sixteen chars ok", "may contain only"),
        ("line\nuser intruder on nopass ~* +@all", "may contain only"),
        ("the-operators-password", "the same as another Redis password"),
    ],
)
def test_the_script_refuses_a_weak_or_shared_password(tmp_path: Path, password: str, message: str) -> None:
    env = {
        "REDIS_PASSWORD": "the-operators-password",
        "REDIS_AUTH_SERVICE_PASSWORD": secrets.token_urlsafe(18),
        "REDIS_USERS_SERVICE_PASSWORD": secrets.token_urlsafe(18),
        "REDIS_ORDERS_SERVICE_PASSWORD": password,
    }
    process = start(env, tmp_path, free_port())
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 2
    assert message in stderr.decode()


def test_the_console_keeps_its_browser_sessions_and_touches_nothing_else(url_for: UrlFor) -> None:
    client = redis_client(url_for("web_service"))
    store = BrowserSessions(client, lifetime_seconds=600)
    anonymous = store.start_anonymous()
    session = store.log_in(anonymous, "alice", Tokens("access", "refresh", int(time.time())))
    refreshed = store.refresh(session, 60, lambda _refresh: Tokens("access-2", "refresh-2", int(time.time()) + 600))
    assert refreshed is not None and store.load(session.sid) == refreshed  # under its lock
    store.end(session.sid)
    assert store.load(session.sid) is None
    # It verifies no token: no revocation key, no invalidation channel, nobody's sessions.
    for command in (
        ("MGET", "revoked:jti:x"),
        ("GET", "session:x"),
        ("SUBSCRIBE", INVALIDATION_CHANNEL),
        ("KEYS", "*"),
    ):
        with pytest.raises(redis.RedisError, match="NOPERM|permission"):
            client.execute_command(*command)
