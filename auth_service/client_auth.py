"""Who is calling the token, revocation and introspection endpoints (RFC 6749 §2.3.1).

A confidential client (a service, with a secret) authenticates one way per request:
``client_secret_basic`` (HTTP Basic, id and secret form-encoded first) or
``client_secret_post`` (``client_id`` and ``client_secret`` in the form). The public
client (the browser app, which can keep no secret) only names itself with ``client_id``,
and only where an endpoint allows it (revocation, RFC 7009 §2.1).

Werkzeug parses the Basic header; what is written here is the RFC's rules around it,
which no installed library applies to a Flask request on its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import unquote_plus

from flask import request

from secure_service import InvalidRequest, audit

from .errors import InvalidClient
from .settings import ServiceClient
from .state import auth_state

#: The method names of RFC 8414's *_auth_methods_supported, as this module accepts them.
CONFIDENTIAL_METHODS = ("client_secret_basic", "client_secret_post")
PUBLIC_METHOD = "none"
_NO_SUCH_SECRET = "x" * 32


class PublicClient:
    """The public client (``PUBLIC_CLIENT_ID``): identified, never authenticated."""

    def __init__(self, client_id: str):
        self.client_id = client_id


def authenticate_client(form: Mapping[str, str]) -> ServiceClient:
    """The confidential client making this request, or InvalidClient (401)."""
    client = identify_client(form, allow_public=False)
    assert isinstance(client, ServiceClient)  # identify_client returns no public client here
    return client


def identify_client(form: Mapping[str, str], *, allow_public: bool) -> ServiceClient | PublicClient:
    """The client making this request: authenticated, or (``allow_public``) the public client by name.

    InvalidClient (401) if it fails to authenticate, InvalidRequest if it uses two methods.
    """
    basic = _basic_credentials()
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if basic is not None:
        if posted_secret is not None:
            raise InvalidRequest("Use one client authentication method, not two.")
        client_id, secret = basic
        if posted_id is not None and posted_id != client_id:
            raise InvalidRequest("client_id does not match the client that authenticated.")
        return _confidential(client_id, secret, scheme="Basic")
    if posted_id is None:
        raise InvalidClient("The client did not identify itself.")
    if posted_secret is not None:
        return _confidential(posted_id, posted_secret, scheme=None)
    if allow_public and posted_id == auth_state().settings.public_client_id:
        return PublicClient(posted_id)
    audit("client_auth_failed", client_id=posted_id[:64])
    raise InvalidClient()


def _basic_credentials() -> tuple[str, str] | None:
    """(client_id, secret) from an HTTP Basic header, or None if the request has none."""
    header = request.headers.get("Authorization")
    if header is None or not header[:6].lower() == "basic ":
        return None
    parsed = request.authorization
    if parsed is None or parsed.type != "basic" or parsed.username is None or parsed.password is None:
        raise InvalidClient("The Basic credentials are malformed.", scheme="Basic")
    # RFC 6749 §2.3.1: both are form-encoded before they are joined and base64-encoded.
    return unquote_plus(parsed.username), unquote_plus(parsed.password)


def _confidential(client_id: str, secret: str, *, scheme: str | None) -> ServiceClient:
    client = auth_state().settings.clients.get(client_id)
    expected = client.secret if client else _NO_SUCH_SECRET
    # Constant-time comparison, also for an unknown client, so timing reveals nothing.
    matches = hmac.compare_digest(expected.encode(), secret.encode())
    if client is None or not matches:
        audit("client_auth_failed", client_id=client_id[:64])
        raise InvalidClient(scheme=scheme)
    return client
