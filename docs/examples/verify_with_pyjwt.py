"""Verifying the stack's access tokens with plain PyJWT, for a service that does not use its package."""

from collections.abc import Callable
from typing import Any

import jwt


def token_verifier(jwks_url: str, issuer: str, audience: str) -> Callable[[str], dict[str, Any]]:
    """A function that returns a token's claims, or raises jwt.InvalidTokenError."""
    keys = jwt.PyJWKClient(jwks_url, cache_keys=True)  # fetched once, then on an unknown kid

    def verify(token: str) -> dict[str, Any]:
        if jwt.get_unverified_header(token).get("typ") != "at+jwt":
            raise jwt.InvalidTokenError("not an access token")  # a refresh token says refresh+jwt
        return jwt.decode(
            token,
            keys.get_signing_key_from_jwt(token).key,
            algorithms=["RS256"],  # pinned: the token does not get to choose
            audience=audience,
            issuer=issuer,
            leeway=30,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
        )

    return verify
