"""Authenticating a request: what views call (``require_token``, ``authenticate``, ``current_claims``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from flask import g, request

from .audit import audit
from .bearer import bearer_token
from .claim_rules import TokenKind
from .errors import AuthError, InsufficientScope
from .rejections import record_rejection
from .verifier import verifier_state

P = ParamSpec("P")
R = TypeVar("R")


def authenticate(*, kind: TokenKind = "access") -> dict[str, Any]:
    """Verify the request's Bearer token (of ``kind``) and return its claims, or raise an AuthError."""
    try:
        claims = verifier_state().verify(bearer_token(request.headers.get("Authorization")), kind=kind)
    except AuthError as error:
        record_rejection(error)
        raise
    g.token_claims = claims
    if "act" in claims:
        # Someone acts for the subject (a token got by exchange, RFC 8693): every such call
        # is on the audit trail, naming both, so a delegated request is never mistaken for
        # the user's own.
        audit("delegated_call", sub=claims["sub"], act=claims["act"], jti=claims["jti"], client_id=claims["client_id"])
    return claims


def current_claims() -> dict[str, Any]:
    """Claims of the token that authenticated this request."""
    return cast(dict[str, Any], g.token_claims)


def has_role(role: str) -> bool:
    """Whether the authenticated token carries ``role``."""
    return role in current_claims().get("roles", [])


def require_token(scopes: Iterable[str] = (), roles: Iterable[str] = ()) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: a valid access token with every scope in ``scopes`` and role in ``roles``."""
    needed_scopes, needed_roles = frozenset(scopes), frozenset(roles)

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            claims = authenticate()
            granted = set(claims["scope"].split())
            missing = needed_scopes - granted
            if missing:
                raise InsufficientScope(f"This needs scope: {' '.join(sorted(missing))}.")
            if not needed_roles <= set(claims["roles"]):
                raise InsufficientScope(f"This needs role: {' '.join(sorted(needed_roles))}.")
            return view(*args, **kwargs)

        # Read by the OpenAPI processor to document the Bearer scheme and 401/403.
        wrapper.token_requirement = (needed_scopes, needed_roles)  # type: ignore[attr-defined]
        return wrapper

    return decorator
