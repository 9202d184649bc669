"""``make bench``: the real endpoints under the traffic production sends them, against a bare Flask app.

Starts the stack as ``make dev`` runs it (fresh data directory, free loopback ports,
production defaults but the sign-up limit), then measures in one run:

  (a) under wrk, every row in the same alternating rounds so machine noise hits all
      alike: a bare Flask app (bench/bare_app.py) beside the stack under the services'
      gunicorn process model, ``/plain`` and ``/naive`` (PyJWT plus one Redis read);
      bench/auth_cost_app.py, where authentication is the only difference between its
      two endpoints; users_service's ``/healthz`` and ``/users/me``; orders_service's
      ``/healthz`` and ``GET /orders``. Authenticated rows send either one token again
      and again or the token mix: a different genuine token on every request, of many
      users with data of their own (bench/token_mix.py), until the list wraps;
  (b) the verifier in-process, on a new token each call, against a bare PyJWT decode
      plus one Redis round trip;
  (c) login and refresh latency;
  (d) how soon a logout is seen by users_service and orders_service;
  (e) cold start of the stack until every service is ready;
  (f) introspection and token exchange latency, and what orders_service's cache of
      exchanged tokens saves an order (``POST /orders``, one token against a fresh one each).

Writes ``results.json`` and ``chart.png`` to the results folder and prints a table with
each target and whether it is met; ``--check`` exits 1 when one is missed. ``--scaled``
measures the scaled stack instead (bench/scaled.py), into ``scaled.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import flamegraphs, flows, inprocess, report, scaled, token_mix  # noqa: E402
from bench.wrk import LoadResult, run_wrk  # noqa: E402
from secure_service.settings import Source, VerifierSettings  # noqa: E402
from tests.e2e.stacks import CLIENT_ID, READY_TIMEOUT_SECONDS, LocalProcesses, Secrets  # noqa: E402 - the e2e suite's local stacks
from tests.support import free_port, stack_services  # noqa: E402

#: The variable holding orders_service's OAuth client secret (deploy/services.toml).
ORDERS_CLIENT_SECRET = next(s.client_secret for s in stack_services() if s.name == flows.ORDERS_CLIENT_ID)
#: The stack's settings beyond production defaults. Every user of the token mix signs up
#: from 127.0.0.1, hundreds of them: the default of 10 sign-ups per hour per address
#: would refuse the eleventh. No measured request is a sign-up, so no figure depends on it.
BENCH_STACK_SETTINGS = {"SIGNUP_LIMIT_PER_ADDRESS": "100000 per hour"}
#: A token of the mix must outlive the run it is sent in by this much, or the mix is minted again.
TOKEN_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class Size:
    """How big the token mix is: users, tokens each, orders each."""

    users: int
    tokens_per_user: int
    orders_per_user: int


#: At least this many distinct tokens in the full mix (issue 14), across this many users.
MIN_MIX_TOKENS, MIX_USERS, ORDERS_PER_USER = 20_000, 200, 3
#: The short mode's mix: enough to be a mix, quick to mint; it wraps, so caches get hits.
QUICK = Size(users=20, tokens_per_user=100, orders_per_user=2)


def full_size(settings: VerifierSettings, workers: int) -> Size:
    """A mix no verified-token cache can answer from, with the services' cache size.

    The verified-token cache starts over once it holds VERIFIED_TOKEN_CACHE_ENTRIES tokens.
    gunicorn hands each request to any of its workers, so between two sightings of a token
    one worker sees about 1/workers of the others: with 20 % to spare, each worker must see
    enough of them between two sightings to fill that cache, and a repeated token always
    finds it started over since. (The revocation check holds no per-token memory to
    defeat: the worker's deny-list answers for every token alike, revocation_cache.py.)
    """
    tokens = max(MIN_MIX_TOKENS, math.ceil(1.2 * workers * settings.verified_token_cache_entries))
    return Size(users=MIX_USERS, tokens_per_user=math.ceil(tokens / MIX_USERS), orders_per_user=ORDERS_PER_USER)


@dataclass(frozen=True)
class Endpoint:
    """One row of the load table."""

    service: str
    path: str
    url: str
    leader: int  # the process group whose CPU is counted (a gunicorn master and its workers)
    tokens: str  # "none", "one" (the same token on every request) or "mix"
    healthz: str  # the row this endpoint is compared with in its own service


def row_name(service: str, path: str, tokens: str = "none") -> str:
    """A row's key in results.json: ``users_service /users/me, token mix``."""
    return f"{service} {path}" + {"none": "", "one": ", one token", "mix": ", token mix"}[tokens]


#: The row every other is a ratio to.
BARE = row_name("bare", "/plain")


def process_cpu_seconds(group_leader: int) -> float:
    """User+system CPU of every process in a process group (a gunicorn master and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        # After the command name: state, ppid, pgrp, ... utime (12th), stime (13th).
        if int(fields[2]) == group_leader:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


@contextmanager
def started_stack(data: Path) -> Iterator[tuple[LocalProcesses, Secrets, float]]:
    """A running stack, its secrets, and how many seconds it took from launch to every /readyz answering."""
    data.mkdir(parents=True)
    # Production defaults but BENCH_STACK_SETTINGS: none of the e2e suite's test settings.
    # The caller's environment (WEB_CONCURRENCY, GUNICORN_THREADS, the cache sizes…) reaches
    # every process. The secrets define the e2e suite's client (CLIENT_ID), which may introspect.
    keys = Secrets.generate()
    processes = LocalProcesses(data, keys, settings=BENCH_STACK_SETTINGS)
    start = time.perf_counter()
    processes.start()
    try:
        yield processes, keys, time.perf_counter() - start
    finally:
        processes.stop()


@contextmanager
def bench_app(processes: LocalProcesses, name: str, config: str) -> Iterator[tuple[str, int]]:
    """bench/<name>.py under gunicorn (settings ``config``) beside the stack: its URL and process group."""
    port = free_port()
    auth = processes.url("auth")
    env = {
        **os.environ,
        "PORT": str(port),
        # A resource service like users_service, with its Redis user.
        "REDIS_URL": processes.redis_url("users_service"),
        "JWT_ISSUER": auth,
        "JWKS_URL": f"{auth}/.well-known/jwks.json",
    }
    argv = [sys.executable, "-m", "gunicorn", "-c", config, f"bench.{name}:create_app()"]
    with open(processes.data / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # Each app answers /plain once it is up (the bare app has no /readyz).
        wait_answering(f"{url}/plain", lambda: process.poll() is None, name)
        yield url, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wait_answering(url: str, alive: Callable[[], bool], name: str) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        if not alive():
            raise RuntimeError(f"{name} exited during start-up")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer {url} in {READY_TIMEOUT_SECONDS}s")
        time.sleep(0.2)


class Mix:
    """The token mix, minted again whenever the next run would outlast its tokens."""

    def __init__(self, minter: token_mix.Minter, users: list[Any], size: Size, folder: Path):
        self.minter, self.users, self.size, self.folder = minter, users, size, folder
        self.mints: list[token_mix.TokenMix] = []
        self._mint()

    def _mint(self) -> None:
        path = self.folder / f"tokens-{len(self.mints)}.txt"
        self.mints.append(
            token_mix.mint_mix(
                self.minter,
                self.users,
                self.size.tokens_per_user,
                path,
                orders_per_user=self.size.orders_per_user,
                say=report.say,
            )
        )

    def valid_for(self, seconds: float) -> token_mix.TokenMix:
        """The current mix, minted again first if a token would expire within ``seconds``."""
        if self.mints[-1].seconds_left() < seconds + TOKEN_MARGIN_SECONDS:
            report.say("the mix's tokens would expire during the next run: minting it again")
            self._mint()
        return self.mints[-1]


def redis_mget_calls(operator: redis.Redis) -> int:
    """How many MGETs Redis has answered (INFO commandstats): a verifier's revocation reads."""
    return int(operator.info("commandstats").get("cmdstat_mget", {}).get("calls", 0))


def load_rounds(
    endpoints: dict[str, Endpoint],
    token: str,
    mix: Mix,
    operator: redis.Redis,
    *,
    rounds: int,
    seconds: float,
    warm_up_seconds: float,
    connections: int,
) -> dict[str, Any]:
    """Every endpoint under wrk, in alternating rounds (A-B-C…, then …C-B-A), so drift in
    the machine's speed hits every row alike; each figure is the median of its rounds.

    A mix row's runs go on where its previous run stopped in the token list, so a
    token comes back only once the whole list has been sent.
    """
    next_index = dict.fromkeys(endpoints, 0)

    def run(name: str, duration: float) -> tuple[LoadResult, float, int]:
        endpoint = endpoints[name]
        headers = {"Authorization": f"Bearer {token}"} if endpoint.tokens == "one" else {}
        token_file = mix.valid_for(duration).path if endpoint.tokens == "mix" else None
        cpu_before, mget_before = process_cpu_seconds(endpoint.leader), redis_mget_calls(operator)
        result = run_wrk(
            endpoint.url,
            seconds=duration,
            connections=connections,
            headers=headers,
            token_file=token_file,
            start=next_index[name],
        )
        cpu = process_cpu_seconds(endpoint.leader) - cpu_before
        mgets = redis_mget_calls(operator) - mget_before
        if result.failed:
            raise RuntimeError(f"{name}: {result.failed} of {result.requests} requests failed; the figures would lie")
        next_index[name] = result.next_index
        return result, cpu, mgets

    report.say(f"warm-up: {len(endpoints)} endpoints, {warm_up_seconds:g}s each (not recorded)")
    for name in endpoints:
        run(name, warm_up_seconds)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in endpoints}
    for round_number in range(rounds):
        order = list(endpoints) if round_number % 2 == 0 else list(reversed(endpoints))
        for position, name in enumerate(order, 1):
            report.say(f"load round {round_number + 1}/{rounds}, {position}/{len(order)}: {name}")
            result, cpu, mgets = run(name, seconds)
            runs[name].append(
                {
                    "per_second": result.per_second,
                    "p50_ms": result.p50_ms,
                    "p99_ms": result.p99_ms,
                    "cpu_us_per_request": cpu / result.requests * 1e6,
                    "redis_mget_per_request": mgets / result.requests,
                    "requests": result.requests,
                    "tokens_sent": result.tokens_sent,
                    "distinct_tokens": result.distinct_tokens,
                }
            )
    medians = ("per_second", "p50_ms", "p99_ms", "cpu_us_per_request", "redis_mget_per_request")
    out: dict[str, Any] = {}
    for name, endpoint in endpoints.items():
        out[name] = {
            "service": endpoint.service,
            "path": endpoint.path,
            "url": endpoint.url,
            "tokens": endpoint.tokens,
            "healthz": endpoint.healthz,
            "summary": {key: statistics.median(r[key] for r in runs[name]) for key in medians},
            "tokens_sent": sum(r["tokens_sent"] for r in runs[name]),
            "rounds": runs[name],
        }
    for name, row in out.items():
        for ratio, other in (("ratio_to_bare", BARE), ("ratio_to_healthz", row["healthz"])):
            row[ratio] = row["summary"]["per_second"] / out[other]["summary"]["per_second"]
        row["ratio_to_bare_per_round"] = [
            r["per_second"] / b["per_second"] for r, b in zip(runs[name], runs[BARE], strict=True)
        ]
    return out


