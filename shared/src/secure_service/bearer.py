"""Reading a token out of a request: the ``Authorization: Bearer`` header and the token's JOSE header.

Nothing here trusts the token: the verifier (verifier.py) checks everything these return.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from .errors import InvalidToken, MissingToken, Reason

MAX_TOKEN_BYTES = 8192

# token68 (RFC 7235); a JWS compact serialisation is base64url segments joined by dots.
_BEARER = re.compile(r"^bearer +([A-Za-z0-9\-._~+/]+=*)$", re.IGNORECASE)
_SCHEME = re.compile(r"^\s*(\S+)")


def bearer_token(header_value: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header; the scheme is case-insensitive."""
    if header_value is None or not header_value.strip():
        raise MissingToken()
    scheme = _SCHEME.match(header_value)
    if scheme is None or scheme.group(1).lower() != "bearer":
        # Another scheme (Basic, Token…) is no Bearer credential at all (RFC 6750 §3.1).
        raise MissingToken()
    if "," in header_value:
        raise InvalidToken("Exactly one Bearer token is allowed per request.", Reason.MALFORMED_HEADER)
    if len(header_value) > MAX_TOKEN_BYTES:
        raise InvalidToken("The token is too large.", Reason.TOO_LARGE)
    match = _BEARER.match(header_value.strip())
    if match is None:
        raise InvalidToken("Malformed Authorization header; expected 'Bearer <token>'.", Reason.MALFORMED_HEADER)
    return match.group(1)


def unverified_header(token: str) -> dict[str, Any]:
    """The token's JOSE header, parsed but not trusted: only to choose the key.

    PyJWT's ``get_unverified_header`` validates the whole token character by character
    (about 60 µs for a 1 KB token) and the decode that follows does it all again. Only the
    header segment is parsed here; the verifier then refuses the token unless PyJWT's own
    strict parse yields the very same header.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise InvalidToken("The token header is malformed.", Reason.MALFORMED) from e
    if not isinstance(header, dict):
        raise InvalidToken("The token header is malformed.", Reason.MALFORMED)
    return header
