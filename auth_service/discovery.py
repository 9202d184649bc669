"""Public discovery documents: the JWKS and the authorization-server metadata."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from .settings import USER_SCOPES
from .state import auth_state

bp = APIBlueprint("discovery", __name__, url_prefix="/.well-known", tag="Discovery")


@bp.get("/jwks.json")
def jwks() -> tuple[dict[str, Any], int, dict[str, str]]:
    """The public keys that verify this issuer's tokens (never a private member)."""
    document = auth_state().keys.public_jwks()
    # Short caching: verifiers refetch on an unknown kid anyway, and rotation stays quick.
    return document, 200, {"Cache-Control": "public, max-age=300"}


@bp.get("/openid-configuration")
def openid_configuration() -> dict[str, Any]:
    """Issuer metadata (RFC 8414 fields): where the keys and the token endpoint are.

    Only what works is listed: the token endpoint grants client credentials (refresh has
    its own endpoint), authenticated by client_secret_post. There is no authorization
    endpoint and no ID token, so no response types and no ID-token algorithms.
    """
    settings = auth_state().settings
    issuer = settings.verifier.issuer.rstrip("/")
    return {
        "issuer": settings.verifier.issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/auth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "scopes_supported": list(USER_SCOPES),
    }
