"""The stack under test, started one of three ways, and what a test may do with it.

The backends behind ``E2E_BACKEND`` (see conftest.py): ``local_stack`` runs the local
processes of ``make dev`` with a fresh data directory and free ports; ``compose_stack``
builds and starts docker-compose.yml through testcontainers, and with ``scaled`` adds
compose.scale.yml (replicas behind HAProxy, Redis with Sentinel). The bench starts its
stacks with the same code.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from prometheus_client.parser import text_string_to_metric_families

from tests.support import free_port, load_script, short_name, stack_services

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 120
CLIENT_ID = "e2e-reporting"
#: Not the default "admin": nothing (the tutorial included) may assume the admin's name.
ADMIN_USERNAME = "e2e-admin"
#: Login limits of the stack under test: a username lock short enough to watch expire;
#: a per-address limit high enough for the fuzzing run (it is unit-tested separately).
USERNAME_LIMIT_FAILURES, USERNAME_LIMIT_SECONDS = 3, 6
#: Key rotation timings short enough to watch: a new key signs 3 s after it is published,
#: verifiers may refetch every 2 s and drop a retired key within 10 s.
KEY_TIMINGS = {"KEY_ACTIVATION_DELAY_SECONDS": 3, "JWKS_REFETCH_COOLDOWN_SECONDS": 2, "JWKS_MAX_AGE_SECONDS": 10}
BROWSER_REFRESH_MARGIN_SECONDS = 120
STACK_SETTINGS = {
    "LOGIN_LIMIT_PER_USERNAME": f"{USERNAME_LIMIT_FAILURES} per {USERNAME_LIMIT_SECONDS} seconds",
    "LOGIN_LIMIT_PER_ADDRESS": "10000 per 15 minutes",
    # Every sign-up of the suite comes from one address; the limit is unit-tested.
    "SIGNUP_LIMIT_PER_ADDRESS": "100000 per hour",
    # Not the default (60): the browser test's refresh happens only if the setting arrives.
    "REFRESH_MARGIN_SECONDS": str(BROWSER_REFRESH_MARGIN_SECONDS),
    **{name: str(value) for name, value in KEY_TIMINGS.items()},
}
BACKENDS = ("local", "compose", "scaled")
#: The files of each composed backend.
COMPOSE_FILES = {"compose": ("docker-compose.yml",), "scaled": ("docker-compose.yml", "compose.scale.yml")}
#: The scaled stack's Redis nodes: "redis" in a test means both (Redis down: no primary
#: and no replica to promote), as the single stack's one.
REDIS_NODES = ("redis", "redis-replica")
#: The scaled stack's Redis primary name (as the sentinels monitor it) and sentinels.
PRIMARY_NAME = "jwt-stack"
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")
#: The scaled stack's replicated services, each a backend of the load balancer, and where
#: the balancer's metrics are served (deploy/haproxy/haproxy.cfg; not published).
REPLICATED_SERVICES = tuple(s.name for s in stack_services())
LOAD_BALANCER_METRICS = "http://lb:8404/metrics"
#: Compose's health check and HAProxy's (every second, after a DNS refresh) agree within.
BALANCED_WITHIN_SECONDS = 30
#: The Redis passwords compose requires (deploy/redis/redis-server.sh): the operator's, then each service's.
REDIS_PASSWORDS = {"default": "REDIS_PASSWORD", **{s.name: s.redis_password for s in stack_services()}}
#: The services by the short names a Stack gives their URLs (auth, users, orders).
SHORT_NAMES = tuple(short_name(s) for s in stack_services())
#: The services with an API (an OpenAPI document): all but the console, which serves pages.
API_NAMES = tuple(name for name in SHORT_NAMES if name != "web")


def redis_cli_credentials(redis_url: str) -> list[str]:
    """redis-cli's options for logging in as the user, with the password, of ``redis_url``."""
    url = urlsplit(redis_url)
    return ["--user", url.username or "default", "--pass", url.password] if url.password else []


