"""A minimal resource service protected by the shared verifier, and a token minter."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from apiflask import APIFlask
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask.testing import FlaskClient
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


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing()


@pytest.fixture
def signing_kid(keyring: KeyRing) -> str:
    return keyring.add("RS256")


@pytest.fixture
def mint(keyring: KeyRing, signing_kid: str) -> Minter:
    """Sign claims like the issuer does; every part can be overridden to forge a bad token."""

    def _mint(
        claims: dict[str, Any] | None = None,
        *,
        kid: str | None = None,
        headers: dict[str, Any] | None = None,
        key: Any = None,
        algorithm: str | None = None,
    ) -> str:
        kid = kid or signing_kid
        key_alg, private_key = keyring.keys.get(kid, keyring.keys[signing_kid])
        header = {"kid": kid, "typ": "at+jwt", **(headers or {})}
        return jwt.encode(
            claims if claims is not None else standard_claims(),
            key if key is not None else private_key,
            algorithm=algorithm or key_alg,
            headers=header,
        )

    return _mint


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


@pytest.fixture
def resource(redis_url: str, keyring: KeyRing, signing_kid: str) -> APIFlask:
    return make_resource_app(redis_url, keyring, JWT_ALGORITHMS="RS256 ES256 EdDSA")


@pytest.fixture
def client(resource: APIFlask) -> FlaskClient:
    return resource.test_client()
