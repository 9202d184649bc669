"""The verifier alone, in this process, against its floor: a bare PyJWT decode plus one Redis round trip.

The verifier is the shared package's real extension on a bare Flask app, with the
stack's JWKS and Redis, called directly with a Bearer header value as authenticate() is:
the figure is the verifier's own work, not Flask's request handling. It is timed twice:
with its per-worker caches off (every call parses, checks the signature and asks Redis,
as for a token seen for the first time: the figure the target is about) and on (the same
token again, as a client sends it for its whole lifetime).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import jwt
from flask import Flask
from flask_jwt_extended import verify_jwt_in_request

from secure_service import Verifier, verifier_state
from secure_service.bearer import bearer_token
from secure_service.revocation import redis_client
from secure_service.settings import Source, VerifierSettings

Timed = Callable[[], object]


@dataclass(frozen=True)
class InProcessResult:
    """Median microseconds per call of each measured operation."""

    verifier_us: float  # caches off: every call does the full work
    verifier_repeat_us: float  # caches on, the same token again
    flask_jwt_extended_us: float  # FJE's verify_jwt_in_request with the same callbacks, caches off
    floor_us: float  # a bare decode followed by one Redis round trip, as one operation
    bare_decode_us: float
    redis_round_trip_us: float

    @property
    def ratio_to_floor(self) -> float:
        return self.verifier_us / self.floor_us


def per_call_microseconds(operations: dict[str, Timed], *, rounds: int, calls: int) -> dict[str, float]:
    """Median per-call time of each operation, measured in interleaved batches.

    Batches of the different operations alternate, so a noisy neighbour slows them all
    alike instead of whichever ran at that moment.
    """
    samples: dict[str, list[float]] = {name: [] for name in operations}
    for operation in operations.values():  # warm caches, connections, code paths
        for _ in range(calls // 10 + 1):
            operation()
    for _ in range(rounds):
        for name, operation in operations.items():
            start = time.perf_counter()
            for _ in range(calls):
                operation()
            samples[name].append((time.perf_counter() - start) / calls * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(
    token: str, *, audience: str, issuer: str, jwks_url: str, redis_url: str, rounds: int, calls: int
) -> InProcessResult:
    """Time ``authenticate()`` on ``token`` and its floor, interleaved."""
    # The services' own defaults, read the way they read them.
    cached = VerifierSettings.load(
        Source({"JWT_ISSUER": issuer, "JWKS_URL": jwks_url, "REDIS_URL": redis_url}), audience
    )
    uncached = replace(cached, verified_token_cache_entries=0, revocation_cache_entries=0)
    apps, states = {}, {}
    for name, settings in (("cold", uncached), ("repeat", cached)):
        apps[name] = Flask(f"bench-{name}")
        Verifier(apps[name], settings)
        states[name] = verifier_state(apps[name])
    key = states["cold"].keys.get(jwt.get_unverified_header(token)["kid"])
    assert key is not None, "the stack's JWKS does not have the token's key"
    redis = redis_client(redis_url)
    header_value = f"Bearer {token}"

    def verifier_of(state: Any) -> Timed:
        # What authenticate() does with the request's Authorization header.
        return lambda: state.verify(bearer_token(header_value))

    verifier_of(states["cold"])()  # fails loudly here, not as a fast error path in the timings

    def bare_decode() -> object:
        return jwt.decode(
            token, key.key, algorithms=[key.algorithm], audience=audience, issuer=issuer, leeway=cached.leeway_seconds
        )

    def redis_round_trip() -> object:
        return redis.exists("revoked:jti:bench")

    def floor() -> object:
        # Timed as one operation, not as a sum: a Redis round trip right after CPU-bound
        # work costs more than one in a tight loop (the server has gone back to sleep).
        bare_decode()
        return redis_round_trip()

    # What the verifier did before (docs/performance.md): FJE's request path, with the same
    # key, revocation and claim callbacks. It reads the header from the request context.
    with apps["cold"].test_request_context(headers={"Authorization": header_value}):
        timings = per_call_microseconds(
            {
                "verifier": verifier_of(states["cold"]),
                "verifier_repeat": verifier_of(states["repeat"]),
                "flask_jwt_extended": verify_jwt_in_request,
                "floor": floor,
                "bare_decode": bare_decode,
                "redis": redis_round_trip,
            },
            rounds=rounds,
            calls=calls,
        )
    return InProcessResult(
        verifier_us=timings["verifier"],
        verifier_repeat_us=timings["verifier_repeat"],
        flask_jwt_extended_us=timings["flask_jwt_extended"],
        floor_us=timings["floor"],
        bare_decode_us=timings["bare_decode"],
        redis_round_trip_us=timings["redis"],
    )
