"""Whose address a request is counted by: the peer's, or the end user's a trusted caller names.

Behind a backend-for-frontend (web_service) every browser's request reaches a service from
the BFF's one address. Limits keyed on that address would either lock every console user
out at once (30 failed logins, anyone's) or, set high enough not to, stop nobody. So a
caller the service has authenticated as allowed to (auth_service: the console's client
credentials; users_service: its token's scope) may name the end user's address in
``End-User-Address``, and the per-address limits and audit events use that one.

From anyone else the header is ignored, as X-Forwarded-For is without TRUSTED_PROXY_HOPS:
a client that reaches a service directly cannot choose the address it is counted by.
(Auth0's "Trust Token Endpoint IP Header" is the same idea.)
"""

from __future__ import annotations

import ipaddress

from flask import g, request

from .errors import InvalidRequest

HEADER = "End-User-Address"


def trust_named_end_user() -> None:
    """For this request, count the address in End-User-Address: call once the caller is trusted.

    400 if the header is there but is not one IP address; nothing changes without it.
    """
    raw = request.headers.get(HEADER)
    if raw is None:
        return
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        raise InvalidRequest(f"{HEADER} must be one IP address.") from None
    g.end_user_address = str(address)


def end_user_address() -> str:
    """The address this request is counted and audited by (see the module's docstring)."""
    named: str | None = g.get("end_user_address")
    return named or request.remote_addr or "unknown"
