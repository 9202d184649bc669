"""Run the whole stack as local processes, without Docker: ``make dev``.

Starts Redis (unless REDIS_URL points at one already running) and the three services
under gunicorn, each on loopback, waits until every one is ready, and stops them all on
Ctrl-C or SIGTERM. State (SQLite files, signing keys, Redis AOF, generated dev secrets)
lives in DATA_DIR (default ./var), so a restart keeps users, orders and revocations.

Environment (all optional): DATA_DIR, AUTH_PORT, USERS_PORT, ORDERS_PORT, REDIS_PORT,
REDIS_URL, ADMIN_USERNAME, ADMIN_PASSWORD, and any service setting from .env.example.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("auth_service", "users_service", "orders_service")
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)  # noqa: T201 - this is a terminal program


def load_dev_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets for local development: taken from the environment, else generated once and kept."""
    path = data_dir / "dev.env"
    saved: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name and value:
                saved[name] = value
    if "ADMIN_PASSWORD" not in os.environ and "ADMIN_PASSWORD" not in saved:
        saved["ADMIN_PASSWORD"] = secrets.token_urlsafe(18)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.writelines(f"{k}={v}\n" for k, v in saved.items())
        say(f"generated a dev admin password into {path}")
    return saved


def wait_ready(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} was not ready at {url} within {READY_TIMEOUT_SECONDS}s")


def wait_redis(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode} (is port {port} in use?)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("redis-server did not answer")


def copy_lines(source: IO[bytes], log_path: Path) -> None:
    """Show a child's output in the terminal and keep it in its log file (for `make audit`)."""
    with open(log_path, "ab") as log:
        for line in iter(source.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            log.write(line)
            log.flush()


class Stack:
    def __init__(self, data_dir: Path) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        # <name>.pid per process (group leader), for tools that signal one service;
        # <name>.log per process, what it printed.
        self.run_dir, self.log_dir = data_dir / "run", data_dir / "logs"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        # Each child leads its own process group so gunicorn's workers stop with it.
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        threading.Thread(target=copy_lines, args=(process.stdout, self.log_dir / f"{name}.log"), daemon=True).start()
        self.processes.append((name, process))
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        return process

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                os.killpg(process.pid, signal.SIGCONT)  # a paused process must wake to exit
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)


def main() -> int:
    data_dir = Path(os.environ.get("DATA_DIR", ROOT / "var")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = {
        "auth_service": int(os.environ.get("AUTH_PORT", "8001")),
        "users_service": int(os.environ.get("USERS_PORT", "8002")),
        "orders_service": int(os.environ.get("ORDERS_PORT", "8003")),
    }
    secrets_env = load_dev_secrets(data_dir)
    stack = Stack(data_dir)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis_port = int(os.environ.get("REDIS_PORT", "6379"))
            redis_server = shutil.which("redis-server")
            if redis_server is None:
                say("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL")
                return 2
            (data_dir / "redis").mkdir(exist_ok=True)
            process = stack.start(
                "redis",
                [
                    redis_server,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(redis_port),
                    "--dir",
                    str(data_dir / "redis"),
                    # AOF: a restart forgets no revocation.
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                ],
                dict(os.environ),
            )
            wait_redis(redis_port, process)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            say(f"redis ready on {redis_url}")

        base = f"http://127.0.0.1:{ports['auth_service']}"
        env = {
            **secrets_env,
            "JWT_ISSUER": base,
            "JWKS_URL": f"{base}/.well-known/jwks.json",
            "USERS_SERVICE_URL": f"http://127.0.0.1:{ports['users_service']}",
            "KEYS_DIR": str(data_dir / "keys"),
            **os.environ,
            "REDIS_URL": redis_url,
            "HOST": "127.0.0.1",
        }
        for name in SERVICES:
            service_env = {
                **env,
                "PORT": str(ports[name]),
                "DATABASE_URL": os.environ.get(
                    f"{name.split('_')[0].upper()}_DATABASE_URL", f"sqlite:///{data_dir / (name + '.db')}"
                ),
            }
            process = stack.start(
                name,
                [sys.executable, "-m", "gunicorn", "-c", f"{name}/gunicorn.conf.py", f"{name}:create_app()"],
                service_env,
            )
            wait_ready(f"http://127.0.0.1:{ports[name]}/readyz", process, name)
            say(f"{name} ready on http://127.0.0.1:{ports[name]}")
        admin = env.get("ADMIN_USERNAME", "admin")
        where = "ADMIN_PASSWORD" if "ADMIN_PASSWORD" in os.environ else data_dir / "dev.env"
        # The password itself is never printed: terminals and CI logs are kept.
        say(f"stack ready. admin user '{admin}', password in {where}. Ctrl-C stops everything.")
        while True:
            for name, process in stack.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited unexpectedly with code {process.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except RuntimeError as e:
        say(f"error: {e}")
        return 1
    finally:
        stack.stop()
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
