"""auth_service's signing keys: generated on first start, kept on disk, published as a JWKS.

The key directory holds one PEM file per key (``<kid>.pem``, mode 0600) and a file
``active`` naming the key that signs. Creation happens under a file lock, so several
gunicorn workers or replicas sharing the directory agree on one key.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

log = logging.getLogger(__name__)

SigningKeyType = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
RSA_KEY_BITS = 2048

# RFC 7638: the members that define a key, per key type, hashed in lexicographic order.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


class KeyStoreError(RuntimeError):
    """The key directory cannot be used (unreadable, corrupt, or an unsupported key)."""


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


class KeyStore:
    """The signing keys in one directory: the active one signs, all are published."""

    def __init__(self, directory: Path, algorithm: str):
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise KeyStoreError(f"unsupported signing algorithm {algorithm}")
        self.directory = directory
        self.algorithm = algorithm
        self._keys: dict[str, SigningKey] = {}
        self._active_kid = ""

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
        """Load the keys, creating the first one if the directory has none."""
        with self._locked():
            if not (self.directory / "active").exists():
                key = self._write_new_key(self.algorithm)
                self._write_active(key.kid)
                log.info("keystore: created first signing key kid=%s alg=%s", key.kid, key.algorithm)
            self._load()

    def _write_new_key(self, algorithm: str) -> SigningKey:
        private_key = _generate(algorithm)
        key = SigningKey(kid="", algorithm=algorithm, private_key=private_key)
        key = SigningKey(kid=thumbprint(key.public_jwk()), algorithm=algorithm, private_key=private_key)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._atomic_write(self.directory / f"{key.kid}.pem", pem)
        return key

    def _write_active(self, kid: str) -> None:
        self._atomic_write(self.directory / "active", kid.encode())

    def _atomic_write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _load(self) -> None:
        keys: dict[str, SigningKey] = {}
        for pem_path in sorted(self.directory.glob("*.pem")):
            try:
                private_key = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
            except (ValueError, TypeError, OSError) as e:
                raise KeyStoreError(f"cannot read signing key {pem_path.name}: {type(e).__name__}") from e
            key = SigningKey(kid=pem_path.stem, algorithm=_algorithm_of(private_key), private_key=private_key)  # type: ignore[arg-type]
            keys[key.kid] = key
        active = (self.directory / "active").read_text().strip()
        if active not in keys:
            raise KeyStoreError(f"active key {active!r} has no key file in {self.directory}")
        self._keys, self._active_kid = keys, active

    @property
    def active(self) -> SigningKey:
        """The key that signs new tokens."""
        return self._keys[self._active_kid]

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS document: the public half of every key."""
        return {"keys": [key.public_jwk() for key in self._keys.values()]}
