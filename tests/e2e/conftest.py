"""Start the whole stack once per session and drive it over HTTP.

One switch, ``E2E_BACKEND``, chooses how the stack runs; the tests are the same:
  local    (default) the local processes of ``make dev`` (scripts/devstack.py), with a
           fresh data directory and free ports.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 120
CLIENT_ID = "e2e-reporting"


@dataclass
class Stack:
    """URLs and credentials of a running stack, plus what a test needs to forge tokens."""

    auth: str
    users: str
    orders: str
    issuer: str
    admin_username: str
    admin_password: str
    client_secret: str
    keys_dir: Path
    log_path: Path

    def logs(self) -> str:
        """Everything the stack's processes have written so far."""
        return self.log_path.read_text(errors="replace")

    def signing_key(self) -> tuple[str, Any]:
        """The active signing key (kid, private key), read where the backend keeps it."""
        kid = (self.keys_dir / "active").read_text().strip()
        pem = (self.keys_dir / f"{kid}.pem").read_bytes()
        return kid, serialization.load_pem_private_key(pem, password=None)

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """A token signed with the stack's real key, for claims the issuer would never mint."""
        kid, key = self.signing_key()
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt", **(headers or {})})


def _wait_ready(urls: list[str], process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    pending = list(urls)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"the stack exited during start-up:\n{log_path.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stack was not ready in time:\n{log_path.read_text()[-4000:]}")
        try:
            if requests.get(pending[0] + "/readyz", timeout=2).status_code == 200:
                pending.pop(0)
                continue
        except requests.RequestException:
            pass
        time.sleep(0.3)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in ("auth", "users", "orders", "redis")}
    admin_password = secrets.token_urlsafe(18)
    client_secret = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "AUTH_PORT": str(ports["auth"]),
        "USERS_PORT": str(ports["users"]),
        "ORDERS_PORT": str(ports["orders"]),
        "REDIS_PORT": str(ports["redis"]),
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": admin_password,
        "SERVICE_CLIENTS": json.dumps({CLIENT_ID: {"secret": client_secret, "scopes": "users:read orders:read"}}),
    }
    env.pop("REDIS_URL", None)
    log_path = data / "stack.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "devstack.py")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in ("auth", "users", "orders")}
    try:
        _wait_ready(list(urls.values()), process, log_path)
        yield Stack(
            auth=urls["auth"],
            users=urls["users"],
            orders=urls["orders"],
            issuer=urls["auth"],
            admin_username="admin",
            admin_password=admin_password,
            client_secret=client_secret,
            keys_dir=data / "keys",
            log_path=log_path,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Stack:
    backend = os.environ.get("E2E_BACKEND", "local")
    if backend != "local":
        raise pytest.UsageError(f"E2E_BACKEND={backend!r} is not available; use 'local'")
    return request.getfixturevalue(f"{backend}_stack")  # type: ignore[no-any-return]
