"""Run the whole stack as local processes, without Docker: ``make dev``.

Starts Redis (unless REDIS_URL points at one already running) and the three services
under gunicorn, each on loopback, waits until every one is ready, and stops them all on
Ctrl-C or SIGTERM. State (SQLite files, signing keys, Redis AOF, generated dev secrets)
lives in DATA_DIR (default ./var), so a restart keeps users, orders and revocations.

Redis runs as docker compose runs it (deploy/redis/redis-server.sh): each service logs in
as its own ACL user and gets only its own password. With REDIS_URL, every service uses
that one URL, and least privilege in that Redis is for its owner to configure.

Three helpers reach the stack it runs, as make's auth-cli, redis-cli and metrics do:
``devstack.py auth-cli keys rotate`` runs auth_service's command line with the environment
auth_service gets here, ``devstack.py redis-cli …`` runs redis-cli as the operator, and
``devstack.py metrics users_service`` prints a service's /metrics.

Environment (all optional): DATA_DIR, AUTH_PORT, USERS_PORT, ORDERS_PORT, REDIS_PORT,
REDIS_URL, ADMIN_USERNAME, ADMIN_PASSWORD, the Redis passwords of REDIS_PASSWORDS, and any
service setting from .env.example.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
SERVICES_FILE = ROOT / "deploy" / "services.toml"


@dataclass(frozen=True)
class Service:
    """One service of the stack, as deploy/services.toml lists it."""

    name: str
    port: int
    port_variable: str
    redis_password: str
    database: bool
    db_password: str | None
    client_secret: str | None


def stack_services() -> tuple[Service, ...]:
    """The stack's services in start order (deploy/services.toml, the one list of them)."""
    entries = tomllib.loads(SERVICES_FILE.read_text())["service"]
    return tuple(
        Service(
            name=entry["name"],
            port=int(entry["port"]),
            port_variable=entry["port_variable"],
            redis_password=entry["redis_password"],
            database=entry["database"] == "yes",
            db_password=entry.get("db_password"),
            client_secret=entry.get("client_secret"),
        )
        for entry in entries
    )


SERVICES = tuple(service.name for service in stack_services())
REDIS_SERVER_SCRIPT = ROOT / "deploy" / "redis" / "redis-server.sh"
#: The operator's Redis password (the default user), given to no service.
REDIS_OPERATOR_PASSWORD = "REDIS_PASSWORD"
#: Each service's Redis ACL user is named after it; the variable holding its password.
REDIS_SERVICE_PASSWORDS = {service.name: service.redis_password for service in stack_services()}
REDIS_PASSWORDS = (REDIS_OPERATOR_PASSWORD, *REDIS_SERVICE_PASSWORDS.values())
#: The OAuth client secrets of the services that are auth_service's clients.
CLIENT_SECRETS = tuple(service.client_secret for service in stack_services() if service.client_secret)
#: A client for trying the OAuth endpoints by hand (the tutorial's "a service with no user"):
#: registered at auth_service unless SERVICE_CLIENTS is set, by make dev and by make env.
DEV_CLIENT_ID = "dev-client"
DEV_CLIENT_SECRET = "DEV_CLIENT_SECRET"
APP_SECRETS = ("ADMIN_PASSWORD", *CLIENT_SECRETS, DEV_CLIENT_SECRET)
#: Taken from the environment, else generated once into DATA_DIR/dev.env and kept (the
#: Redis passwords only when make dev starts Redis itself).
DEV_SECRETS = (*APP_SECRETS, *REDIS_PASSWORDS)


def dev_service_clients(secret: str) -> str:
    """SERVICE_CLIENTS with the dev client: a users_service token (users:read) and introspection."""
    return json.dumps({DEV_CLIENT_ID: {"secret": secret, "scopes": "users:read", "introspect": True}})


READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10


def say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)  # noqa: T201 - this is a terminal program


