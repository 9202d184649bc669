"""auth_service's signing keys: generated on first start, kept on disk, published as a
JWKS, rotated and retired with ``flask --app auth_service keys …`` (see cli.py). Or, opted
into with HS256, one shared secret (:class:`SharedSecret`) with the same interface.

Changes happen under a file lock, so several gunicorn workers or replicas sharing the
directory agree on the keys.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from secure_service.jwks import hmac_kid

log = logging.getLogger(__name__)

SigningKeyType = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
RSA_KEY_BITS = 2048

# RFC 7638: the members that define a key, per key type, hashed in lexicographic order.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


class KeyStoreError(RuntimeError):
    """The key directory cannot be used (unreadable, corrupt, or an unsupported key)."""


class SigningKeys(Protocol):
    """What the issuer signs with and what discovery publishes."""

    def signing_key(self) -> tuple[str, Any]:
        """The ``kid`` and the key that sign a token minted now."""
        ...

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS document verifiers fetch."""
        ...


class SharedSecret:
    """The HS256 opt-in: one secret signs, every verifier holds it, nothing is published."""

    def __init__(self, secret: str):
        self._key = (hmac_kid(secret), secret.encode())

    def signing_key(self) -> tuple[str, Any]:
        """The secret's ``kid`` (a hash of it, the verifiers' lookup key) and the secret."""
        return self._key

    def public_jwks(self) -> dict[str, Any]:
        """Nothing: a shared secret is never published."""
        return {"keys": []}


@dataclass(frozen=True)
class SigningKey:
    """A private key, its ``kid`` and the algorithm it signs with."""

    kid: str
    algorithm: str
    private_key: SigningKeyType

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK; never includes private members."""
        public = self.private_key.public_key()
        jwk: dict[str, Any]
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def _generate(algorithm: str) -> SigningKeyType:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise KeyStoreError(f"cannot generate a key for algorithm {algorithm}")


def _algorithm_of(key: Any) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise KeyStoreError(f"unsupported key type {type(key).__name__}")


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url), used as the ``kid``.

    Written here because neither PyJWT nor cryptography offers it, and a second JOSE
    library for one hash would be a heavier dependency than these five lines.
    """
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyInfo:
    """A key's place in its lifecycle, as `keys list` shows it."""

    kid: str
    algorithm: str
    state: str  # "active" (signs now), "pending" (published, signs later), "previous" (verifies only)
    created_at: float
    activates_at: float
    superseded_at: float | None  # when the next key took over signing

    def retirable_at(self, max_token_lifetime: int) -> float | None:
        """When the last token this key can have signed has expired."""
        return None if self.superseded_at is None else self.superseded_at + max_token_lifetime


