"""docker-compose.yml keeps its promises: what is published, what is internal, what is required."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import load_every_service_setting, load_script, stack_services

ROOT = Path(__file__).resolve().parents[2]
SERVICES = tuple(s.name for s in stack_services())
REDIS_SERVICE_PASSWORDS = {s.name: s.redis_password for s in stack_services()}
#: What compose refuses to start without: exactly the secrets `make env` generates; the
#: scaled stack's own two only with compose.scale.yml.
REQUIRED = tuple(load_script("make_env").GENERATED)
SCALED_ONLY = ("REDIS_REPLICATION_PASSWORD", "REDIS_SENTINEL_PASSWORD")
BASE = ("docker-compose.yml",)
SCALED = ("docker-compose.yml", "compose.scale.yml")
REDIS_SCRIPT = "deploy/redis/redis-server.sh"


def compose_config(files: tuple[str, ...] = BASE, **env: str) -> subprocess.CompletedProcess[str]:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("the docker compose CLI plugin is not installed here (CI installs it)")
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED and not k.endswith("_IMAGE")}
    return subprocess.run(
        ["docker", "compose", "--env-file", os.devnull, *(f"-f{file}" for file in files), "config", "--format", "json"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )


def secret(name: str) -> str:
    """The value the ``config`` fixture gives the required secret ``name``."""
    return f"test-{name.lower()}"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose_config(**{name: secret(name) for name in REQUIRED})
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def scaled_config() -> dict[str, Any]:
    result = compose_config(SCALED, **{name: secret(name) for name in REQUIRED})
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize("missing", REQUIRED)
def test_every_required_secret_must_be_set(missing: str) -> None:
    result = compose_config(SCALED if missing in SCALED_ONLY else BASE, **{n: "x" for n in REQUIRED if n != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_the_single_stack_needs_no_replication_secret() -> None:
    assert compose_config(**{name: "x" for name in REQUIRED if name not in SCALED_ONLY}).returncode == 0


def test_the_scaled_stack_publishes_only_the_load_balancer_on_the_same_ports(
    config: dict[str, Any], scaled_config: dict[str, Any]
) -> None:
    published = {name: svc["ports"] for name, svc in scaled_config["services"].items() if svc.get("ports")}
    assert set(published) == {"lb"}
    single = sorted(port["published"] for svc in config["services"].values() for port in svc.get("ports", []))
    assert sorted(port["published"] for port in published["lb"]) == single
    assert {port["host_ip"] for port in published["lb"]} == {"127.0.0.1"}


def test_the_scaled_stacks_redis_and_sentinels_live_on_the_internal_network_only(
    scaled_config: dict[str, Any],
) -> None:
    for name in ("redis", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3", "postgres"):
        assert set(scaled_config["services"][name]["networks"]) == {"backend"}, name


def test_every_scaled_service_finds_redis_through_the_sentinels_as_its_own_user(
    scaled_config: dict[str, Any],
) -> None:
    for name, variable in REDIS_SERVICE_PASSWORDS.items():
        url = scaled_config["services"][name]["environment"]["REDIS_URL"]
        assert url == (
            f"redis+sentinel://{name}:{secret(variable)}@sentinel-1:26379,sentinel-2:26379,sentinel-3:26379/jwt-stack"
        )
    assert scaled_config["services"]["auth_service"]["environment"]["REVOCATION_MIN_REPLICAS"] == "1"


def test_only_the_three_services_are_published_on_loopback(config: dict[str, Any]) -> None:
    published = {name: svc.get("ports", []) for name, svc in config["services"].items() if svc.get("ports")}
    assert set(published) == set(SERVICES)
    for ports in published.values():
        assert [p["host_ip"] for p in ports] == ["127.0.0.1"]


def test_redis_and_postgres_live_on_the_internal_network_only(config: dict[str, Any]) -> None:
    assert config["networks"]["backend"]["internal"] is True
    for name in ("redis", "postgres"):
        assert set(config["services"][name]["networks"]) == {"backend"}


def test_only_auth_service_mounts_the_signing_keys(config: dict[str, Any]) -> None:
    mounting = [
        name
        for name, svc in config["services"].items()
        for volume in svc.get("volumes", [])
        if volume.get("source") == "signing-keys"
    ]
    assert mounting == ["auth_service"]
    # Its mount point is made in the image, so a fresh volume is the service's own (mode 700)
    # and not root's; it is where the keys are read from.
    auth = config["services"]["auth_service"]
    (mount,) = [volume["target"] for volume in auth["volumes"] if volume.get("source") == "signing-keys"]
    assert auth["build"]["args"]["STATE_DIR"] == auth["environment"]["KEYS_DIR"] == mount
    others = [name for name in SERVICES if name != "auth_service"]
    assert [name for name in others if "STATE_DIR" in config["services"][name]["build"]["args"]] == []


def test_services_start_after_their_dependencies_are_healthy(config: dict[str, Any]) -> None:
    for name in SERVICES:
        conditions = {dep["condition"] for dep in config["services"][name]["depends_on"].values()}
        assert conditions == {"service_healthy"}
    assert set(config["services"]["orders_service"]["depends_on"]) == {"redis", "postgres", "users_service"}


def test_base_images_default_to_public_ones_and_can_be_replaced(config: dict[str, Any]) -> None:
    assert config["services"]["redis"]["image"].startswith("redis:")
    assert config["services"]["postgres"]["image"].startswith("postgres:")
    assert config["services"]["auth_service"]["build"]["args"]["PYTHON_IMAGE"].startswith("python:")
    replaced = compose_config(**{name: "x" for name in REQUIRED}, REDIS_IMAGE="local/redis:7")
    assert json.loads(replaced.stdout)["services"]["redis"]["image"] == "local/redis:7"


def test_redis_runs_the_one_server_definition_read_only(config: dict[str, Any]) -> None:
    redis = config["services"]["redis"]
    mounts = {v["target"]: v for v in redis["volumes"]}
    script = next(v for v in mounts.values() if v["type"] == "bind")
    assert script["source"] == str(ROOT / REDIS_SCRIPT) and script["read_only"] is True
    assert redis["entrypoint"] == ["sh", script["target"]]
    assert mounts["/data"]["source"] == "redis-data"
    # Passwords reach the script through the environment, never the command line.
    command_line = " ".join(redis["entrypoint"] + redis["command"])
    assert not any(secret(name) in command_line for name in REQUIRED)
    assert {name: redis["environment"][name] for name in ("REDIS_PASSWORD", *REDIS_SERVICE_PASSWORDS.values())} == {
        name: secret(name) for name in ("REDIS_PASSWORD", *REDIS_SERVICE_PASSWORDS.values())
    }


def test_the_redis_server_definition_persists_every_write_and_never_evicts() -> None:
    text = (ROOT / REDIS_SCRIPT).read_text()
    for line in ("appendonly yes", "appendfsync always", "maxmemory-policy noeviction"):
        assert f"\n{line}\n" in text, line
    # One ACL user per service plus the operator's default, each starting from nothing.
    for user in SERVICES:
        assert f"\nuser {user} on >${REDIS_SERVICE_PASSWORDS[user]} resetkeys " in text
    assert "\nuser default on >$REDIS_PASSWORD " in text


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_logs_in_to_redis_as_its_own_user(config: dict[str, Any], service: str) -> None:
    environment = config["services"][service]["environment"]
    own = REDIS_SERVICE_PASSWORDS[service]
    assert environment["REDIS_URL"] == f"redis://{service}:{secret(own)}@redis:6379/0"
    others = [name for name in ("REDIS_PASSWORD", *REDIS_SERVICE_PASSWORDS.values()) if name != own]
    assert not [name for name in others for value in environment.values() if secret(name) in str(value)]


@pytest.mark.parametrize("service", ["redis", "postgres", *SERVICES])
def test_every_container_drops_privileges_and_writes_only_volumes_and_tmpfs(
    config: dict[str, Any], service: str
) -> None:
    svc = config["services"][service]
    assert svc["read_only"] is True
    assert svc["cap_drop"] == ["ALL"] and "cap_add" not in svc and not svc.get("privileged")
    assert "no-new-privileges:true" in svc["security_opt"]
    # gunicorn's worker heartbeat files and the Prometheus multiprocess directory.
    assert "/tmp" in svc["tmpfs"]


def test_redis_and_postgres_start_as_their_own_users(config: dict[str, Any]) -> None:
    # The images' entrypoints would otherwise start as root.
    assert config["services"]["redis"]["user"] == "redis"
    assert config["services"]["postgres"]["user"] == "postgres"
    assert "/var/run/postgresql" in config["services"]["postgres"]["tmpfs"]


def test_make_env_and_env_example_cover_every_required_secret() -> None:
    assert set(load_script("make_env").GENERATED) == set(REQUIRED)
    listed = {line.partition("=")[0] for line in (ROOT / ".env.example").read_text().splitlines()}
    assert set(REQUIRED) <= listed


def test_compose_restates_no_default_of_the_code(config: dict[str, Any]) -> None:
    # The code is the one place a default lives; compose passes a setting through only when
    # the operator sets it (${NAME:-}, empty otherwise, which the settings read as unset).
    declared = load_every_service_setting()
    restated = {
        (service, name, value)
        for service in SERVICES
        for name, value in config["services"][service]["environment"].items()
        if name in declared and declared[name].default is not None and value == declared[name].default
    }
    assert restated == set()


def test_every_service_listens_where_the_one_list_says(config: dict[str, Any]) -> None:
    # deploy/services.toml is not in the images, so the ports restated beside each service
    # (its gunicorn.conf.py, compose's container port, the peers' default URLs) are
    # checked against it here.
    declared = load_every_service_setting()
    for service in stack_services():
        gunicorn_conf = (ROOT / service.name / "gunicorn.conf.py").read_text()
        assert f"os.environ.get('PORT', '{service.port}')" in gunicorn_conf, service.name
        assert [p["target"] for p in config["services"][service.name]["ports"]] == [service.port]
        build = config["services"][service.name]["build"]
        assert build["dockerfile"] == "Dockerfile"
        assert (build["args"]["SERVICE"], build["args"]["PORT"]) == (service.name, str(service.port))
    port = {service.name: service.port for service in stack_services()}
    assert declared["JWKS_URL"].default == f"http://127.0.0.1:{port['auth_service']}/.well-known/jwks.json"
    assert declared["USERS_SERVICE_URL"].default == f"http://127.0.0.1:{port['users_service']}"
    for name in ("auth_service", "users_service", "orders_service"):
        assert declared[f"{name.upper()}_PUBLIC_URL"].default == f"http://localhost:{port[name]}"
    assert declared["AUTH_SERVICE_URL"].default == f"http://127.0.0.1:{port['auth_service']}"


def test_the_load_balancer_refuses_bodies_at_the_services_own_limit() -> None:
    # HAProxy answers an oversized body itself (deploy/haproxy/haproxy.cfg); its bound must
    # stay the services' MAX_BODY_BYTES, or it would refuse what they accept, or let through
    # what they refuse before reading.
    from secure_service.service_app import MAX_BODY_BYTES

    config = (ROOT / "deploy" / "haproxy" / "haproxy.cfg").read_text()
    (bound,) = re.findall(r"req\.hdr_val\(content-length\) gt (\d+)", config)
    assert int(bound) == MAX_BODY_BYTES
    assert f"larger than {MAX_BODY_BYTES // 1024} KiB" in config
