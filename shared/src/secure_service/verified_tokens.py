"""Tokens a worker verified in full, so that a repeat skips parsing and the signature check.

Clients send the same access token for its whole lifetime, and the RSA check plus PyJWT's
parse are most of what authentication costs (docs/performance.md). The same idea as
Envoy's jwt_authn JWT cache, and just as narrow: keyed by the exact token text, so what
depends on the text alone (claim_rules.TEXT_RULES) cannot change; handed out only while
the key that verified it is still the one trusted for its ``kid`` (a retired or refetched
key means a full check) and only before ``exp``, the one check that time can turn from
pass to fail. What a request asks (claim_rules.REQUEST_RULES: the token kind,
revocation) is checked on every request, remembered token or not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed the signature, PyJWT's checks and every text rule, and the key that signed it."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: Any


class VerifiedTokens:
    """Verified tokens by their exact text; bounded: when full it starts over."""

    def __init__(self, max_entries: int):
        self._max_entries = max_entries
        self._entries: dict[str, VerifiedToken] = {}

    def get(self, token: str, *, now: float, trusted_key: Callable[[Mapping[str, Any]], Any]) -> VerifiedToken | None:
        """The remembered ``token``, if it has not reached ``exp`` and its key is still ``trusted_key(header)``."""
        verified = self._entries.get(token)
        if verified is None or verified.claims["exp"] <= now or trusted_key(verified.header) is not verified.key:
            return None
        return verified

    def put(self, token: str, verified: VerifiedToken) -> None:
        """Remember ``token``; only the verifier's full check calls this."""
        if self._max_entries <= 0:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token] = verified
