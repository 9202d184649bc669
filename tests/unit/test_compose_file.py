"""docker-compose.yml keeps its promises: what is published, what is internal, what is required."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("ADMIN_PASSWORD", "POSTGRES_PASSWORD", "USERS_DB_PASSWORD", "ORDERS_DB_PASSWORD", "REDIS_PASSWORD")
SERVICES = ("auth_service", "users_service", "orders_service")


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("the docker compose CLI plugin is not installed here (CI installs it)")
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED and not k.endswith("_IMAGE")}
    return subprocess.run(
        ["docker", "compose", "--env-file", os.devnull, "-f", "docker-compose.yml", "config", "--format", "json"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = compose_config(**{name: f"test-{name.lower()}" for name in REQUIRED})
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize("missing", REQUIRED)
def test_every_required_secret_must_be_set(missing: str) -> None:
    result = compose_config(**{name: "x" for name in REQUIRED if name != missing})
    assert result.returncode != 0
    assert missing in result.stderr


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


def test_redis_keeps_an_append_only_file_on_a_volume(config: dict[str, Any]) -> None:
    redis = config["services"]["redis"]
    assert "--appendonly yes" in " ".join(redis["entrypoint"])
    assert [v["source"] for v in redis["volumes"]] == ["redis-data"]