class KeyStore:
    """The signing keys in one directory.

    Each key is ``<kid>.pem`` (the private key, mode 0600) and ``<kid>.json`` (created_at,
    activates_at). Every key is published in the JWKS; the key that signs is the newest
    whose activation time has come, so a rotated key is published before it signs, and
    every worker and replica reading the directory agrees on it without coordination.
    """

    def __init__(self, directory: Path, algorithm: str, clock: Callable[[], float] = time.time):
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise KeyStoreError(f"unsupported signing algorithm {algorithm}")
        self.directory = directory
        self.algorithm = algorithm
        self._clock = clock
        self._keys: dict[str, tuple[SigningKey, dict[str, float]]] = {}
        self._loaded_version: Hashable = None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load_or_create(self) -> None:
        """Load the keys, creating one (active at once) if none can sign with the configured alg.

        That covers the first start and a change of JWT_SIGNING_ALG: keys of the old
        algorithm stay published, for the tokens they signed, until they are retired.
        """
        with self._locked():
            if any(self.directory.glob("*.json")):
                self._load()
            if not any(key.algorithm == self.algorithm for key, _meta in self._keys.values()):
                key = self._write_new_key(activates_at=self._clock())
                log.info("keystore: created signing key kid=%s alg=%s", key.kid, key.algorithm)
            self._load()

    def rotate(self, activation_delay_seconds: float) -> SigningKey:
        """Create a new key: published now, signing once the delay has passed."""
        with self._locked():
            key = self._write_new_key(activates_at=self._clock() + activation_delay_seconds)
            self._load()
        return key

    def retire(self, kid: str, max_token_lifetime: int, *, force: bool) -> KeyInfo:
        """Remove a key that no longer signs, once every token it signed has expired."""
        with self._locked():
            self._load()
            info = next((k for k in self.list() if k.kid == kid), None)
            if info is None:
                raise KeyStoreError(f"no key {kid!r}")
            if info.state != "previous":
                raise KeyStoreError(f"key {kid} is {info.state}; rotate first, then retire the previous key")
            retirable_at = info.retirable_at(max_token_lifetime)
            if retirable_at is None:
                raise KeyStoreError(f"key {kid} never signed before the active key took over; nothing to wait for")
            if self._clock() < retirable_at and not force:
                raise KeyStoreError(
                    f"key {kid} signed tokens until {_iso(info.superseded_at)}; the last of them expires at "
                    f"{_iso(retirable_at)}. Retire it after that, or use --force to invalidate them now."
                )
            # Metadata first: a key without it is ignored, a leftover .pem is harmless.
            (self.directory / f"{kid}.json").unlink()
            (self.directory / f"{kid}.pem").unlink()
            self._load()
        return info

    def _write_new_key(self, activates_at: float) -> SigningKey:
        while True:
            private_key = _generate(self.algorithm)
            unnamed = SigningKey(kid="", algorithm=self.algorithm, private_key=private_key)
            kid = thumbprint(unnamed.public_jwk())
            # base64url: 1 thumbprint in 64 starts with '-', which a command line (`keys
            # retire <kid>`, `rm <kid>.pem`) takes for an option. Another key costs nothing.
            if not kid.startswith("-"):
                break
        key = SigningKey(kid=kid, algorithm=self.algorithm, private_key=private_key)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        metadata = {"created_at": self._clock(), "activates_at": activates_at}
        self._atomic_write(self.directory / f"{key.kid}.pem", pem)
        self._atomic_write(self.directory / f"{key.kid}.json", json.dumps(metadata).encode())
        return key

    def _atomic_write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def version(self) -> Hashable:
        """A cheap fingerprint of the directory: it changes whenever a key is added or removed.

        The file names as well as the directory's mtime: timestamps are coarse (a few ms on
        many file systems), and a rotation followed at once by a retire must still show.
        """
        return self.directory.stat().st_mtime_ns, frozenset(os.listdir(self.directory))

    def _load(self) -> None:
        keys: dict[str, tuple[SigningKey, dict[str, float]]] = {}
        version = self.version()
        for meta_path in sorted(self.directory.glob("*.json")):
            kid = meta_path.stem
            if not (self.directory / f"{kid}.pem").exists():
                continue  # a half-written or half-retired key
            try:
                metadata = json.loads(meta_path.read_text())
                pem = (self.directory / f"{kid}.pem").read_bytes()
                private_key = serialization.load_pem_private_key(pem, password=None)
            except (ValueError, TypeError, OSError) as e:
                raise KeyStoreError(f"cannot read signing key {kid}: {type(e).__name__}") from e
            key = SigningKey(kid=kid, algorithm=_algorithm_of(private_key), private_key=private_key)  # type: ignore[arg-type]
            keys[kid] = (key, metadata)
        if not keys:
            raise KeyStoreError(f"no signing keys in {self.directory}")
        self._keys, self._loaded_version = keys, version

    def _fresh(self) -> dict[str, tuple[SigningKey, dict[str, float]]]:
        """The keys, re-read if another process rotated or retired one since."""
        if self.version() != self._loaded_version:
            with self._locked():
                self._load()
        return self._keys

    def list(self) -> list[KeyInfo]:
        """Every key with its state, oldest activation first."""
        return self._describe(self._fresh())

    def _describe(self, keys: dict[str, tuple[SigningKey, dict[str, float]]]) -> list[KeyInfo]:
        now = self._clock()
        entries = sorted(keys.values(), key=lambda e: (e[1]["activates_at"], e[1]["created_at"]))
        signing = [e for e in entries if e[1]["activates_at"] <= now and e[0].algorithm == self.algorithm]
        if not signing:
            raise KeyStoreError(f"no {self.algorithm} key is active in {self.directory}")
        active_kid = signing[-1][0].kid
        infos = []
        for index, (key, meta) in enumerate(entries):
            later = [m["activates_at"] for _k, m in entries[index + 1 :] if m["activates_at"] <= now]
            if key.kid == active_kid:
                state = "active"
            elif meta["activates_at"] > now:
                state = "pending"
            else:
                state = "previous"
            infos.append(
                KeyInfo(
                    kid=key.kid,
                    algorithm=key.algorithm,
                    state=state,
                    created_at=meta["created_at"],
                    activates_at=meta["activates_at"],
                    superseded_at=min(later) if later and state == "previous" else None,
                )
            )
        return infos

    @property
    def active(self) -> SigningKey:
        """The key that signs new tokens now."""
        keys = self._fresh()  # one snapshot, even if another process rotates meanwhile
        kid = next(info.kid for info in self._describe(keys) if info.state == "active")
        return keys[kid][0]

    def signing_key(self) -> tuple[str, Any]:
        """The active key's ``kid`` and private key, re-read if ``keys rotate`` ran in another process."""
        active = self.active
        return active.kid, active.private_key

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS document: the public half of every key, pending ones included."""
        return {"keys": [key.public_jwk() for key, _meta in self._fresh().values()]}


def _iso(moment: float | None) -> str:
    return datetime.fromtimestamp(moment or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