@dataclass
class Stack:
    """URLs and credentials of a running stack, and what a test needs beyond HTTP."""

    auth: str
    users: str
    orders: str
    #: The browser console (web_service).
    web: str
    admin_username: str
    admin_password: str
    client_secret: str
    read_key_file: Callable[[str], bytes]
    #: Run ``flask --app auth_service <args>`` where auth_service runs; its standard output.
    auth_cli: Callable[[list[str]], str]
    logs: Callable[[], str]
    restart: Callable[[list[str]], None]
    #: Take one service (redis, auth_service, users_service…) down, and bring it back.
    stop_service: Callable[[str], None]
    start_service: Callable[[str], None]
    #: "local", "compose" or "scaled".
    backend: str
    #: The environment a service runs with (what it holds, were it compromised).
    service_environment: Callable[[str], dict[str, str]]
    #: ``redis_command(who, *args)``: redis-cli's output for one command, sent with the
    #: credentials ``who`` holds: a service's are the REDIS_URL in its own environment;
    #: "default" is the operator's account (REDIS_PASSWORD).
    redis_command: Callable[..., str]
    #: What a reader's shell holds for make's helpers (make auth-cli, redis-cli, logs, run
    #: from the checkout) to find this stack, as they find `make dev`'s or `docker compose up`'s.
    reader_environment: dict[str, str] = field(default_factory=dict)
    #: compose only: run a command in a service's container; (exit code, output).
    container_command: Callable[[str, list[str]], tuple[int, str]] | None = None
    #: compose only: ``docker inspect`` of a service's container.
    inspect_container: Callable[[str], dict[str, Any]] | None = None
    #: scaled only: its replicas and its replicated Redis.
    scale: ScaledStack | None = None

    def keys(self) -> list[dict[str, Any]]:
        """``keys list --json``: every signing key and its state."""
        output = self.auth_cli(["keys", "list", "--json"])
        return list(json.loads(next(line for line in output.splitlines() if line.startswith("["))))

    def signing_key(self) -> tuple[str, Any]:
        """The active signing key (kid, private key), read where the backend keeps it."""
        kid = next(key["kid"] for key in self.keys() if key["state"] == "active")
        return kid, serialization.load_pem_private_key(self.read_key_file(f"{kid}.pem"), password=None)

    def metrics(self, service: str) -> str:
        """``service``'s /metrics text; on the scaled stack every replica's, one after the other
        (Prometheus scrapes each replica; a counter's sum over them is the service's)."""
        if self.scale is None:
            return requests.get(f"{getattr(self, service.removesuffix('_service'))}/metrics", timeout=10).text
        return "\n".join(self.scale.fetch(container, "/metrics")[1] for container in self.scale.replicas(service))

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """A token signed with the stack's real key, for claims the issuer would never mint."""
        kid, key = self.signing_key()
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt", **(headers or {})})


@dataclass
class Secrets:
    admin_password: str
    client_secret: str
    #: The dev client's, as make dev and make env register it (the tutorial uses it).
    dev_client_secret: str

    @classmethod
    def generate(cls) -> Secrets:
        return cls(secrets.token_urlsafe(18), secrets.token_urlsafe(32), secrets.token_urlsafe(32))

    def service_clients(self) -> str:
        clients = json.loads(load_script("devstack").dev_service_clients(self.dev_client_secret))
        clients[CLIENT_ID] = {"secret": self.client_secret, "scopes": "users:read orders:read", "introspect": True}
        return json.dumps(clients)


