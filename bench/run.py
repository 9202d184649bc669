"""``make bench``: what authentication costs per request, measured on the running stack.

Starts the stack as ``make dev`` runs it (fresh data directory, free loopback ports,
production defaults), then measures in one run:

  (a) under wrk, in alternating rounds so machine noise hits both alike: a plain
      endpoint against an authenticated one of the same service, twice: in
      bench/auth_cost_app.py, where authentication is the only difference, and in
      users_service (``/healthz`` against ``/users/me``, which also reads the database);
  (b) the verifier in-process against a bare PyJWT decode plus one Redis round trip;
  (c) login and refresh latency;
  (d) how soon a logout is seen by users_service and orders_service;
  (e) cold start of the stack until every service is ready;
  (f) introspection and token exchange latency, and what orders_service's cache of
      exchanged tokens saves an order (``POST /orders``, one token against a fresh one each).

Writes ``results.json`` and ``chart.png`` to the results folder and prints a table with
each target and whether it is met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import flows, inprocess, report  # noqa: E402
from bench.wrk import LoadResult, run_wrk  # noqa: E402
from tests.e2e.stacks import CLIENT_ID, LocalProcesses, Secrets, wait_ready  # noqa: E402 - the e2e suite's local stacks
from tests.support import free_port, stack_services  # noqa: E402

#: The variable holding orders_service's OAuth client secret (deploy/services.toml).
ORDERS_CLIENT_SECRET = next(s.client_secret for s in stack_services() if s.name == flows.ORDERS_CLIENT_ID)

#: A process group leader, a plain endpoint and an authenticated endpoint of one service.
Pair = tuple[int, str, str]


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
    # Production defaults: none of the e2e suite's test settings. The caller's environment
    # (WEB_CONCURRENCY, GUNICORN_THREADS, the cache sizes…) reaches every process. The
    # secrets define the e2e suite's client (CLIENT_ID), which may introspect.
    keys = Secrets.generate()
    processes = LocalProcesses(data, keys, settings={})
    start = time.perf_counter()
    processes.start()
    try:
        yield processes, keys, time.perf_counter() - start
    finally:
        processes.stop()


@contextmanager
def auth_cost_app(processes: LocalProcesses) -> Iterator[tuple[str, int]]:
    """bench/auth_cost_app.py under gunicorn beside the stack: its URL and process group."""
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
    argv = [sys.executable, "-m", "gunicorn", "-c", "bench/gunicorn.conf.py", "bench.auth_cost_app:create_app()"]
    with open(processes.data / "auth_cost_app.log", "ab") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready([url], lambda: process.poll() is None, lambda: "auth_cost_app exited during start-up")
        yield url, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def load_rounds(pairs: dict[str, Pair], token: str, *, rounds: int, seconds: float, connections: int) -> dict[str, Any]:
    """Each pair's plain and authenticated endpoint under wrk, in alternating rounds.

    Rounds go A-B, B-A, … across every endpoint, so drift in the machine's speed hits
    plain and authenticated alike.
    """
    auth_header = {"Authorization": f"Bearer {token}"}
    endpoints = {
        (pair, kind): (url, auth_header if kind == "authenticated" else {}, leader)
        for pair, (leader, plain_url, authenticated_url) in pairs.items()
        for kind, url in (("plain", plain_url), ("authenticated", authenticated_url))
    }
    for url, headers, _ in endpoints.values():  # warm-up, not recorded
        run_wrk(url, seconds=2, connections=connections, headers=headers)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {name: [] for name in endpoints}
    for round_number in range(rounds):
        order = list(endpoints) if round_number % 2 == 0 else list(reversed(endpoints))
        for name in order:
            url, headers, leader = endpoints[name]
            cpu_before = process_cpu_seconds(leader)
            result: LoadResult = run_wrk(url, seconds=seconds, connections=connections, headers=headers)
            cpu = process_cpu_seconds(leader) - cpu_before
            if result.failed:
                raise RuntimeError(
                    f"{name}: {result.failed} of {result.requests} requests failed; the figures would lie"
                )
            runs[name].append(
                {
                    "per_second": result.per_second,
                    "p50_ms": result.p50_ms,
                    "p99_ms": result.p99_ms,
                    "cpu_us_per_request": cpu / result.requests * 1e6,
                }
            )
    out: dict[str, Any] = {}
    for pair in pairs:
        summary = {
            kind: {key: statistics.median(run[key] for run in runs[(pair, kind)]) for key in runs[(pair, kind)][0]}
            for kind in ("plain", "authenticated")
        }
        per_round = [
            a["per_second"] / p["per_second"]
            for a, p in zip(runs[(pair, "authenticated")], runs[(pair, "plain")], strict=True)
        ]
        out[pair] = {
            "endpoints": {kind: endpoints[(pair, kind)][0] for kind in ("plain", "authenticated")},
            "summary": summary,
            "ratio": summary["authenticated"]["per_second"] / summary["plain"]["per_second"],
            "ratio_per_round": per_round,
            "rounds": {kind: runs[(pair, kind)] for kind in ("plain", "authenticated")},
        }
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
        "--compose", action="store_true", help="also time the composed stack's start and token flows (needs Docker)"
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like an exception, so every stack started here is stopped.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    if args.quick:
        args.rounds, args.seconds, args.cold_starts = 2, 2, 1
    calls = 200 if args.quick else 1000

    with tempfile.TemporaryDirectory(prefix="bench-stack-") as scratch:
        cold_starts = []
        for attempt in range(args.cold_starts - 1):
            with started_stack(Path(scratch) / f"cold-{attempt}") as (_, _keys, seconds):
                cold_starts.append(seconds)
        with started_stack(Path(scratch) / "measured") as (processes, keys, seconds):
            cold_starts.append(seconds)
            report.say(f"stack ready in {seconds:.1f}s; measuring")
            client = flows.Flows(processes.url("auth"), processes.url("users"), processes.url("orders"))
            username = client.new_user()
            token = client.login(username)["access_token"]
            users = processes.url("users")
            with auth_cost_app(processes) as (cost_url, cost_leader):
                users_leader = int((processes.data / "run" / "users_service.pid").read_text())
                pairs = {
                    "auth_cost_app": (cost_leader, f"{cost_url}/plain", f"{cost_url}/authenticated"),
                    "users_service": (users_leader, f"{users}/healthz", f"{users}/users/me"),
                }
                load = load_rounds(pairs, token, rounds=args.rounds, seconds=args.seconds, connections=args.connections)
            report.say("load rounds done; verifier in-process")
            verifier = inprocess.measure(
                client.login(username)["access_token"],
                audience="users_service",
                issuer=processes.url("auth"),
                jwks_url=processes.url("auth") + "/.well-known/jwks.json",
                # auth_service's Redis user: it may also run the floor's EXISTS.
                redis_url=processes.redis_url("auth_service"),
                rounds=15,
                calls=calls,
            )
            report.say("token flows")
            login = client.login_latency(username, 10 if args.quick else 30)
            refresh = client.refresh_latency(username, 30 if args.quick else 100)
            revocation = client.revocation_propagation(username, 10 if args.quick else 80)
            report.say("introspection, token exchange, orders with one token and with fresh ones")
            orders_client = (flows.ORDERS_CLIENT_ID, processes.dev_secret(ORDERS_CLIENT_SECRET))
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
                "workers": int(os.environ.get("WEB_CONCURRENCY", "2")),
                "threads": int(os.environ.get("GUNICORN_THREADS", "1")),
            },
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
    }
    results["targets"] = report.targets(results)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    report.chart(results, args.results / "chart.png")
    report.print_table(results)
    report.say(f"wrote {args.results / 'results.json'} and {args.results / 'chart.png'}")
    missed = [t for t in results["targets"] if not t["met"]]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
