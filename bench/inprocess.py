"""The verifier alone, in this process, against its floor: a bare PyJWT decode plus one Redis round trip.

The verifier is the shared package's real extension on a bare Flask app, with the
stack's JWKS and Redis, called directly with a Bearer header value as authenticate() is:
the figure is the verifier's own work, not Flask's request handling. Every operation but
"same token again" takes the next token of the mix on each call, so each call verifies
a token it has never seen (the mix holds more tokens than one operation makes calls):

- the verifier as deployed (its per-worker caches on, the services' defaults), a new
  token each call: the verified-token cache misses and the new token is remembered; the
  revocation check is answered by the worker's deny-list. The target's figure;
- the same with its caches off (every call parses, checks the signature and asks Redis);
- as deployed, one token again and again, as a client sends it for its whole lifetime;
- the floor: ``jwt.decode`` of the next token with the key object, then one Redis
  ``EXISTS`` of its ``revoked:jti:`` key, timed as one operation.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jwt
from flask import Flask
from flask_jwt_extended import verify_jwt_in_request

from secure_service import Verifier, verifier_state
from secure_service.bearer import bearer_token
from secure_service.revocation import jti_key, redis_client
from secure_service.settings import Source, VerifierSettings

Timed = Callable[[], object]


@dataclass(frozen=True)
class InProcessResult:
    """Median microseconds per call of each measured operation."""

    verifier_new_us: float  # as deployed (caches on), a new token each call
    verifier_uncached_us: float  # caches off, a new token each call: the full work
    verifier_repeat_us: float  # as deployed, the same token again
    flask_jwt_extended_us: float  # FJE's verify_jwt_in_request, same callbacks, caches off, one token
    floor_us: float  # a bare decode of a new token followed by one Redis round trip, as one operation
    bare_decode_us: float  # a new token each call
    redis_round_trip_us: float
    calls_per_operation: int
    tokens: int  # in the mix: more than calls_per_operation, so no new-token call repeats one

    @property
    def ratio_to_floor(self) -> float:
        return self.verifier_new_us / self.floor_us


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
    tokens: Sequence[str], *, audience: str, issuer: str, jwks_url: str, redis_url: str, rounds: int, calls: int
) -> InProcessResult:
    """Time ``authenticate()`` on new tokens from ``tokens`` and its floor, interleaved."""
    calls_per_operation = rounds * calls + calls // 10 + 1
    if len(tokens) < calls_per_operation:
        raise ValueError(f"{len(tokens)} tokens for {calls_per_operation} calls: a new-token call would repeat one")
    # The services' own defaults, read the way they read them.
    deployed = VerifierSettings.load(
        Source({"JWT_ISSUER": issuer, "JWKS_URL": jwks_url, "REDIS_URL": redis_url}), audience
    )
    uncached = replace(deployed, verified_token_cache_entries=0, revocation_cache_entries=0)
    apps, states = {}, {}
    for name, settings in (("new", deployed), ("uncached", uncached), ("repeat", deployed)):
        apps[name] = Flask(f"bench-{name}")
        Verifier(apps[name], settings)
        states[name] = verifier_state(apps[name])
    kids = {jwt.get_unverified_header(token)["kid"] for token in tokens}
    assert len(kids) == 1, f"the mix was signed with several keys: {kids}"
    key = states["uncached"].keys.get(kids.pop())
    assert key is not None, "the stack's JWKS does not have the tokens' key"
    redis = redis_client(redis_url)
    one_header = f"Bearer {tokens[0]}"

    def new_tokens() -> Callable[[], str]:
        return itertools.cycle(tokens).__next__

    def verifier_of(state: Any, next_token: Callable[[], str]) -> Timed:
        # What authenticate() does with the request's Authorization header.
        return lambda: state.verify(bearer_token(f"Bearer {next_token()}"))

    verifier_of(states["uncached"], lambda: tokens[0])()  # fails loudly here, not as a fast error path

    def decode(token: str) -> dict[str, Any]:
        return jwt.decode(
            token, key.key, algorithms=[key.algorithm], audience=audience, issuer=issuer, leeway=deployed.leeway_seconds
        )

    decode_next, floor_next = new_tokens(), new_tokens()

    def floor() -> object:
        # Timed as one operation, not as a sum: a Redis round trip right after CPU-bound
        # work costs more than one in a tight loop (the server has gone back to sleep).
        return redis.exists(jti_key(decode(floor_next())["jti"]))

    # What the verifier did before (docs/performance.md): FJE's request path, with the same
    # key, revocation and claim callbacks. It reads the header from the request context,
    # so it gets one token; with its caches off every call does the full work anyway.
    with apps["uncached"].test_request_context(headers={"Authorization": one_header}):
        timings = per_call_microseconds(
            {
                "verifier_new": verifier_of(states["new"], new_tokens()),
                "verifier_uncached": verifier_of(states["uncached"], new_tokens()),
                "verifier_repeat": verifier_of(states["repeat"], lambda: tokens[0]),
                "flask_jwt_extended": verify_jwt_in_request,
                "floor": floor,
                "bare_decode": lambda: decode(decode_next()),
                "redis": lambda: redis.exists("revoked:jti:bench"),
            },
            rounds=rounds,
            calls=calls,
        )
    return InProcessResult(
        verifier_new_us=timings["verifier_new"],
        verifier_uncached_us=timings["verifier_uncached"],
        verifier_repeat_us=timings["verifier_repeat"],
        flask_jwt_extended_us=timings["flask_jwt_extended"],
        floor_us=timings["floor"],
        bare_decode_us=timings["bare_decode"],
        redis_round_trip_us=timings["redis"],
        calls_per_operation=calls_per_operation,
        tokens=len(tokens),
    )
