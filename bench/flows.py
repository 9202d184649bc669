"""Latency of the token flows a client waits on: login, refresh, revocation reaching the verifiers,
introspection, token exchange, and what orders_service's cache of exchanged tokens saves an order.
"""

from __future__ import annotations

import http.client
import re
import statistics
import time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import requests

from secure_service.token_exchange import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from tests.support import bearer

PASSWORD = "bench horse battery staple"
TIMEOUT_SECONDS = 10
#: Requests per service before the revocation trials (gunicorn hands each to any worker).
WARM_UP_REQUESTS = 16
#: How long a revoked token may keep being accepted before the trial counts as a failure.
REVOCATION_DEADLINE_SECONDS = 2.0
#: orders_service's OAuth client, and what it exchanges a caller's token for (orders_service/users_client.py).
ORDERS_CLIENT_ID = "orders_service"
EXCHANGE_FORM = {"audience": "users_service", "scope": "users:read"}
#: auth_service's count of exchanged tokens, by client (auth_service/metrics.py).
EXCHANGES_METRIC = "auth_token_exchanges_total"
#: Blocks of orders per case, alternated A-B-B-A so machine drift hits both cases alike.
ORDER_BLOCKS = 4


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


@dataclass(frozen=True)
class Orders:
    """``POST /orders`` latency, and the token exchanges auth_service counted while those orders were placed."""

    latency: Latency
    exchanges: int

    @property
    def exchanges_per_order(self) -> float:
        return self.exchanges / self.latency.samples


@dataclass(frozen=True)
class ExchangeCache:
    """Orders placed with one caller token against orders each placed with a token never seen before."""

    one_token: Orders
    fresh_tokens: Orders

    @property
    def ratio_p50(self) -> float:
        """How many times slower an order is at the median when its token costs an exchange."""
        return self.fresh_tokens.latency.p50_ms / self.one_token.latency.p50_ms

    def summary(self) -> dict[str, Any]:
        """Both cases with their exchanges per order, and the ratio: what results.json holds."""
        cases = {"one_token": self.one_token, "fresh_tokens": self.fresh_tokens}
        return {
            **{
                name: {**asdict(orders), "exchanges_per_order": orders.exchanges_per_order}
                for name, orders in cases.items()
            },
            "ratio_p50": self.ratio_p50,
        }


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

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        response = self._call("POST", f"{self.auth}/auth/refresh", headers=bearer(refresh_token))
        response.raise_for_status()
        return dict(response.json())

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

    def introspect_latency(self, access_token: str, client: tuple[str, str], count: int) -> Latency:
        """``POST /oauth/introspect`` of one active access token, the client authenticated with HTTP Basic."""
        seconds = []
        for _ in range(count):
            start = time.perf_counter()
            response = self._call("POST", f"{self.auth}/oauth/introspect", auth=client, data={"token": access_token})
            seconds.append(time.perf_counter() - start)
            response.raise_for_status()
            if response.json().get("active") is not True:
                raise RuntimeError("introspection called an active access token inactive")
        return Latency.of(seconds)

    def exchange(self, access_token: str, client: tuple[str, str]) -> dict[str, Any]:
        """The token exchange orders_service makes for an order (orders_service/users_client.py)."""
        form = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": access_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            **EXCHANGE_FORM,
        }
        response = self._call("POST", f"{self.auth}/auth/token", auth=client, data=form)
        response.raise_for_status()
        return dict(response.json())

    def exchange_latency(self, username: str, client: tuple[str, str], count: int) -> Latency:
        """Token exchange, each time of a subject token auth_service has not seen (a refresh, untimed, before).

        orders_service exchanges a caller's token once and keeps the result, so the
        exchange it waits on is always of a token new to auth_service's verifier caches.
        """
        refresh_token = self.login(username)["refresh_token"]
        seconds = []
        for _ in range(count):
            tokens = self.refresh(refresh_token)
            refresh_token = tokens["refresh_token"]
            seconds.append(_timed(lambda access=tokens["access_token"]: self.exchange(access, client)))
        return Latency.of(seconds)

    def exchange_cache(self, username: str, count: int) -> ExchangeCache:
        """``POST /orders``: ``count`` orders with one token against ``count`` each with a fresh one.

        The fresh token per order comes from a refresh (untimed; a login would cost its
        password hash), so every such order costs orders_service a token exchange. The
        exchanges are auth_service's own count, read from /metrics around each block.
        """
        one_token = self.login(username)["access_token"]
        refresh_token = self.login(username)["refresh_token"]  # another session: the fresh tokens'
        # Reach every orders_service worker with new tokens first: a worker's first order
        # opens its connections to auth_service and users_service.
        for _ in range(WARM_UP_REQUESTS):
            tokens = self.refresh(refresh_token)
            refresh_token = tokens["refresh_token"]
            self._order(tokens["access_token"])
        seconds: dict[str, list[float]] = {"one": [], "fresh": []}
        exchanges = dict.fromkeys(seconds, 0.0)
        per_block = max(1, count // (ORDER_BLOCKS // 2))  # half the blocks are each case's
        for block in range(ORDER_BLOCKS):
            case = "one" if block % 4 in (0, 3) else "fresh"
            before = self.exchanges_counted()
            for _ in range(per_block):
                if case == "one":
                    access = one_token
                else:
                    tokens = self.refresh(refresh_token)
                    refresh_token, access = tokens["refresh_token"], tokens["access_token"]
                seconds[case].append(_timed(lambda access=access: self._order(access)))
            exchanges[case] += self.exchanges_counted() - before
        return ExchangeCache(
            one_token=Orders(Latency.of(seconds["one"]), round(exchanges["one"])),
            fresh_tokens=Orders(Latency.of(seconds["fresh"]), round(exchanges["fresh"])),
        )

    def exchanges_counted(self) -> float:
        """auth_service's ``auth_token_exchanges_total`` for orders_service's client, summed over its series."""
        response = self._call("GET", f"{self.auth}/metrics")
        response.raise_for_status()
        total = 0.0
        for match in re.finditer(rf"^{EXCHANGES_METRIC}\{{([^}}]*)\}} (\S+)$", response.text, re.MULTILINE):
            if f'client_id="{ORDERS_CLIENT_ID}"' in match.group(1).split(","):
                total += float(match.group(2))
        return total

    def _order(self, access_token: str) -> None:
        response = self._call(
            "POST", f"{self.orders}/orders", headers=bearer(access_token), json={"item": "bench", "quantity": 1}
        )
        if response.status_code != 201:
            raise RuntimeError(f"POST /orders answered {response.status_code}: {response.text[:200]}")

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