#: The rows sampled with --profile: the service floor and the two real endpoints under the mix.
PROFILED_ROWS = (
    row_name("users_service", "/healthz"),
    row_name("users_service", "/users/me", "mix"),
    row_name("orders_service", "/orders", "mix"),
)


def profile_rows(
    endpoints: dict[str, Endpoint], token: str, mix: Mix, folder: Path, *, seconds: float, connections: int
) -> dict[str, dict[str, float]]:
    """Flame graphs and shares of each of PROFILED_ROWS, under the same wrk load as a round."""
    out = {}
    for name in PROFILED_ROWS:
        endpoint = endpoints[name]
        report.say(f"profile: {name}, py-spy {seconds:g}s twice (flame graph, shares)")

        def load(duration: float, endpoint: Endpoint = endpoint) -> None:
            run_wrk(
                endpoint.url,
                seconds=duration,
                connections=connections,
                headers={"Authorization": f"Bearer {token}"} if endpoint.tokens == "one" else {},
                token_file=mix.valid_for(duration).path if endpoint.tokens == "mix" else None,
            )

        slug = name.replace("_service", "").replace("/", "").replace(",", "").replace(" ", "-")
        out[name] = flamegraphs.profile_row(load, endpoint.leader, seconds, folder, slug)
    return out