def wait_ready(urls: list[str], alive: Callable[[], bool], describe: Callable[[], str]) -> None:
    """Wait until every service answers /readyz with 200."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    pending = list(urls)
    while pending:
        if not alive():
            raise RuntimeError(f"the stack stopped during start-up:\n{describe()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stack was not ready in time:\n{describe()}")
        try:
            if requests.get(pending[0] + "/readyz", timeout=2).status_code == 200:
                pending.pop(0)
                continue
        except requests.RequestException:
            pass
        time.sleep(0.3)


class LocalProcesses:
    """The stack as `make dev` runs it; a restart stops and starts every process."""

    def __init__(self, data: Path, keys: Secrets, settings: dict[str, str] = STACK_SETTINGS):
        self.data = data
        self.ports = {name: free_port() for name in (*SHORT_NAMES, "redis")}
        self.log_path = data / "stack.log"
        self.env = {
            **os.environ,
            "DATA_DIR": str(data),
            **{s.port_variable: str(self.ports[short_name(s)]) for s in stack_services()},
            "REDIS_PORT": str(self.ports["redis"]),
            "ADMIN_USERNAME": ADMIN_USERNAME,
            "ADMIN_PASSWORD": keys.admin_password,
            "SERVICE_CLIENTS": keys.service_clients(),
            # The console accepts forms from the address the tests open it at.
            "PUBLIC_ORIGIN": f"http://127.0.0.1:{self.ports['web']}",
            **settings,
        }
        # devstack starts its own Redis and generates its passwords (into data/dev.env).
        for name in ("REDIS_URL", *REDIS_PASSWORDS.values()):
            self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "scripts" / "devstack.py")],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = self.process
        wait_ready(
            [self.url(n) for n in SHORT_NAMES],
            lambda: process.poll() is None,
            lambda: self.logs()[-4000:],
        )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self, _services: list[str]) -> None:
        self.stop()
        self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    # A local service is "down" while its process group is paused (SIGSTOP): connections
    # are accepted and never answered, the harsher failure (time-outs, not refusals).
    def _signal_service(self, name: str, signum: int) -> None:
        pid = int((self.data / "run" / f"{name}.pid").read_text())
        os.killpg(pid, signum)

    def stop_service(self, name: str) -> None:
        self._signal_service(name, signal.SIGSTOP)

    def start_service(self, name: str) -> None:
        self._signal_service(name, signal.SIGCONT)

    def read_key_file(self, name: str) -> bytes:
        return (self.data / "keys" / name).read_bytes()

    def dev_secret(self, name: str) -> str:
        """A secret devstack generated into data/dev.env."""
        for line in (self.data / "dev.env").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == name:
                return value
        raise KeyError(f"{name} is not in {self.data / 'dev.env'}")

    def redis_url(self, user: str) -> str:
        """The URL that logs in to the stack's Redis as ``user`` (a service's ACL user, or default)."""
        return f"redis://{user}:{self.dev_secret(REDIS_PASSWORDS[user])}@127.0.0.1:{self.ports['redis']}/0"

    def service_environment(self, name: str) -> dict[str, str]:
        """The environment a running service was started with (its gunicorn master's)."""
        pid = int((self.data / "run" / f"{name}.pid").read_text())
        entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        return dict(entry.decode().partition("=")[::2] for entry in entries if entry)

    def redis_command(self, who: str, *args: str) -> str:
        url = self.redis_url("default") if who == "default" else self.service_environment(who)["REDIS_URL"]
        port = str(urlsplit(url).port)
        result = subprocess.run(
            ["redis-cli", "--no-auth-warning", "-h", "127.0.0.1", "-p", port, *redis_cli_credentials(url), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return (result.stdout + result.stderr).strip()

    def auth_cli(self, args: list[str]) -> str:
        # As auth_service runs under make dev: its own Redis user.
        env = {**self.env, "KEYS_DIR": str(self.data / "keys"), "REDIS_URL": self.redis_url("auth_service")}
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "auth_service", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout


@contextmanager
def local_stack(scratch: Path) -> Iterator[Stack]:
    """The local processes, with ``scratch`` (an empty directory) as their data directory."""
    keys = Secrets.generate()
    processes = LocalProcesses(scratch, keys)
    try:
        processes.start()
        yield Stack(
            auth=processes.url("auth"),
            users=processes.url("users"),
            orders=processes.url("orders"),
            web=processes.url("web"),
            admin_username=ADMIN_USERNAME,
            admin_password=keys.admin_password,
            client_secret=keys.client_secret,
            read_key_file=processes.read_key_file,
            auth_cli=processes.auth_cli,
            logs=processes.logs,
            restart=processes.restart,
            stop_service=processes.stop_service,
            start_service=processes.start_service,
            backend="local",
            service_environment=processes.service_environment,
            redis_command=processes.redis_command,
            reader_environment={
                **{name: value for name, value in processes.env.items() if os.environ.get(name) != value},
                "DEV_CLIENT_SECRET": keys.dev_client_secret,
            },
        )
    finally:
        processes.stop()


#: A GET from inside a container, to a path of its own service (its port is the image's
#: PORT) or to a URL, with an optional bearer token: prints the status, then the body.
_FETCH_INSIDE = """
import os, sys, urllib.error, urllib.request
headers = {"Authorization": "Bearer " + sys.argv[2]} if len(sys.argv) > 2 else {}
url = sys.argv[1] if "://" in sys.argv[1] else f"http://127.0.0.1:{os.environ['PORT']}{sys.argv[1]}"
request = urllib.request.Request(url, headers=headers)
try:
    response = urllib.request.urlopen(request, timeout=10)
except urllib.error.HTTPError as refused:
    response = refused
print(response.status)
sys.stdout.write(response.read().decode())
"""


class ScaledStack:
    """What a test does to the scaled stack's containers: find, kill and start replicas, and
    see which Redis node is the primary. Commands go to the containers, never to their
    private addresses (tests reach the stack only through its ports on 127.0.0.1)."""

    def __init__(self, compose: list[str], subnet_prefix: str):
        self._compose = compose
        #: The nodes' fixed addresses (compose.scale.yml): how the sentinels name them.
        self._nodes = {f"{subnet_prefix}.10": "redis", f"{subnet_prefix}.11": "redis-replica"}

    def _run(self, *argv: str) -> str:
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])}…: {result.stderr[-2000:]}")
        return result.stdout

    def replicas(self, service: str) -> list[str]:
        """The running containers of ``service``, by id."""
        return self._run(*self._compose, "ps", "--quiet", service).split()

    def container_command(self, container: str, command: list[str]) -> tuple[int, str]:
        result = subprocess.run(["docker", "exec", container, *command], capture_output=True, text=True, timeout=60)
        return result.returncode, (result.stdout + result.stderr).strip()

    def logs(self, container: str) -> str:
        result = subprocess.run(["docker", "logs", container], capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    def fetch(self, container: str, path: str, token: str | None = None) -> tuple[int, str]:
        """GET ``path`` from one replica, inside its own container (the balancer would pick
        any), or a URL of the stack's networks from there: its status and body."""
        argv = ["python3", "-c", _FETCH_INSIDE, path, *([token] if token else [])]
        code, output = self.container_command(container, argv)
        assert code == 0, output
        status, _, body = output.partition("\n")
        return int(status), body

    def kill(self, container: str) -> None:
        """SIGKILL, as a machine that is lost: no shutdown, no goodbye to the load balancer."""
        self._run("docker", "kill", container)

    def start(self, container: str) -> None:
        self._run("docker", "start", container)

    def sentinel(self, *args: str) -> str:
        """One sentinel's answer (as the operator), from the first that answers."""
        for name in SENTINELS:
            code, output = self.container_command(self.replicas(name)[0], ["redis-cli", "-p", "26379", *args])
            if code == 0 and output:
                return output
        raise RuntimeError("no sentinel answers")

    def primary(self) -> str:
        """The Redis node the sentinels name as primary: "redis" or "redis-replica"."""
        address = self.sentinel("SENTINEL", "GET-MASTER-ADDR-BY-NAME", PRIMARY_NAME).split()[0]
        return self._nodes[address]

    def in_sync(self, node: str) -> bool:
        """Whether ``node`` is a replica of the primary with its replication link up."""
        code, info = self.container_command(self.replicas(node)[0], ["redis-cli", "INFO", "replication"])
        return code == 0 and "role:slave" in info and "master_link_status:up" in info

    def balanced(self) -> dict[str, int]:
        """How many replicas of each service the load balancer sends requests to: its own
        haproxy_server_status metric (deploy/haproxy/haproxy.cfg), read from a container on
        the stack's network."""
        status, metrics = self.fetch(self.replicas("users_service")[0], LOAD_BALANCER_METRICS)
        assert status == 200, metrics
        up = dict.fromkeys(REPLICATED_SERVICES, 0)
        for family in text_string_to_metric_families(metrics):
            if family.name == "haproxy_server_status":
                for sample in family.samples:
                    if sample.labels["state"] == "UP" and sample.value == 1:
                        up[sample.labels["proxy"]] += 1
        return up

    def running(self) -> dict[str, int]:
        """How many containers of each service are running."""
        return {service: len(self.replicas(service)) for service in REPLICATED_SERVICES}

    def wait_balanced(self) -> None:
        """Until the load balancer sends requests to every running replica. Compose calls a
        container healthy on its own check; HAProxy takes it back on its own, up to a check
        interval and a DNS refresh later, and until then sends its share to the others."""
        deadline = time.monotonic() + BALANCED_WITHIN_SECONDS
        while (balanced := self.balanced()) != (running := self.running()):
            if time.monotonic() > deadline:
                # Its log says why (a replica's failed checks, a DNS change), and holds no request.
                why = self.logs(self.replicas("lb")[0])[-3000:]
                raise AssertionError(f"the load balancer sends to {balanced}, running: {running}\n{why}")
            time.sleep(0.5)

    def wait_healthy(self) -> None:
        """Until every container is up and healthy again (compose's own wait), and the load
        balancer sends requests to each."""
        self._run(*self._compose, "up", "--detach", "--wait")
        self.wait_balanced()

    def scale_to(self, service: str, replicas: int) -> None:
        """``replicas`` containers of ``service``, healthy and balanced (the others are left
        as they are)."""
        self._run(*self._compose, "up", "--detach", "--wait", "--no-recreate", "--scale", f"{service}={replicas}")
        self.wait_balanced()


@contextmanager
def compose_stack(scratch: Path, *, scaled: bool = False) -> Iterator[Stack]:
    """The composed stack (``scaled``: with compose.scale.yml); its env file goes into ``scratch``."""
    from testcontainers.compose import DockerCompose

    keys = Secrets.generate()
    ports = {name: free_port() for name in SHORT_NAMES}
    env_file = scratch / "e2e.env"
    files = COMPOSE_FILES["scaled" if scaled else "compose"]
    # A subnet of its own: the scaled stack's Redis nodes and sentinels have fixed addresses.
    subnet_prefix = f"10.213.{secrets.randbelow(150) + 100}"
    settings = {
        "COMPOSE_PROJECT_NAME": f"jwt-stack-e2e-{secrets.token_hex(3)}",
        **(
            {
                "SCALE_SUBNET_PREFIX": subnet_prefix,
                "REDIS_REPLICATION_PASSWORD": secrets.token_urlsafe(18),
                "REDIS_SENTINEL_PASSWORD": secrets.token_urlsafe(18),
            }
            if scaled
            else {}
        ),
        **{s.port_variable: ports[short_name(s)] for s in stack_services()},
        "ADMIN_USERNAME": ADMIN_USERNAME,
        "ADMIN_PASSWORD": keys.admin_password,
        "POSTGRES_PASSWORD": secrets.token_urlsafe(18),
        "USERS_DB_PASSWORD": secrets.token_urlsafe(18),
        "ORDERS_DB_PASSWORD": secrets.token_urlsafe(18),
        **{variable: secrets.token_urlsafe(18) for variable in REDIS_PASSWORDS.values()},
        **{s.client_secret: secrets.token_urlsafe(32) for s in stack_services() if s.client_secret},
        "SERVICE_CLIENTS": keys.service_clients(),
        "PUBLIC_ORIGIN": f"http://127.0.0.1:{ports['web']}",
        # Where the console's pages link to each API service's /docs.
        **{
            f"{name.upper()}_SERVICE_PUBLIC_URL": f"http://127.0.0.1:{ports[name]}"
            for name in ("auth", "users", "orders")
        },
        **STACK_SETTINGS,
    }
    # Single quotes: compose takes the value literally (JSON, spaces).
    env_file.write_text("".join(f"{name}='{value}'\n" for name, value in settings.items()))
    compose = DockerCompose(ROOT, compose_file_name=list(files), build=True, wait=True, env_file=str(env_file))
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

    def compose_command(*args: str) -> None:
        subprocess.run([*compose.compose_command_property, *args], cwd=ROOT, check=True, capture_output=True)

    def services(names: list[str]) -> list[str]:
        return [node for name in names for node in (REDIS_NODES if scaled and name == "redis" else [name])]

    scale = ScaledStack(compose.compose_command_property, subnet_prefix) if scaled else None

    def wait_healthy() -> None:
        if scale:
            scale.wait_healthy()
        else:
            compose_command("up", "--detach", "--wait")  # returns once every service is healthy again

    def restart(names: list[str]) -> None:
        compose_command("restart", *services(names))
        wait_healthy()
        wait_ready(list(urls.values()), lambda: True, lambda: compose.get_logs()[0][-4000:])

    def start_service(name: str) -> None:
        compose_command("start", *services([name]))
        wait_healthy()

    def read_key_file(name: str) -> bytes:
        stdout, _stderr, code = compose.exec_in_container(["cat", f"/var/lib/auth_service/keys/{name}"], "auth_service")
        assert code == 0, f"cannot read {name} in auth_service"
        return stdout.encode()

    def auth_cli(args: list[str]) -> str:
        stdout, stderr, code = compose.exec_in_container(["flask", "--app", "auth_service", *args], "auth_service")
        assert code == 0, stderr[-2000:]
        return stdout

    def container_command(service: str, command: list[str]) -> tuple[int, str]:
        # Not exec_in_container: that raises on a non-zero exit, which some checks expect.
        argv = [*compose.compose_command_property, "exec", "-T", service, *command]
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
        return result.returncode, (result.stdout + result.stderr).strip()

    @functools.cache  # a container keeps its environment across restarts
    def service_environment(service: str) -> dict[str, str]:
        code, output = container_command(service, ["printenv"])
        assert code == 0, output
        return dict(line.partition("=")[::2] for line in output.splitlines() if "=" in line)

    def redis_command(who: str, *args: str) -> str:
        if who == "default":
            credentials = ["--user", "default", "--pass", str(settings["REDIS_PASSWORD"])]
        else:
            credentials = redis_cli_credentials(service_environment(who)["REDIS_URL"])
        return container_command("redis", ["redis-cli", "--no-auth-warning", *credentials, *args])[1]

    def crashed_containers() -> dict[str, int]:
        """The containers that Docker's restart policy has started again, and how often:
        each a process that exited on its own (compose's own stops and restarts do not count)."""
        listed = subprocess.run(
            [*compose.compose_command_property, "ps", "--all", "--quiet"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        inspected = subprocess.run(
            ["docker", "inspect", "--format", "{{.Name}} {{.RestartCount}}", *listed.stdout.split()],
            check=True,
            capture_output=True,
            text=True,
        )
        counts = {
            name.lstrip("/"): int(count) for name, count in (line.split() for line in inspected.stdout.splitlines())
        }
        return {name: count for name, count in counts.items() if count}

    def inspect_container(service: str) -> dict[str, Any]:
        container_id = compose.get_container(service).ID
        inspected = subprocess.run(["docker", "inspect", container_id], check=True, capture_output=True, text=True)
        return dict(json.loads(inspected.stdout)[0])

    try:
        compose.start()
        wait_ready(list(urls.values()), lambda: True, lambda: compose.get_logs()[0][-4000:])
        # Healthy now is not enough: a replica that crashed at start (two replicas creating
        # one table at once) is restarted by its policy and is healthy the second time.
        crashed = crashed_containers()
        assert not crashed, f"crashed at start and restarted: {crashed}\n{compose.get_logs()[0][-4000:]}"
        if scale:
            scale.wait_balanced()
        yield Stack(
            auth=urls["auth"],
            users=urls["users"],
            orders=urls["orders"],
            web=urls["web"],
            admin_username=ADMIN_USERNAME,
            admin_password=keys.admin_password,
            client_secret=keys.client_secret,
            read_key_file=read_key_file,
            auth_cli=auth_cli,
            logs=lambda: compose.get_logs()[0],
            restart=restart,
            stop_service=lambda name: compose_command("stop", *services([name])),
            start_service=start_service,
            backend="scaled" if scaled else "compose",
            service_environment=service_environment,
            redis_command=redis_command,
            reader_environment={
                "COMPOSE_PROJECT_NAME": str(settings["COMPOSE_PROJECT_NAME"]),
                "COMPOSE_FILE": os.pathsep.join(files),
                "COMPOSE_ENV_FILES": str(env_file),
                "DEV_CLIENT_SECRET": keys.dev_client_secret,
            },
            container_command=container_command,
            inspect_container=inspect_container,
            scale=scale,
        )
    finally:
        compose.stop()
