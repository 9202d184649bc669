"""The verification keys a service trusts: auth_service's JWKS, cached in memory.

PyJWT's ``PyJWKClient`` refetches on every unknown ``kid`` with no cool-down and drops its
cache when the issuer is down, so a flood of forged ``kid`` values would become a flood of
requests to auth_service. This cache refetches on an unknown ``kid`` at most once per
cool-down and keeps the last good key set when a refetch fails or yields no usable key.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from jwt import PyJWK
from jwt.exceptions import PyJWTError

log = logging.getLogger(__name__)

JwksFetcher = Callable[[], Mapping[str, Any]]
#: A cheap fingerprint of a key source in this process: it changes whenever its keys do.
SourceVersion = Callable[[], Hashable]


@dataclass(frozen=True)
class VerificationKey:
    """A key and the one algorithm it may be used with (the alg is pinned per key)."""

    kid: str
    algorithm: str
    key: Any


def hmac_kid(secret: str) -> str:
    """The ``kid`` of the shared HMAC key: a fingerprint that reveals nothing of the secret."""
    return "hs256-" + hashlib.sha256(b"kid:" + secret.encode()).hexdigest()[:16]


def parse_jwks(document: Mapping[str, Any], allowed_algorithms: tuple[str, ...]) -> dict[str, VerificationKey]:
    """Keep the signing keys of a JWKS whose ``alg`` is allowed; skip anything else."""
    keys: dict[str, VerificationKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("JWKS document has no 'keys' list")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid, alg = entry.get("kid"), entry.get("alg")
        if not isinstance(kid, str) or not kid or alg not in allowed_algorithms:
            continue
        if entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
            # Symmetric keys never travel in a JWKS; a published "oct" key is a mistake.
            continue
        if any(private in entry for private in ("d", "p", "q", "dp", "dq", "qi")):
            log.warning("jwks: ignoring key %s that carries private members", kid)
            continue
        try:
            jwk = PyJWK(entry, algorithm=alg)
        except (PyJWTError, TypeError, KeyError, ValueError) as e:
            log.warning("jwks: ignoring unusable key %s: %s", kid, e)
            continue
        keys[kid] = VerificationKey(kid=kid, algorithm=alg, key=jwk.key)
    return keys


def _start_daemon_thread(work: Callable[[], object]) -> None:
    threading.Thread(target=work, name="jwks-refresh", daemon=True).start()


def http_fetcher(url: str, timeout_seconds: float) -> JwksFetcher:
    """Fetch a JWKS document over HTTP with a timeout."""
    sessions: dict[int, requests.Session] = {}

    def fetch() -> Mapping[str, Any]:
        # One session per process: gunicorn forks workers after the first fetch, and a
        # pooled socket must not be shared between processes.
        session = sessions.setdefault(os.getpid(), requests.Session())
        response = session.get(url, timeout=timeout_seconds, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("JWKS document is not a JSON object")
        return document

    return fetch


class KeyCache:
    """Trusted keys by ``kid``, refreshed by age and on unknown ``kid`` with a cool-down."""

    def __init__(
        self,
        fetch: JwksFetcher,
        allowed_algorithms: tuple[str, ...],
        *,
        cooldown_seconds: float,
        max_age_seconds: float,
        static_keys: Mapping[str, VerificationKey] | None = None,
        clock: Callable[[], float] = time.monotonic,
        in_background: Callable[[Callable[[], object]], None] | None = None,
        source_version: SourceVersion | None = None,
    ):
        """``source_version``, for a key source in this process (auth_service's own key
        store): when it changes, the next lookup refetches at once, past the cool-down and
        the max age, so a key retired from the store stops verifying at once."""
        self._fetch = fetch
        self._source_version = source_version
        self._fetched_version: Hashable = None  # the source's version at the last fetch
        self._allowed = allowed_algorithms
        self._cooldown = cooldown_seconds
        self._max_age = max_age_seconds
        self._static = dict(static_keys or {})
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = threading.Lock()
        self._in_background = in_background or _start_daemon_thread
        self._background_refresh_running = threading.Event()

    def get(self, kid: str) -> VerificationKey | None:
        """The key for ``kid``; an unknown ``kid`` refetches first (within the cool-down).

        A stale cache that has the key answers at once and refreshes in the background
        (stale-while-revalidate): a slow or unreachable auth_service never slows requests
        down, and a retired key still drops out at the next refresh.
        """
        if kid in self._static:
            return self._static[kid]
        if self._source_version is not None and self._source_version() != self._fetched_version:
            self.refresh(force=True)
        stale = self._fetched_at is None or self._clock() - self._fetched_at > self._max_age
        if kid not in self._keys:
            self.refresh(force=False)
        elif stale and not self._background_refresh_running.is_set():
            self._background_refresh_running.set()
            self._in_background(self._refresh_in_background)
        return self._keys.get(kid)

    def _refresh_in_background(self) -> None:
        try:
            self.refresh(force=False)
        except Exception:  # a thread boundary: log, keep the cache, try again later
            log.exception("jwks: background refresh failed")
        finally:
            self._background_refresh_running.clear()

    def refresh(self, *, force: bool) -> bool:
        """Refetch unless one was attempted within the cool-down; True if the cache is usable."""
        with self._lock:
            now = self._clock()
            # While no key was ever fetched (auth_service not up yet), retry every second
            # rather than make every token fail for a whole cool-down.
            cooldown = self._cooldown if self._keys else min(1.0, self._cooldown)
            if not force and self._attempted_at is not None and now - self._attempted_at < cooldown:
                return self.has_keys()
            self._attempted_at = now
            # Read before the fetch: a change that lands during it is seen at the next lookup.
            version = self._source_version() if self._source_version is not None else None
            try:
                keys = parse_jwks(self._fetch(), self._allowed)
            except (requests.RequestException, ValueError) as e:
                # Keep the last good keys: tokens keep verifying while auth_service is down.
                log.warning("jwks: refetch failed, keeping %d cached key(s): %s", len(self._keys), e)
                return self.has_keys()
            if not keys:
                # An empty or unusable JWKS (a misconfigured issuer, a proxy's answer) is no
                # reason to refuse every token; a key is retired by publishing the others.
                log.warning("jwks: fetched document has no usable key, keeping %d cached key(s)", len(self._keys))
                return self.has_keys()
            self._keys = keys
            self._fetched_at = now
            self._fetched_version = version
            return True

    def has_keys(self) -> bool:
        """Whether any key is known, so tokens can be verified at all."""
        return bool(self._keys) or bool(self._static)

    def kids(self) -> list[str]:
        """The ``kid`` values currently trusted."""
        return sorted({*self._keys, *self._static})
