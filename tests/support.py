"""Helpers for the test suites: free ports, a real redis-server, importing scripts, tokens."""

from __future__ import annotations

import base64
import functools
import importlib.util
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from secure_service.settings import DECLARED, Declared

ROOT = Path(__file__).resolve().parent.parent


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that presents ``token``."""
    return {"Authorization": f"Bearer {token}"}


def revocable_claims(**overrides: object) -> dict[str, object]:
    """What revocation reads of a token (jti, sub, sid, iat), fresh ids unless overridden."""
    return {
        "jti": str(uuid.uuid4()),
        "sub": f"u-{uuid.uuid4()}",
        "sid": str(uuid.uuid4()),
        "iat": int(time.time()),
        **overrides,
    }


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, read without checking anything: to look at what was issued."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


@functools.cache
def load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py (scripts are programs, not a package) to test its functions."""
    # As when run: a script imports its neighbours by name (make_env reads devstack's list).
    if str(ROOT / "scripts") not in sys.path:
        sys.path.append(str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def with_broken_signature(token: str) -> str:
    """``token`` with one signature byte flipped: well formed, genuinely signed claims, bad signature."""
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0xFF
    return f"{header}.{payload}." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def eventually(check: Callable[[], bool], seconds: float) -> bool:
    """Whether ``check`` becomes true within ``seconds`` (a request error counts as not yet)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def serve_on_loopback(app: Any, port: int) -> BaseWSGIServer:
    """Serve a WSGI app on 127.0.0.1:``port`` from a daemon thread (``shutdown()`` stops it)."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(directory: Path, *, appendonly: bool = False) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real redis-server on a free loopback port, stopped (by PID) afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "yes" if appendonly else "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_redis(port, b"+PONG", process)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_redis(port: int, reply: bytes, process: subprocess.Popen[Any], timeout_seconds: float = 10) -> None:
    """Wait until the Redis on ``port`` answers a PING with ``reply`` (+PONG, or -NOAUTH when it wants a login)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        assert process.poll() is None, f"redis-server exited with code {process.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(reply):
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def load_every_service_setting() -> dict[str, Declared]:
    """Every setting the services read, with the code's default and range."""
    from auth_service.settings import AuthSettings
    from orders_service.settings import OrdersSettings
    from users_service.settings import UsersSettings
    from web_service.settings import WebSettings

    AuthSettings.load({})
    UsersSettings.load({"ADMIN_PASSWORD": secrets.token_urlsafe(18)})
    OrdersSettings.load({"ORDERS_SERVICE_CLIENT_SECRET": secrets.token_urlsafe(32)})
    WebSettings.load({"WEB_SERVICE_CLIENT_SECRET": secrets.token_urlsafe(32)})
    return DECLARED


def stack_services() -> tuple[Any, ...]:
    """The stack's services (deploy/services.toml, read by make dev's own code)."""
    return tuple(load_script("devstack").stack_services())


def short_name(service: Any) -> str:
    """auth, users, orders: how a Stack names a service's URL."""
    return str(service.name).removesuffix("_service")


#: The accounts a replicated Redis has beside the services' (deploy/redis/redis-server.sh).
REPLICATION_PASSWORDS = ("REDIS_PASSWORD", "REDIS_REPLICATION_PASSWORD", "REDIS_SENTINEL_PASSWORD")
PRIMARY_NAME = "jwt-stack"


class ReplicatedRedis:
    """A primary, a replica and three sentinels, started with the stack's own scripts.

    The way compose.scale.yml runs them, as loopback processes: the tests can kill the
    primary (SIGKILL, a lost machine) or pause a node (SIGSTOP, a partition) and watch the
    sentinels fail over.
    """

    def __init__(self, directory: Path, *, down_after_milliseconds: int = 1000):
        self.directory = directory
        self.passwords = {
            name: secrets.token_urlsafe(18)
            for name in (*REPLICATION_PASSWORDS, *(s.redis_password for s in stack_services()))
        }
        self.down_after_milliseconds = down_after_milliseconds
        self.node_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def _start(self, port: int, script: str, args: list[str], env: dict[str, str]) -> None:
        directory = self.directory / str(port)
        directory.mkdir(exist_ok=True)
        with open(directory / "log", "ab") as log:
            self.processes[port] = subprocess.Popen(
                ["sh", str(ROOT / "deploy" / "redis" / script), *args],
                env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", **self.passwords, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_redis(port, b"-NOAUTH", self.processes[port])

    def start_node(self, port: int, *, initial_primary: int | None = None) -> None:
        """A node as compose.scale.yml starts one: it asks the sentinels for the primary first."""
        args = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.directory / str(port))]
        env = {
            "REDIS_SENTINELS": " ".join(f"127.0.0.1:{sentinel}" for sentinel in self.sentinel_ports),
            "REDIS_ANNOUNCE_ADDRESS": f"127.0.0.1 {port}",
            **({"REDIS_INITIAL_PRIMARY": f"127.0.0.1 {initial_primary}"} if initial_primary else {}),
        }
        self._start(port, "redis-server.sh", args, env)

    def role(self, port: int) -> str:
        """What a node is now: "master" or "slave"."""
        return str(self.node(port).info("replication")["role"])

    def start(self) -> ReplicatedRedis:
        primary, replica = self.node_ports
        self.start_node(primary)
        self.start_node(replica, initial_primary=primary)
        for port in self.sentinel_ports:
            env = {
                "REDIS_PRIMARY_HOST": "127.0.0.1",
                "REDIS_PRIMARY_PORT": str(primary),
                "SENTINEL_DIR": str(self.directory / str(port)),
                "SENTINEL_DOWN_AFTER_MILLISECONDS": str(self.down_after_milliseconds),
                "SENTINEL_FAILOVER_TIMEOUT_MILLISECONDS": "4000",
            }
            (self.directory / str(port)).mkdir(exist_ok=True)
            self._start(port, "redis-sentinel.sh", ["--bind", "127.0.0.1", "--port", str(port)], env)
        self.wait_until(lambda: self.replicas_in_sync() == 1, "the replica never caught up")
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def url(self, user: str) -> str:
        """``user``'s REDIS_URL through the sentinels (a service name, or "default")."""
        variable = "REDIS_PASSWORD" if user == "default" else f"REDIS_{user.upper()}_PASSWORD"
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{user}:{self.passwords[variable]}@{hosts}/{PRIMARY_NAME}"

    def node(self, port: int) -> Any:
        import redis

        return redis.Redis(port=port, username="default", password=self.passwords["REDIS_PASSWORD"], socket_timeout=2)

    def primary_port(self) -> int:
        """The primary's port, as the first sentinel that answers names it."""
        import redis

        for port in self.sentinel_ports:
            try:
                sentinel = redis.Redis(
                    port=port, username="default", password=self.passwords["REDIS_PASSWORD"], socket_timeout=1
                )
                _host, primary = sentinel.sentinel_get_master_addr_by_name(PRIMARY_NAME)
                return int(primary)
            except Exception:  # noqa: BLE001 (a sentinel that is down: ask the next)
                continue
        raise RuntimeError("no sentinel answers")

    def replicas_in_sync(self) -> int:
        """How many replicas the primary streams its writes to (past their first sync)."""
        try:
            replication = self.node(self.primary_port()).info("replication")
        except Exception:  # noqa: BLE001 (the primary is down)
            return 0
        return sum(1 for name, value in replication.items() if name.startswith("slave") and value["state"] == "online")

    def kill_primary(self) -> int:
        """SIGKILL the primary, as a machine that is lost; its port."""
        port = self.primary_port()
        self.processes[port].kill()
        self.processes[port].wait(timeout=10)
        return port

    def wait_until(self, check: Callable[[], bool], failure: str, seconds: float = 30) -> None:
        if not eventually(check, seconds):
            raise AssertionError(failure)


@contextmanager
def replicated_redis(directory: Path, **options: Any) -> Iterator[ReplicatedRedis]:
    """A started :class:`ReplicatedRedis`, every process stopped (by PID) afterwards."""
    cluster = ReplicatedRedis(directory, **options)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
