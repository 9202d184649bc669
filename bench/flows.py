"""Latency of the token flows a client waits on: login, refresh, and revocation reaching the verifiers."""

from __future__ import annotations

import http.client
import statistics
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from tests.support import bearer

PASSWORD = "bench horse battery staple"
TIMEOUT_SECONDS = 10
#: Requests per service before the revocation trials (gunicorn hands each to any worker).
WARM_UP_REQUESTS = 16
#: How long a revoked token may keep being accepted before the trial counts as a failure.
REVOCATION_DEADLINE_SECONDS = 2.0


@dataclass(frozen=True)
class Latency:
    """Milliseconds: median, 99th percentile (nearest rank: the maximum below 100 samples), all."""

    p50_ms: float
    p99_ms: float
    samples: int
    all_ms: list[float]

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        ms = sorted(s * 1000 for s in seconds)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        return cls(p50_ms=statistics.median(ms), p99_ms=p99, samples=len(ms), all_ms=[round(m, 3) for m in ms])


@dataclass(frozen=True)
class Revocation:
    """From logout returning to the logged-out token being refused, per service."""

    users: Latency
    orders: Latency
    accepted_after_logout: int  # requests that still got a 200 after logout returned: must be 0
    #: The same refused request sent again at once: its round trip with nothing to propagate,
    #: the part of the figures above that is the probe's own latency.
    probe_floor: Latency


class Flows:
    """A client of the stack at ``auth``/``users``/``orders``."""

    def __init__(self, auth: str, users: str, orders: str):
        self.auth, self.users, self.orders = auth, users, orders
        self.http = requests.Session()

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)

    def new_user(self) -> str:
        username = f"bench-{uuid.uuid4().hex[:12]}"
        response = self._call("POST", f"{self.users}/users", json={"username": username, "password": PASSWORD})
        response.raise_for_status()
        return username

    def login(self, username: str) -> dict[str, Any]:
        response = self._call("POST", f"{self.auth}/auth/login", json={"username": username, "password": PASSWORD})
        response.raise_for_status()
        return dict(response.json())

    def login_latency(self, username: str, count: int) -> Latency:
        return Latency.of([_timed(lambda: self.login(username)) for _ in range(count)])

    def refresh_latency(self, username: str, count: int) -> Latency:
        refresh_token = self.login(username)["refresh_token"]
        seconds = []
        for _ in range(count):
            start = time.perf_counter()
            response = self._call("POST", f"{self.auth}/auth/refresh", headers=bearer(refresh_token))
            seconds.append(time.perf_counter() - start)
            response.raise_for_status()
            refresh_token = response.json()["refresh_token"]
        return Latency.of(seconds)

    def revocation_propagation(self, username: str, trials: int) -> Revocation:
        """Log out, then ask one service (users and orders in turn) until it refuses the token.

        The probe is a bare http.client request, not a requests session: the figure is an
        upper bound that includes the refused request's own round trip, so the client's
        overhead is kept out of it.
        """
        services = {"users": f"{self.users}/users/me", "orders": f"{self.orders}/orders"}
        waits: dict[str, list[float]] = {name: [] for name in services}
        floor: list[float] = []
        accepted = 0
        warm = self.login(username)["access_token"]
        for url in services.values():
            # Reach every worker once: a worker's first request opens its connections and
            # metric files, and would time that instead of the revocation.
            for _ in range(WARM_UP_REQUESTS):
                _status(url, warm)
        for trial in range(trials):
            name = "users" if trial % 2 == 0 else "orders"
            tokens = self.login(username)
            access = tokens["access_token"]
            if _status(services[name], access) != 200:
                raise RuntimeError(f"{name} refused a fresh token")
            self._call(
                "POST",
                f"{self.auth}/auth/logout",
                headers=bearer(access),
                json={"refresh_token": tokens["refresh_token"]},
            ).raise_for_status()
            returned = time.perf_counter()
            while _status(services[name], access) != 401:
                accepted += 1
                if time.perf_counter() - returned > REVOCATION_DEADLINE_SECONDS:
                    raise RuntimeError(f"{name} still accepts a logged-out token after {REVOCATION_DEADLINE_SECONDS}s")
            waits[name].append(time.perf_counter() - returned)
            start = time.perf_counter()
            if _status(services[name], access) != 401:
                raise RuntimeError(f"{name} accepted a logged-out token again")
            floor.append(time.perf_counter() - start)
        return Revocation(
            users=Latency.of(waits["users"]),
            orders=Latency.of(waits["orders"]),
            accepted_after_logout=accepted,
            probe_floor=Latency.of(floor),
        )


def _status(url: str, token: str) -> int:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", parts.path, headers=bearer(token))
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _timed(call: Any) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start