def measure_compose(scratch: Path, *, quick: bool) -> dict[str, Any]:
    """The composed stack, as the e2e suite runs it: time to healthy, then the token flows."""
    from tests.e2e.stacks import compose_stack

    directory = scratch / "compose"
    directory.mkdir()
    start = time.perf_counter()
    with compose_stack(directory) as stack:
        seconds = time.perf_counter() - start
        report.say(f"composed stack healthy in {seconds:.1f}s; token flows")
        client = flows.Flows(stack.auth, stack.users, stack.orders)
        username = client.new_user()
        return {
            "cold_start_seconds": seconds,
            "login": asdict(client.login_latency(username, 10 if quick else 30)),
            "refresh": asdict(client.refresh_latency(username, 30 if quick else 100)),
            "revocation": asdict(client.revocation_propagation(username, 10 if quick else 80)),
        }


def run_scaled(args: argparse.Namespace) -> int:
    """The scaled mode alone: its own scaled stack, results in scaled.json."""
    from tests.e2e.stacks import compose_stack

    with (
        tempfile.TemporaryDirectory(prefix="bench-scaled-") as scratch,
        compose_stack(Path(scratch), scaled=True) as stack,
    ):
        measured = scaled.measure_scaled(
            stack,
            Path(scratch),
            rounds=2 if args.quick else args.rounds,
            seconds=2 if args.quick else args.seconds,
            connections=args.connections,
            quick=args.quick,
        )
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"rounds": args.rounds, "seconds_per_round": args.seconds, "connections": args.connections},
        "scaled": measured,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "scaled.json").write_text(json.dumps(results, indent=2) + "\n")
    scaled.print_scaled(measured)
    report.say(f"wrote {args.results / 'scaled.json'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results", help="folder for the results")
    parser.add_argument("--rounds", type=int, default=6, help="alternating load rounds per endpoint")
    parser.add_argument("--seconds", type=float, default=5, help="seconds of load per round")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--cold-starts", type=int, default=3, help="stack starts to time")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (figures are rough)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy flame graphs of the profiled rows, with their shares"
    )
    parser.add_argument(
        "--compose", action="store_true", help="also time the composed stack's start and token flows (needs Docker)"
    )
    parser.add_argument(
        "--scaled",
        action="store_true",
        help="instead: the scaled stack with 1 and 3 users_service replicas, and revocation across replicas (Docker)",
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like an exception, so every stack started here is stopped.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    if args.scaled:
        return run_scaled(args)
    if args.quick:
        args.rounds, args.seconds, args.cold_starts = 2, 2, 1
    calls = 200 if args.quick else 1000
    workers = int(os.environ.get("WEB_CONCURRENCY") or "2")

    with tempfile.TemporaryDirectory(prefix="bench-stack-") as scratch:
        cold_starts = []
        for attempt in range(args.cold_starts - 1):
            with started_stack(Path(scratch) / f"cold-{attempt}") as (_, _keys, seconds):
                cold_starts.append(seconds)
        with started_stack(Path(scratch) / "measured") as (processes, keys, seconds):
            cold_starts.append(seconds)
            report.say(f"stack ready in {seconds:.1f}s")
            auth, users, orders = processes.url("auth"), processes.url("users"), processes.url("orders")
            client = flows.Flows(auth, users, orders)
            username = client.new_user()
            # The cache sizes the services run with, read the way they read them.
            service_settings = VerifierSettings.load(
                Source(
                    {
                        "JWT_ISSUER": auth,
                        "JWKS_URL": f"{auth}/.well-known/jwks.json",
                        "REDIS_URL": processes.redis_url("users_service"),
                    }
                ),
                "users_service",
            )
            size = QUICK if args.quick else full_size(service_settings, workers)
            report.say(f"token mix: {size.users} users sign up, {size.orders_per_user} orders each")
            mix_users = token_mix.create_users(users, size.users)
            minter = token_mix.Minter(
                {
                    "KEYS_DIR": str(processes.data / "keys"),
                    "JWT_ISSUER": auth,
                    "JWKS_URL": f"{auth}/.well-known/jwks.json",
                    "USERS_SERVICE_URL": users,
                    "REDIS_URL": processes.redis_url("auth_service"),
                    "ORDERS_SERVICE_CLIENT_SECRET": processes.dev_secret(ORDERS_CLIENT_SECRET),
                }
            )
            first_tokens = minter.access_tokens(mix_users, 1)
            token_mix.place_orders(orders, list(zip(mix_users, first_tokens, strict=True)), size.orders_per_user)
            with (
                bench_app(processes, "bare_app", "bench/bare_gunicorn.conf.py") as (bare_url, bare_leader),
                bench_app(processes, "auth_cost_app", "bench/gunicorn.conf.py") as (cost_url, cost_leader),
            ):
                leaders = {
                    "bare": bare_leader,
                    "auth_cost_app": cost_leader,
                    **{
                        name: int((processes.data / "run" / f"{name}.pid").read_text())
                        for name in ("users_service", "orders_service")
                    },
                }
                bases = {"bare": bare_url, "auth_cost_app": cost_url, "users_service": users, "orders_service": orders}
                rows = [
                    ("bare", "/plain", "none", "/plain"),
                    ("bare", "/naive", "mix", "/plain"),
                    ("auth_cost_app", "/plain", "none", "/plain"),
                    ("auth_cost_app", "/authenticated", "mix", "/plain"),
                    ("users_service", "/healthz", "none", "/healthz"),
                    ("users_service", "/users/me", "one", "/healthz"),
                    ("users_service", "/users/me", "mix", "/healthz"),
                    ("orders_service", "/healthz", "none", "/healthz"),
                    ("orders_service", "/orders", "mix", "/healthz"),
                ]
                endpoints = {
                    row_name(service, path, tokens): Endpoint(
                        service, path, bases[service] + path, leaders[service], tokens, row_name(service, healthz)
                    )
                    for service, path, tokens, healthz in rows
                }
                mix = Mix(minter, mix_users, size, Path(scratch))
                # Logged in now, not before the sign-ups: it must outlive the rounds too.
                token = client.login(username)["access_token"]
                load = load_rounds(
                    endpoints,
                    token,
                    mix,
                    redis.Redis.from_url(processes.redis_url("default")),
                    rounds=args.rounds,
                    seconds=args.seconds,
                    warm_up_seconds=1 if args.quick else 2,
                    connections=args.connections,
                )
                profiles = (
                    profile_rows(
                        endpoints,
                        token,
                        mix,
                        args.results,
                        seconds=4 if args.quick else 12,
                        connections=args.connections,
                    )
                    if args.profile
                    else None
                )
            verifier_rounds = 5 if args.quick else 15
            report.say(f"verifier in-process: {verifier_rounds} interleaved batches of {calls} calls per operation")
            verifier = inprocess.measure(
                mix.valid_for(60).lines(),
                audience="users_service",
                issuer=auth,
                jwks_url=f"{auth}/.well-known/jwks.json",
                # auth_service's Redis user: it may also run the floor's EXISTS.
                redis_url=processes.redis_url("auth_service"),
                rounds=verifier_rounds,
                calls=calls,
            )
            report.say("token flows: login, refresh, logout seen by the services")
            login = client.login_latency(username, 10 if args.quick else 30)
            refresh = client.refresh_latency(username, 30 if args.quick else 100)
            revocation = client.revocation_propagation(username, 10 if args.quick else 80)
            report.say("introspection, token exchange, orders with one token and with fresh ones")
            orders_client = (flows.ORDERS_CLIENT_ID, processes.dev_secret(ORDERS_CLIENT_SECRET))
            token = client.login(username)["access_token"]
            introspect = client.introspect_latency(token, (CLIENT_ID, keys.client_secret), 50 if args.quick else 300)
            exchange = client.exchange_latency(username, orders_client, 40 if args.quick else 200)
            exchange_cache = client.exchange_cache(username, 40 if args.quick else 200)
        composed = measure_compose(Path(scratch), quick=args.quick) if args.compose else None

    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {
            "rounds": args.rounds,
            "seconds_per_round": args.seconds,
            "connections": args.connections,
            "gunicorn": {
                "workers": workers,
                "threads": int(os.environ.get("GUNICORN_THREADS", "1")),
            },
        },
        "mix": {
            **asdict(size),
            "mints": [{**asdict(m), "path": m.path.name} for m in mix.mints],
        },
        "http": load,
        "verifier": {**asdict(verifier), "ratio_to_floor": verifier.ratio_to_floor},
        "login": asdict(login),
        "refresh": asdict(refresh),
        "revocation": asdict(revocation),
        "introspect": asdict(introspect),
        "exchange": asdict(exchange),
        "exchange_cache": exchange_cache.summary(),
        "cold_start_seconds": cold_starts,
        "compose": composed,
        "profile": profiles,
    }
    results["targets"] = report.targets(results)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.chart(results, args.results / "chart.png")
    report.print_table(results)
    report.say(f"wrote {args.results / 'results.json'} and {args.results / 'chart.png'}")
    missed = [t for t in results["targets"] if not t["met"]]
    if args.check and missed:
        for target in missed:
            report.say(f"missed: {target['name']}: {target['value']:.3g}, bound {target['target']}. {target['why']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
