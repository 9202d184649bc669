"""A resource service protected by the shared verifier, an issuer's keys, and forged claims.

The unit tests of shared/ build their verifier with these; the fixtures in conftest.py
hand them out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from apiflask import APIFlask
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from secure_service import Source, Verifier, VerifierSettings, create_service_app, current_claims, require_token

ISSUER = "https://issuer.test"
SERVICE = "users_service"

Minter = Callable[..., str]


def generate_key(algorithm: str) -> Any:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(private_key: Any, kid: str, algorithm: str) -> dict[str, Any]:
    converter = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[algorithm]
    return {**converter.to_jwk(private_key.public_key(), as_dict=True), "kid": kid, "alg": algorithm, "use": "sig"}


def standard_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": [SERVICE, "orders_service"],
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
        "scope": "users:read orders:read",
        "roles": ["user"],
        "client_id": "web-app",
        "sid": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not _DROP}


_DROP = object()
DROP: Any = _DROP


class KeyRing:
    """The issuer's keys as the test controls them: what the JWKS publishes and what signs."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, Any]] = {}
        self.published: list[str] = []
        self.fetches = 0
        self.down = False

    def add(self, algorithm: str = "RS256", *, publish: bool = True) -> str:
        kid = f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = (algorithm, generate_key(algorithm))
        if publish:
            self.published.append(kid)
        return kid

    def jwks(self) -> dict[str, Any]:
        self.fetches += 1
        if self.down:
            import requests

            raise requests.ConnectionError("issuer down")
        return {"keys": [public_jwk(self.keys[k][1], k, self.keys[k][0]) for k in self.published]}


def make_resource_app(redis_url: str, keyring: KeyRing, **settings: str) -> APIFlask:
    app = create_service_app(__name__, SERVICE, title="resource", log_level="WARNING")
    source = Source({"REDIS_URL": redis_url, "JWT_ISSUER": ISSUER, **settings})
    Verifier().init_app(app, VerifierSettings.load(source, SERVICE), jwks_fetcher=keyring.jwks)

    @app.get("/protected")
    @require_token(scopes=["users:read"])
    def protected() -> dict[str, Any]:
        return {"sub": current_claims()["sub"]}

    @app.get("/admin")
    @require_token(roles=["admin"])
    def admin_only() -> dict[str, Any]:
        return {"ok": True}

    return app
