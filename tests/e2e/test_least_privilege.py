"""Least privilege between the services (SECURITY.md, "What each service may do in Redis"): Redis and the containers.

Redis is driven with the credentials each service really holds, the REDIS_URL in its own
environment, as that service would use them if an attacker controlled it.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import jwt
import pytest

from auth_service.login_limits import username_digest
from secure_service.revocation_cache import INVALIDATION_CHANNEL
from tests.e2e.client import PASSWORD, Client, bearer
from tests.e2e.stacks import REDIS_PASSWORDS, USERNAME_LIMIT_FAILURES, Stack
from tests.support import stack_services

SERVICES = tuple(s.name for s in stack_services())
#: The verifiers: every service but the issuer and the console, which verifies no token.
RESOURCE_SERVICES = tuple(name for name in SERVICES if name not in ("auth_service", "web_service"))
#: What no service may run: wiping, reconfiguring, enumerating or administering Redis.
ADMINISTRATION = [
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"),
    ("CONFIG", "GET", "requirepass"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("ACL", "SETUSER", "intruder", "on", ">intruder-password", "~*", "+@all"),
    ("SCRIPT", "FLUSH"),
    ("CLIENT", "LIST"),
]


def refused(output: str) -> bool:
    return output.startswith("NOPERM")


def revoked_user(client: Client, stack: Stack) -> tuple[str, dict[str, str]]:
    """A user who logged out once and then out everywhere: (its first access token, its revocation keys)."""
    user, tokens = client.new_user()
    access = tokens["access_token"]
    assert client.http.post(f"{stack.auth}/auth/logout", headers=bearer(access)).status_code == 204
    second = client.login(user["username"])["access_token"]
    assert client.http.post(f"{stack.auth}/auth/logout-all", headers=bearer(second)).status_code == 204
    claims = jwt.decode(access, options={"verify_signature": False})
    keys = {
        "jti": f"revoked:jti:{claims['jti']}",
        "sid": f"revoked:sid:{claims['sid']}",
        "not_before": f"user:not-before:{claims['sub']}",
    }
    return access, keys


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_holds_only_its_own_redis_credentials(stack: Stack, service: str) -> None:
    environment = stack.service_environment(service)
    assert urlsplit(environment["REDIS_URL"]).username == service
    assert set(environment) & set(REDIS_PASSWORDS.values()) == set()


#: The OAuth client secrets: each its own service's, and auth_service's, which checks them.
CLIENT_SECRETS = {s.name: s.client_secret for s in stack_services() if s.client_secret}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_holds_only_its_own_client_secrets(stack: Stack, service: str) -> None:
    environment = stack.service_environment(service)
    expected = set(CLIENT_SECRETS.values()) if service == "auth_service" else {CLIENT_SECRETS.get(service)} - {None}
    assert set(environment) & set(CLIENT_SECRETS.values()) == expected
    # The other clients' secrets are auth_service's alone, the admin's password users_service's.
    assert bool(environment.get("SERVICE_CLIENTS")) == (service == "auth_service")
    assert bool(environment.get("ADMIN_PASSWORD")) == (service == "users_service")


@pytest.mark.parametrize("service", RESOURCE_SERVICES)
def test_a_resource_service_reads_revocations_and_cannot_undo_them(client: Client, stack: Stack, service: str) -> None:
    access, keys = revoked_user(client, stack)
    state = stack.redis_command(service, "MGET", keys["jti"], keys["sid"], keys["not_before"]).split()
    assert state[:2] == ["1", "1"] and state[2].isdigit()
    assert stack.redis_command(service, "PING") == "PONG"

    attempts = [
        ("DEL", keys["jti"], keys["sid"]),
        ("UNLINK", keys["jti"]),
        ("SET", keys["jti"], "0"),
        ("EXPIRE", keys["sid"], "1"),
        ("RENAME", keys["jti"], "revoked:jti:elsewhere"),
        ("DEL", keys["not_before"]),
        ("SET", keys["not_before"], "0"),
        # A forged invalidation would make every verifier drop what it remembers.
        ("PUBLISH", INVALIDATION_CHANNEL, json.dumps(list(keys.values()))),
        ("EVAL", f"return redis.call('DEL', '{keys['jti']}')", "0"),
    ]
    for attempt in attempts:
        assert refused(stack.redis_command(service, *attempt)), attempt

    assert stack.redis_command(service, "MGET", keys["jti"], keys["sid"], keys["not_before"]).split() == state
    assert client.me(access).status_code == 401
    assert client.orders(access).status_code == 401


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("command", ADMINISTRATION, ids=lambda command: "-".join(command[:2]))
def test_no_service_can_wipe_reconfigure_or_enumerate_redis(
    stack: Stack, service: str, command: tuple[str, ...]
) -> None:
    assert refused(stack.redis_command(service, *command))


def test_users_service_cannot_lift_a_login_lock(client: Client, stack: Stack) -> None:
    user = client.sign_up()
    for _ in range(USERNAME_LIMIT_FAILURES):
        client.http.post(f"{stack.auth}/auth/login", json={"username": user["username"], "password": "not it!"})
    login = {"username": user["username"], "password": PASSWORD}
    assert client.http.post(f"{stack.auth}/auth/login", json=login).status_code == 429
    # The operator may list keys: the lock lives under the prefix only auth_service's user owns.
    pattern = f"LIMITS:LIMITER/login/login-username:{username_digest(user['username'])}/*"
    counters = stack.redis_command("default", "KEYS", pattern).splitlines()
    assert counters
    for counter in counters:
        assert refused(stack.redis_command("users_service", "LTRIM", counter, "1", "0"))
        assert refused(stack.redis_command("users_service", "EXPIRE", counter, "1"))
    assert client.http.post(f"{stack.auth}/auth/login", json=login).status_code == 429


def test_auth_service_writes_only_the_keys_it_owns(stack: Stack) -> None:
    assert stack.redis_command("auth_service", "PING") == "PONG"
    assert refused(stack.redis_command("auth_service", "SET", "somewhere:else", "1"))
    assert refused(stack.redis_command("auth_service", "LPUSH", "LIMITS:LIMITER/signup/someone", "1"))


def test_redis_never_evicts(stack: Stack) -> None:
    # An evicted revocation key would silently accept its token again.
    assert stack.redis_command("default", "CONFIG", "GET", "maxmemory-policy").split() == [
        "maxmemory-policy",
        "noeviction",
    ]


@pytest.mark.compose_only
@pytest.mark.parametrize("service", ["redis", "postgres", *SERVICES])
def test_every_container_runs_unprivileged_on_a_read_only_root(stack: Stack, service: str) -> None:
    assert_runs_unprivileged_on_a_read_only_root(stack, service)


def assert_runs_unprivileged_on_a_read_only_root(stack: Stack, service: str) -> None:
    """``service``'s container: no capability, no privilege, not root, nothing writable but /tmp."""
    assert stack.inspect_container is not None and stack.container_command is not None
    host = stack.inspect_container(service)["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Privileged"] is False
    code, uid = stack.container_command(service, ["id", "-u"])
    assert code == 0 and uid != "0"
    # The main process too (real, effective, saved and filesystem uid), not only what exec runs as.
    code, status = stack.container_command(service, ["cat", "/proc/1/status"])
    assert code == 0 and "0" not in next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    code, output = stack.container_command(service, ["touch", "/probe"])
    assert code != 0 and "Read-only file system" in output
    assert stack.container_command(service, ["touch", "/tmp/probe"])[0] == 0
