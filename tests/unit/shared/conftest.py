"""A minimal resource service protected by the shared verifier, and a token minter."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient

from tests.unit.shared.tokens import KeyRing, Minter, make_resource_app, standard_claims


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


@pytest.fixture
def resource(redis_url: str, keyring: KeyRing, signing_kid: str) -> APIFlask:
    return make_resource_app(redis_url, keyring, JWT_ALGORITHMS="RS256 ES256 EdDSA")


@pytest.fixture
def client(resource: APIFlask) -> FlaskClient:
    return resource.test_client()