def load_dev_secrets(
    data_dir: Path, names: Sequence[str] = DEV_SECRETS, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """Each secret in ``names``: from ``environ``, else from DATA_DIR/dev.env, else generated there and kept."""
    path = data_dir / "dev.env"
    saved: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name and value:
                saved[name] = value
    generated = [name for name in names if name not in environ and name not in saved]
    if generated:
        saved.update({name: secrets.token_urlsafe(32) for name in generated})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.writelines(f"{k}={v}\n" for k, v in saved.items())
        say(f"generated {', '.join(generated)} into {path}")
    return {name: environ.get(name) or saved[name] for name in names}


def redis_urls(port: int, dev_secrets: Mapping[str, str]) -> dict[str, str]:
    """Each service's REDIS_URL for the Redis started here: its own ACL user and password."""
    return {
        name: f"redis://{name}:{dev_secrets[variable]}@127.0.0.1:{port}/0"
        for name, variable in REDIS_SERVICE_PASSWORDS.items()
    }


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
            raise RuntimeError(
                f"redis-server exited with code {process.returncode} (port {port} taken? see its output)"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                # It answers, and asks for a password: it has loaded its data and is ready.
                if sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):
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
    # What the stack writes (SQLite files with password hashes, signing keys, Redis' AOF
    # with revocations, logs) is for this user only, and so is the directory holding it.
    os.umask(0o077)
    data_dir = data_directory()
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    ports = {service.name: int(os.environ.get(service.port_variable) or service.port) for service in stack_services()}
    given_redis_url = os.environ.get("REDIS_URL")
    dev_secrets = load_dev_secrets(data_dir, APP_SECRETS if given_redis_url else DEV_SECRETS)
    stack = Stack(data_dir)

    def on_signal(signum: int, _frame: object) -> None:
        # The first SIGTERM or Ctrl-C starts the shutdown; later ones (make forwards the
        # signal it got, so one kill of make's group arrives twice) must not interrupt it,
        # or the children are left running with the ports taken (see the finally below).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if given_redis_url:
            service_redis_urls = dict.fromkeys(SERVICES, given_redis_url)
        else:
            redis_port = int(os.environ.get("REDIS_PORT", "6379"))
            redis_server = shutil.which("redis-server")
            if redis_server is None:
                say("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL")
                return 2
            (data_dir / "redis").mkdir(exist_ok=True)
            # The configuration, ACL users and persistence of compose's Redis; only where it
            # listens and keeps its files differ.
            process = stack.start(
                "redis",
                [
                    "sh",
                    str(REDIS_SERVER_SCRIPT),
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(redis_port),
                    "--dir",
                    str(data_dir / "redis"),
                ],
                {
                    **os.environ,
                    **{name: dev_secrets[name] for name in REDIS_PASSWORDS},
                    "REDIS_SERVER": redis_server,
                },
            )
            wait_redis(redis_port, process)
            service_redis_urls = redis_urls(redis_port, dev_secrets)
            say(f"redis ready on 127.0.0.1:{redis_port}, one ACL user per service")

        base = f"http://127.0.0.1:{ports['auth_service']}"
        env = {
            "ADMIN_PASSWORD": dev_secrets["ADMIN_PASSWORD"],
            "JWT_ISSUER": base,
            "JWKS_URL": f"{base}/.well-known/jwks.json",
            "USERS_SERVICE_URL": f"http://127.0.0.1:{ports['users_service']}",
            "ORDERS_SERVICE_URL": f"http://127.0.0.1:{ports['orders_service']}",
            "AUTH_SERVICE_URL": base,
            # The console's forms are accepted from the address the README opens.
            "PUBLIC_ORIGIN": f"http://localhost:{ports['web_service']}",
            # Where its pages link to each API service's /docs.
            **{
                f"{name.upper()}_PUBLIC_URL": f"http://localhost:{ports[name]}"
                for name in SERVICES
                if name != "web_service"
            },
            "KEYS_DIR": str(data_dir / "keys"),
            **os.environ,
            "HOST": "127.0.0.1",
        }
        # The dev client, unless SERVICE_CLIENTS names the clients itself.
        env.setdefault("SERVICE_CLIENTS", dev_service_clients(dev_secrets[DEV_CLIENT_SECRET]))
        # A secret reaches only the service that needs it, as under compose: a service holds
        # its own Redis password (inside its REDIS_URL) and its own client secret, auth_service
        # every client's, users_service the admin's password.
        only_for = {"SERVICE_CLIENTS": "auth_service", "ADMIN_PASSWORD": "users_service"}
        owned = {name: env.pop(name) for name in only_for if name in env}
        for name in (*REDIS_PASSWORDS, *CLIENT_SECRETS, DEV_CLIENT_SECRET):
            env.pop(name, None)
        for service in stack_services():
            name = service.name
            service_env = {**env, "REDIS_URL": service_redis_urls[name], "PORT": str(ports[name])}
            service_env.update({setting: value for setting, value in owned.items() if only_for[setting] == name})
            own_secrets = CLIENT_SECRETS if name == "auth_service" else (service.client_secret,)
            service_env.update({secret: dev_secrets[secret] for secret in own_secrets if secret})
            if service.database:
                service_env["DATABASE_URL"] = os.environ.get(
                    f"{name.split('_')[0].upper()}_DATABASE_URL", f"sqlite:///{data_dir / (name + '.db')}"
                )
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
        # Whatever ended the stack, a signal arriving now must not cut its shutdown short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        say("stopped")


def data_directory() -> Path:
    return Path(os.environ.get("DATA_DIR", ROOT / "var")).resolve()


def auth_cli(args: Sequence[str]) -> int:
    """``flask --app auth_service <args>`` as make dev runs auth_service: its keys, its Redis user."""
    data_dir = data_directory()
    given_redis_url = os.environ.get("REDIS_URL")
    dev_secrets = load_dev_secrets(data_dir, APP_SECRETS if given_redis_url else DEV_SECRETS)
    redis_url = given_redis_url or redis_urls(int(os.environ.get("REDIS_PORT", "6379")), dev_secrets)["auth_service"]
    env = {**os.environ, "KEYS_DIR": str(data_dir / "keys"), "REDIS_URL": redis_url}
    return subprocess.call([sys.executable, "-m", "flask", "--app", "auth_service", *args], cwd=ROOT, env=env)


def redis_cli(args: Sequence[str]) -> int:
    """redis-cli on make dev's Redis, as the operator (the default user, REDIS_PASSWORD)."""
    if os.environ.get("REDIS_URL"):
        say("REDIS_URL is set: make dev uses your Redis, so use your own redis-cli and account")
        return 2
    password = load_dev_secrets(data_directory(), (REDIS_OPERATOR_PASSWORD,))[REDIS_OPERATOR_PASSWORD]
    # The password goes in the environment (REDISCLI_AUTH), never on a command line others can list.
    env = {**os.environ, "REDISCLI_AUTH": password}
    port = os.environ.get("REDIS_PORT", "6379")
    return subprocess.call(["redis-cli", "-p", port, *args], env=env)


def metrics(args: Sequence[str]) -> int:
    """One service's /metrics on make dev's stack (its port as make dev chose it)."""
    names = {service.name: service for service in stack_services()}
    if len(args) != 1 or args[0] not in names:
        say(f"name one service: {' '.join(names)}")
        return 2
    service = names[args[0]]
    port = int(os.environ.get(service.port_variable) or service.port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        sys.stdout.write(response.read().decode())
    return 0


if __name__ == "__main__":
    helpers = {"auth-cli": auth_cli, "redis-cli": redis_cli, "metrics": metrics}
    if sys.argv[1:2] and sys.argv[1] in helpers:
        sys.exit(helpers[sys.argv[1]](sys.argv[2:]))
    sys.exit(main())
