"""The rules a token's header and claims must meet beyond PyJWT's: add a rule here, in one table.

Two tables, because each worker remembers the tokens it verified in full
(verified_tokens.py) and serves a repeat of the same token text from memory:

- :data:`TEXT_RULES` depend on the token's text alone (its header and claims) and on
  the verifier's settings. A token that passed them once passes them for ever, so a
  remembered token skips them. A rule belongs here only if no clock, no request and no
  store can change its answer.
- :data:`REQUEST_RULES` depend on the request (the kind of token the endpoint wants) or
  on state that changes (revocation). They run on every request, remembered token or not.

When in doubt, put a rule in :data:`REQUEST_RULES`: it then costs a little on every
request, where a wrong :data:`TEXT_RULES` entry would let a remembered token skip it.

The pipeline (verifier.py) runs both tables and checks no claim itself. What PyJWT
checks in the same decode (signature, ``exp``, ``nbf``, ``iat``, ``iss``, ``aud``) is
not repeated here; time is the one thing that can turn a remembered token from pass to
fail, and the cache itself never hands out a token past its ``exp``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import InvalidToken, Reason, TokenRevoked
from .settings import MAX_ACCESS_TOKEN_TTL_SECONDS, MAX_REFRESH_TOKEN_TTL_SECONDS, VerifierSettings

#: The kinds of token an endpoint can ask for.
TokenKind = Literal["access", "refresh"]
#: The ``typ`` header is what tells the kinds of token apart (RFC 9068 §2.1, RFC 8725 §3.11);
#: no claim does.
ACCESS_TOKEN_TYP = "at+jwt"
REFRESH_TOKEN_TYP = "refresh+jwt"
TYP_OF_KIND: Mapping[TokenKind, str] = {"access": ACCESS_TOKEN_TYP, "refresh": REFRESH_TOKEN_TYP}
MAX_ID_LENGTH = 256

_COMMON_CLAIMS: Mapping[str, type | tuple[type, ...]] = {
    "iss": str,
    "sub": str,
    "aud": (str, list),
    "exp": int,
    "iat": int,
    "nbf": int,
    "jti": str,
    "client_id": str,
}
#: The claims each kind of token must carry, with their JSON types, by ``typ``.
REQUIRED_CLAIMS: Mapping[str, Mapping[str, type | tuple[type, ...]]] = {
    ACCESS_TOKEN_TYP: {**_COMMON_CLAIMS, "scope": str, "roles": list},
    REFRESH_TOKEN_TYP: {**_COMMON_CLAIMS, "sid": str},
}
#: The longest each kind of token may live (``exp - iat``), by ``typ``.
LONGEST_LIFETIME: Mapping[str, int] = {
    ACCESS_TOKEN_TYP: MAX_ACCESS_TOKEN_TTL_SECONDS,
    REFRESH_TOKEN_TYP: MAX_REFRESH_TOKEN_TTL_SECONDS,
}

Header = Mapping[str, Any]
Claims = Mapping[str, Any]


@dataclass(frozen=True)
class Demand:
    """What this request asks of a token, for :data:`REQUEST_RULES`."""

    #: The kind of token the endpoint takes.
    kind: TokenKind
    #: Asks revocation state; None where revocation is checked elsewhere (Flask-JWT-Extended's
    #: blocklist loader) or is no reason to refuse (naming a session to end).
    is_revoked: Callable[[Claims], bool] | None


def token_typ(header: Header) -> str:
    """``at+jwt`` or ``refresh+jwt``, from the ``typ`` header (in any case, ``application/`` optional)."""
    typ = header.get("typ")
    if isinstance(typ, str):
        typ = typ.lower().removeprefix("application/")
        if typ in REQUIRED_CLAIMS:
            return typ
    raise InvalidToken("The token type is not 'at+jwt'.", Reason.WRONG_TYPE)


# --- rules on the token's text: checked once per token text -------------------------------


def typ_names_a_kind(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    token_typ(header)


def required_claims_present_and_typed(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    for name, expected in REQUIRED_CLAIMS[token_typ(header)].items():
        if name not in claims:
            raise InvalidToken(f"The token lacks the required claim '{name}'.", Reason.MISSING_CLAIM)
        value = claims[name]
        # bool is an int in Python; a boolean is never a valid NumericDate.
        if isinstance(value, bool) or not isinstance(value, expected):
            raise InvalidToken(f"The token claim '{name}' has the wrong type.", Reason.BAD_CLAIM_TYPE)


def ids_not_empty_nor_too_long(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    for name in ("sub", "jti", "client_id", "sid"):
        value = claims.get(name)
        if isinstance(value, str) and not 0 < len(value) <= MAX_ID_LENGTH:
            raise InvalidToken(f"The token claim '{name}' is empty or too long.", Reason.BAD_CLAIM_TYPE)


def lists_hold_strings(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    aud = claims["aud"]
    if isinstance(aud, list) and not all(isinstance(a, str) for a in aud):
        raise InvalidToken("The token claim 'aud' has the wrong type.", Reason.BAD_CLAIM_TYPE)
    if not all(isinstance(r, str) for r in claims.get("roles", [])):
        raise InvalidToken("The token claim 'roles' has the wrong type.", Reason.BAD_CLAIM_TYPE)


def refresh_token_only_for_its_issuer(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    # Its own audience, the service that issued it: never one a resource service has.
    if token_typ(header) == REFRESH_TOKEN_TYP and claims["aud"] not in (
        settings.service_name,
        [settings.service_name],
    ):
        raise InvalidToken("A refresh token is only for the service that issued it.", Reason.WRONG_AUDIENCE)


def lifetime_within_what_is_issued(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    # No issuer of this stack mints a longer-lived token; one that does was minted with a
    # leaked key or by a misconfigured issuer, and must not live for a year.
    if claims["exp"] - claims["iat"] > LONGEST_LIFETIME[token_typ(header)]:
        raise InvalidToken("The token's lifetime is longer than any token is issued for.", Reason.LIFETIME_TOO_LONG)


#: How deep a chain of ``act`` claims may go (RFC 8693 §4.1: each exchange nests the last).
MAX_ACT_DEPTH = 4


def act_names_its_actors(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    # A token got by token exchange (RFC 8693 §4.1) names who acts for the subject, and
    # who acted before it. Audit events log the chain, so it must be what it says it is.
    actor = claims.get("act")
    for _depth in range(MAX_ACT_DEPTH):
        if actor is None:
            return
        if not isinstance(actor, dict) or not isinstance(actor.get("sub"), str):
            raise InvalidToken("The token claim 'act' has the wrong type.", Reason.BAD_CLAIM_TYPE)
        if not 0 < len(actor["sub"]) <= MAX_ID_LENGTH:
            raise InvalidToken("The token claim 'act' is empty or too long.", Reason.BAD_CLAIM_TYPE)
        actor = actor.get("act")
    raise InvalidToken("The token claim 'act' is nested too deeply.", Reason.BAD_CLAIM_TYPE)


TextRule = Callable[[Header, Claims, VerifierSettings], None]

#: Run in this order on every token verified in full; a remembered token skips them.
#: Later rules rely on earlier ones (the claims are present and typed).
TEXT_RULES: tuple[TextRule, ...] = (
    typ_names_a_kind,
    required_claims_present_and_typed,
    ids_not_empty_nor_too_long,
    lists_hold_strings,
    act_names_its_actors,
    refresh_token_only_for_its_issuer,
    lifetime_within_what_is_issued,
)


# --- rules on the request and on changing state: checked on every request -----------------


def kind_the_endpoint_takes(header: Header, claims: Claims, demand: Demand) -> None:
    if token_typ(header) != TYP_OF_KIND[demand.kind]:
        raise InvalidToken(
            f"This needs {'a refresh' if demand.kind == 'refresh' else 'an access'} token.", Reason.WRONG_TYPE
        )


def not_revoked(header: Header, claims: Claims, demand: Demand) -> None:
    if demand.is_revoked is not None and demand.is_revoked(claims):
        # The signature was valid: these claims are genuine, and name what the audit logs.
        raise TokenRevoked(claims=claims)


RequestRule = Callable[[Header, Claims, Demand], None]

#: Run in this order on every request, after :data:`TEXT_RULES` or a remembered token.
#: Revocation last: it is the one rule that costs a round trip to Redis.
REQUEST_RULES: tuple[RequestRule, ...] = (
    kind_the_endpoint_takes,
    not_revoked,
)


def check_text(header: Header, claims: Claims, settings: VerifierSettings) -> None:
    """Apply every rule of :data:`TEXT_RULES`; the first that fails raises its InvalidToken."""
    for rule in TEXT_RULES:
        rule(header, claims, settings)


def check_request(header: Header, claims: Claims, demand: Demand) -> None:
    """Apply every rule of :data:`REQUEST_RULES`; the first that fails raises its AuthError."""
    for rule in REQUEST_RULES:
        rule(header, claims, demand)
