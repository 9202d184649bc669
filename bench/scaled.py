"""``make bench BENCH_ARGS=--scaled``: the scaled stack (compose.scale.yml) with 1 and with N
users_service replicas behind the load balancer, and how soon a logout reaches every replica.

Each row is wrk on ``GET /users/me`` through HAProxy with the token mix: a different genuine
token on every request, of many users, until the list wraps; the two replica counts
alternate round by round (1, N, N, 1, …) so drift in the machine's speed hits both alike.
On one machine the replicas share its cores with the load generator, HAProxy, Redis and
PostgreSQL: N replicas cannot be N times one, and the ratio says how close the machine's
CPU lets them come. The revocation figure is bench/flows.py's, through the balancer, so
each probe may land on any replica.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import requests

from bench import flows, report
from bench.wrk import run_wrk
from tests.e2e.stacks import Stack

SERVICE = "users_service"
#: The replica count compose.scale.yml gives users_service.
REPLICAS = 3


def _token_file(client: flows.Flows, folder: Path, users: int, per_user: int) -> tuple[Path, int, int]:
    """Real logins through the balancer (so both auth replicas sign them): one token per line;
    the path, how many tokens are distinct, and how many logins had to be retried."""
    usernames = [client.new_user() for _ in range(users)]
    retried = 0

    def login(username: str) -> str:
        # As a client does: a 503 comes with Retry-After and is retried. Counted, so a
        # stack that needed it shows in the results.
        nonlocal retried
        for _attempt in range(3):
            try:
                return str(client.login(username)["access_token"])
            except requests.HTTPError as error:
                if error.response is None or error.response.status_code != 503:
                    raise
                retried += 1
                time.sleep(float(error.response.headers.get("Retry-After", "1")))
        return str(client.login(username)["access_token"])

    with ThreadPoolExecutor(4) as pool:
        tokens = list(pool.map(login, [u for _ in range(per_user) for u in usernames]))
    path = folder / "scaled-tokens.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path, len(set(tokens)), retried


def measure_scaled(
    stack: Stack, folder: Path, *, rounds: int, seconds: float, connections: int, quick: bool
) -> dict[str, Any]:
    """Throughput with 1 and REPLICAS users_service replicas, and the revocation delay; the
    stack is left with REPLICAS replicas, as it started."""
    assert stack.scale is not None, "the scaled stack (compose.scale.yml) is needed"
    client = flows.Flows(stack.auth, stack.users, stack.orders)
    report.say("scaled: minting the token mix with real logins through the load balancer")
    token_file, distinct, retried = _token_file(client, folder, 20 if quick else 100, 5 if quick else 10)
    counts = [1, REPLICAS]
    runs: dict[int, list[dict[str, float]]] = {count: [] for count in counts}
    next_index = 0
    try:
        for round_number in range(rounds):
            order = counts if round_number % 2 == 0 else list(reversed(counts))
            for count in order:
                # Returns once HAProxy sends to exactly ``count`` replicas, so no round measures
                # a replica still joining or leaving.
                stack.scale.scale_to(SERVICE, count)
                report.say(f"scaled: round {round_number + 1}/{rounds}, {count} {SERVICE} replica(s)")
                result = run_wrk(
                    f"{stack.users}/users/me",
                    seconds=seconds,
                    connections=connections,
                    token_file=token_file,
                    start=next_index,
                )
                if result.failed:
                    raise RuntimeError(f"{result.failed} of {result.requests} requests failed; the figures would lie")
                next_index = result.next_index
                runs[count].append({"per_second": result.per_second, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms})
    finally:
        stack.scale.scale_to(SERVICE, REPLICAS)
    summary = {
        count: {key: statistics.median(run[key] for run in runs[count]) for key in ("per_second", "p50_ms", "p99_ms")}
        for count in counts
    }
    report.say("scaled: how soon a logout is refused, through the balancer (any replica)")
    revocation = client.revocation_propagation(client.new_user(), 10 if quick else 60)
    return {
        "service": SERVICE,
        "path": "/users/me",
        "distinct_tokens": distinct,
        "logins_retried_after_503": retried,
        "replicas": {str(count): {"summary": summary[count], "rounds": runs[count]} for count in counts},
        "ratio": summary[REPLICAS]["per_second"] / summary[1]["per_second"],
        "revocation": asdict(revocation),
    }


def print_scaled(results: dict[str, Any]) -> None:
    one, many = results["replicas"]["1"]["summary"], results["replicas"][str(REPLICAS)]["summary"]
    report.say(
        f"scaled: GET /users/me, token mix ({results['distinct_tokens']} tokens): "
        f"1 replica {one['per_second']:.0f}/s (p99 {one['p99_ms']:.1f} ms), "
        f"{REPLICAS} replicas {many['per_second']:.0f}/s (p99 {many['p99_ms']:.1f} ms), "
        f"ratio {results['ratio']:.2f}"
    )
    revocation = results["revocation"]
    report.say(
        f"scaled: a logout refused after p50 {revocation['users']['p50_ms']:.1f} ms at users_service, "
        f"{revocation['orders']['p50_ms']:.1f} ms at orders_service (p99 "
        f"{revocation['users']['p99_ms']:.1f} / {revocation['orders']['p99_ms']:.1f} ms); "
        f"accepted after logout: {revocation['accepted_after_logout']}"
    )
