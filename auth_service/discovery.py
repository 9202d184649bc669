"""Public discovery documents: the JWKS and the authorization-server metadata."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint

from .client_auth import CONFIDENTIAL_METHODS, PUBLIC_METHOD
from .oauth import GRANT_TYPES
from .settings import USER_SCOPES
from .state import auth_state

bp = APIBlueprint("discovery", __name__, url_prefix="/.well-known", tag="Discovery")


@bp.get("/jwks.json")
def jwks() -> tuple[dict[str, Any], int, dict[str, str]]:
    """The public keys that verify this issuer's tokens (never a private member)."""
    document = auth_state().keys.public_jwks()
    # Short caching: verifiers refetch on an unknown kid anyway, and rotation stays quick.
    return document, 200, {"Cache-Control": "public, max-age=300"}


def _metadata() -> dict[str, Any]:
    """Authorization-server metadata (RFC 8414 §2): exactly the endpoints and methods that work.

    There is no authorization endpoint (users log in at /auth/login) and no ID token, so
    no response types, no PKCE methods and no ID-token algorithms are listed; the refresh
    grant has its own endpoint (/auth/refresh), not the token endpoint.
    """
    settings = auth_state().settings
    issuer = settings.verifier.issuer.rstrip("/")
    return {
        "issuer": settings.verifier.issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/auth/token",
        "token_endpoint_auth_methods_supported": list(CONFIDENTIAL_METHODS),
        "grant_types_supported": list(GRANT_TYPES),
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": [*CONFIDENTIAL_METHODS, PUBLIC_METHOD],
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": list(CONFIDENTIAL_METHODS),
        "scopes_supported": list(USER_SCOPES),
    }


@bp.get("/oauth-authorization-server")
def oauth_authorization_server() -> dict[str, Any]:
    """Authorization-server metadata (RFC 8414): where the keys and the OAuth endpoints are."""
    return _metadata()


@bp.get("/openid-configuration")
def openid_configuration() -> dict[str, Any]:
    """The same metadata at the OpenID discovery address, for clients that look only there."""
    return _metadata()
