"""The access-token verifier: a Flask extension configured on Flask-JWT-Extended.

Every request's token is verified in one pass (:meth:`_VerifierState.verify`): the key is
chosen by ``kid`` from the cached JWKS and pinned to its algorithm, one PyJWT decode
checks the signature, ``exp``, ``nbf``, ``iat``, ``iss`` and ``aud``, then the token kind
(its ``typ`` header, and for a refresh token its audience), the claim types and the
lifetime (``exp - iat``) are checked and Redis is asked whether it was revoked. Failures
become this package's ``AuthError`` family, so every service answers with the same
401/403/503, with messages of this module's own: a library's error text can quote the
token (a ``crit`` header, say), so it never reaches a client. Each worker remembers the
tokens it verified in full (:class:`VerifiedTokens`) and Redis's revocation answers
(revocation_cache.py).

Flask-JWT-Extended stays an integration layer: its ``decode_token`` and ``jwt_required``
run through the same callbacks (key choice, revocation, claim checks) registered here.
Requests do not go through its ``verify_jwt_in_request``, which parses each token four
times; docs/performance.md has the measurements.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

import jwt
from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager
from flask_jwt_extended.exceptions import JWTExtendedException, NoAuthorizationError, RevokedTokenError
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
)

from .audit import audit
from .errors import (
    AuthError,
    InsufficientScope,
    InvalidToken,
    MissingToken,
    RevocationUnavailable,
    TokenExpired,
    TokenRevoked,
    render_error,
)
from .jwks import KeyCache, SourceVersion, VerificationKey, hmac_kid, http_fetcher
from .revocation import RevocationStore, revocation_store
from .settings import MAX_ACCESS_TOKEN_TTL_SECONDS, MAX_REFRESH_TOKEN_TTL_SECONDS, VerifierSettings

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

EXTENSION_KEY = "secure_service.verifier"
#: The ``typ`` header is what tells the kinds of token apart (RFC 9068 §2.1, RFC 8725 §3.11);
#: no claim does.
ACCESS_TOKEN_TYP = "at+jwt"
REFRESH_TOKEN_TYP = "refresh+jwt"
#: Token header members that would let the token choose its own key: never honoured.
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256")
MAX_TOKEN_BYTES = 8192
MAX_ID_LENGTH = 256

# token68 (RFC 7235); a JWS compact serialisation is base64url segments joined by dots.
_BEARER = re.compile(r"^bearer +([A-Za-z0-9\-._~+/]+=*)$", re.IGNORECASE)
_SCHEME = re.compile(r"^\s*(\S+)")

_REQUIRED_COMMON_CLAIMS: Mapping[str, type | tuple[type, ...]] = {
    "iss": str,
    "sub": str,
    "aud": (str, list),
    "exp": int,
    "iat": int,
    "nbf": int,
    "jti": str,
    "client_id": str,
}
_REQUIRED_ACCESS_CLAIMS = {**_REQUIRED_COMMON_CLAIMS, "scope": str, "roles": list}
_REQUIRED_REFRESH_CLAIMS = {**_REQUIRED_COMMON_CLAIMS, "sid": str}


def bearer_token(header_value: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header; the scheme is case-insensitive."""
    if header_value is None or not header_value.strip():
        raise MissingToken()
    scheme = _SCHEME.match(header_value)
    if scheme is None or scheme.group(1).lower() != "bearer":
        # Another scheme (Basic, Token…) is no Bearer credential at all (RFC 6750 §3.1).
        raise MissingToken()
    if "," in header_value:
        raise InvalidToken("Exactly one Bearer token is allowed per request.", "malformed_header")
    if len(header_value) > MAX_TOKEN_BYTES:
        raise InvalidToken("The token is too large.", "too_large")
    match = _BEARER.match(header_value.strip())
    if match is None:
        raise InvalidToken("Malformed Authorization header; expected 'Bearer <token>'.", "malformed_header")
    return match.group(1)


def _check_claim_types(payload: Mapping[str, Any], required: Mapping[str, type | tuple[type, ...]]) -> None:
    for name, expected in required.items():
        if name not in payload:
            raise InvalidToken(f"The token lacks the required claim '{name}'.", "missing_claim")
        value = payload[name]
        # bool is an int in Python; a boolean is never a valid NumericDate.
        if isinstance(value, bool) or not isinstance(value, expected):
            raise InvalidToken(f"The token claim '{name}' has the wrong type.", "bad_claim_type")
    for name in ("sub", "jti", "client_id", "sid"):
        value = payload.get(name)
        if isinstance(value, str) and not 0 < len(value) <= MAX_ID_LENGTH:
            raise InvalidToken(f"The token claim '{name}' is empty or too long.", "bad_claim_type")
    aud = payload["aud"]
    if isinstance(aud, list) and not all(isinstance(a, str) for a in aud):
        raise InvalidToken("The token claim 'aud' has the wrong type.", "bad_claim_type")
    roles = payload.get("roles", [])
    if not all(isinstance(r, str) for r in roles):
        raise InvalidToken("The token claim 'roles' has the wrong type.", "bad_claim_type")


class Verifier:
    """Flask extension that authenticates requests with access tokens from auth_service."""

    def __init__(self, app: Flask | None = None, settings: VerifierSettings | None = None):
        self.jwt = JWTManager()
        if app is not None and settings is not None:
            self.init_app(app, settings)

    def init_app(
        self,
        app: Flask,
        settings: VerifierSettings,
        *,
        jwks_fetcher: Callable[[], Mapping[str, Any]] | None = None,
        jwks_version: SourceVersion | None = None,
        revocation: RevocationStore | None = None,
        max_token_lifetime_seconds: int = MAX_REFRESH_TOKEN_TTL_SECONDS,
    ) -> None:
        """Configure Flask-JWT-Extended on ``app`` and keep the verifier's state on it.

        ``jwks_fetcher`` and ``jwks_version`` replace the JWKS URL with a key source in this
        process (auth_service's key store), whose every change the key cache sees at once.
        """
        static: dict[str, VerificationKey] = {}
        if settings.hs256_secret:
            kid = hmac_kid(settings.hs256_secret)
            static[kid] = VerificationKey(kid=kid, algorithm="HS256", key=settings.hs256_secret.encode())
        state = _VerifierState(
            settings=settings,
            keys=KeyCache(
                jwks_fetcher or http_fetcher(settings.jwks_url, settings.jwks_timeout_seconds),
                tuple(a for a in settings.algorithms if a != "HS256"),
                cooldown_seconds=settings.jwks_cooldown_seconds,
                max_age_seconds=settings.jwks_max_age_seconds,
                static_keys=static,
                source_version=jwks_version,
            ),
            revocation=revocation
            or revocation_store(
                settings.redis_url,
                max_token_lifetime_seconds=max_token_lifetime_seconds,
                cache_entries=settings.revocation_cache_entries,
            ),
        )
        app.extensions[EXTENSION_KEY] = state
        # Fetch the keys now, best effort: under gunicorn's preload_app every worker then
        # starts with them, and keeps verifying even if auth_service goes down before the
        # worker's first request. A failure here only means the first request fetches.
        state.keys.refresh(force=True)
        app.config.update(
            JWT_TOKEN_LOCATION=["headers"],
            JWT_HEADER_NAME="Authorization",
            JWT_HEADER_TYPE="Bearer",
            JWT_IDENTITY_CLAIM="sub",
            JWT_DECODE_ALGORITHMS=list(settings.algorithms),
            JWT_DECODE_AUDIENCE=settings.service_name,
            JWT_DECODE_ISSUER=settings.issuer,
            JWT_DECODE_LEEWAY=settings.leeway_seconds,
            JWT_ERROR_MESSAGE_KEY="message",
            # Tokens travel only in the Authorization header, so there is no cookie to protect.
            JWT_COOKIE_CSRF_PROTECT=False,
        )
        self.jwt.init_app(app)
        self.jwt.decode_key_loader(state.decode_key)
        self.jwt.token_in_blocklist_loader(state.is_revoked)
        self.jwt.token_verification_loader(state.check_claims)
        _own_library_errors(app, settings.service_name)


@dataclass(frozen=True)
class VerifiedToken:
    """A token that passed the signature, header and claim checks, and the key that signed it."""

    header: dict[str, Any]
    claims: dict[str, Any]
    key: Any


class VerifiedTokens:
    """Tokens this process verified in full, so that a repeat skips parsing and the signature.

    Clients send the same access token for its whole lifetime, and the RSA check plus
    PyJWT's parse are most of what authentication costs (docs/performance.md). The same
    idea as Envoy's jwt_authn JWT cache, and just as narrow: keyed by the exact token
    text; used only while the key that verified it is still the one trusted for its
    ``kid`` (a retired or refetched key means a full check) and only before ``exp``, the
    one check that time can turn from pass to fail. The token kind and revocation are
    checked on every request. Bounded: when full it starts over.
    """

    def __init__(self, max_entries: int):
        self._max_entries = max_entries
        self._entries: dict[str, VerifiedToken] = {}

    def get(self, token: str) -> VerifiedToken | None:
        return self._entries.get(token)

    def put(self, token: str, verified: VerifiedToken) -> None:
        if self._max_entries <= 0:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        self._entries[token] = verified


class _VerifierState:
    def __init__(self, settings: VerifierSettings, keys: KeyCache, revocation: RevocationStore):
        self.settings = settings
        self.keys = keys
        self.revocation = revocation
        self.verified = VerifiedTokens(settings.verified_token_cache_entries)

    def decode_key(self, header: dict[str, Any], payload: dict[str, Any]) -> Any:
        """Pick the verification key by ``kid`` from the cached JWKS, pinned to its alg."""
        for name in FORBIDDEN_HEADERS:
            if name in header:
                raise InvalidToken(f"Token header '{name}' is not accepted.", "forbidden_header")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise InvalidToken("The token's algorithm is not allowed.", "algorithm_not_allowed")
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_ID_LENGTH:
            raise InvalidToken("The token has no usable 'kid'.", "unknown_key")
        key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("The token was signed with an unknown key.", "unknown_key")
        if key.algorithm != alg:
            # Stops key confusion: e.g. an HS256 token "signed" with an RSA public key.
            raise InvalidToken("The token's algorithm does not match its key.", "algorithm_not_allowed")
        return key.key

    def verify(self, token: str, *, refresh: bool = False) -> dict[str, Any]:
        """The claims of ``token`` if it passes every check, else an AuthError."""
        claims = self.genuine_claims(token, refresh=refresh)
        if self.revocation.is_revoked(claims):
            revoked = TokenRevoked()
            revoked.claims = claims  # the signature was valid: these claims are genuine
            raise revoked
        return claims

    def genuine_claims(self, token: str, *, refresh: bool = False, allow_expired: bool = False) -> dict[str, Any]:
        """The claims of a genuine ``token`` of the wanted kind, without asking whether it was revoked.

        Only for naming what to end (the refresh token sent to logout), where a revoked
        or, with ``allow_expired``, an expired token still names its session. To
        authenticate, :meth:`verify`.
        """
        verified = self.verified.get(token)
        if (
            verified is None
            or verified.claims["exp"] <= time.time()
            or self.decode_key(verified.header, {}) is not verified.key
        ):
            verified = self._verify_signature(token, allow_expired=allow_expired)
        _require_kind(verified.header, refresh=refresh)
        return dict(verified.claims)

    def _verify_signature(self, token: str, *, allow_expired: bool = False) -> VerifiedToken:
        """Everything that depends on the token's text alone, done in full; remembered."""
        header = unverified_header(token)
        key = self.decode_key(header, {})
        try:
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=[header["alg"]],
                audience=self.settings.service_name,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                # An expired token remembered here is never served from memory (verify
                # checks exp before it uses a remembered token), so it may be put there too.
                options={"verify_exp": not allow_expired},
            )
        except ExpiredSignatureError as e:
            raise TokenExpired() from e
        except InvalidTokenError as e:
            raise _library_refusal(e) from e
        if decoded["header"] != header:
            # The key was chosen from the quick parse; PyJWT's strict one must agree.
            raise InvalidToken("The token header is malformed.", "malformed")
        self._check_token(header, decoded["payload"])
        verified = VerifiedToken(header=header, claims=decoded["payload"], key=key)
        self.verified.put(token, verified)
        return verified

    def readiness_checks(self) -> dict[str, Callable[[], bool]]:
        """Checks for /readyz: Redis answers, and keys to verify tokens are known or fetchable."""
        return {
            "redis": self.revocation.ping,
            "jwks": lambda: self.keys.has_keys() or self.keys.refresh(force=False),
        }

    def is_revoked(self, header: dict[str, Any], payload: dict[str, Any]) -> bool:
        return self.revocation.is_revoked(payload)

    def check_claims(self, header: dict[str, Any], payload: dict[str, Any]) -> bool:
        """Flask-JWT-Extended's token_verification_loader: an access token's checks.

        FJE takes a token without its own ``type`` claim for an access token, so this is
        what keeps a refresh token out of ``jwt_required()``. (``jwt_required(refresh=True)``
        accepts none of auth_service's tokens; :func:`authenticate` is the way.)
        """
        self._check_token(header, payload)
        _require_kind(header, refresh=False)
        return True

    def _check_token(self, header: dict[str, Any], payload: Mapping[str, Any]) -> None:
        """The checks on a decoded token of either kind that depend on its text alone.

        Whatever is checked here, a token remembered in :class:`VerifiedTokens` skips;
        what time or revocation can change is checked in :meth:`verify`.
        """
        if _kind(header) == REFRESH_TOKEN_TYP:
            _check_claim_types(payload, _REQUIRED_REFRESH_CLAIMS)
            # Its own audience, the service that issued it: never one a resource service has.
            if payload["aud"] not in (self.settings.service_name, [self.settings.service_name]):
                raise InvalidToken("A refresh token is only for the service that issued it.", "wrong_audience")
            longest = MAX_REFRESH_TOKEN_TTL_SECONDS
        else:
            _check_claim_types(payload, _REQUIRED_ACCESS_CLAIMS)
            longest = MAX_ACCESS_TOKEN_TTL_SECONDS
        # No issuer of this stack mints a longer-lived token; one that does was minted with a
        # leaked key or by a misconfigured issuer, and must not live for a year.
        if payload["exp"] - payload["iat"] > longest:
            raise InvalidToken("The token's lifetime is longer than any token is issued for.", "lifetime_too_long")


def _kind(header: Mapping[str, Any]) -> str:
    """``at+jwt`` or ``refresh+jwt``, from the ``typ`` header (in any case, ``application/`` optional)."""
    typ = header.get("typ")
    typ = typ.lower().removeprefix("application/") if isinstance(typ, str) else None
    if typ not in (ACCESS_TOKEN_TYP, REFRESH_TOKEN_TYP):
        raise InvalidToken("The token type is not 'at+jwt'.", "wrong_type")
    return typ


def _require_kind(header: Mapping[str, Any], *, refresh: bool) -> None:
    if (_kind(header) == REFRESH_TOKEN_TYP) != refresh:
        wanted = "a refresh token" if refresh else "an access token"
        raise InvalidToken(f"This needs {wanted}.", "wrong_type")


def verifier_state(app: Flask | None = None) -> _VerifierState:
    """The verifier state registered on ``app`` (default: the current app)."""
    return cast(_VerifierState, (app or current_app).extensions[EXTENSION_KEY])


def authenticate(*, refresh: bool = False) -> dict[str, Any]:
    """Verify the request's Bearer token and return its claims, or raise an AuthError."""
    try:
        claims = _verify_request(refresh)
    except AuthError as error:
        _record_rejection(error)
        raise
    g.token_claims = claims
    return claims


def _verify_request(refresh: bool) -> dict[str, Any]:
    return verifier_state().verify(bearer_token(request.headers.get("Authorization")), refresh=refresh)


def unverified_header(token: str) -> dict[str, Any]:
    """The token's JOSE header, parsed but not trusted: only to choose the key.

    PyJWT's ``get_unverified_header`` validates the whole token character by character
    (about 60 µs for a 1 KB token) and the decode that follows does it all again. Only the
    header segment is parsed here; :meth:`_VerifierState.verify` then refuses the token
    unless PyJWT's own strict parse yields the very same header.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise InvalidToken("The token header is malformed.", "malformed") from e
    if not isinstance(header, dict):
        raise InvalidToken("The token header is malformed.", "malformed")
    return header


def _record_rejection(error: AuthError) -> None:
    """Audit and count a refused token (never the token itself)."""
    from . import metrics  # see metrics.py: not at package import

    if isinstance(error, RevocationUnavailable):
        return  # not the token's fault; the 503 is logged by the error handler
    metrics.TOKEN_REJECTIONS.labels(metrics.service(), error.reason).inc()
    genuine = getattr(error, "claims", None) or {}
    if isinstance(error, TokenRevoked):
        metrics.REVOKED_PRESENTED.labels(metrics.service()).inc()
        audit("revoked_token_presented", sub=genuine.get("sub"), jti=genuine.get("jti"), sid=genuine.get("sid"))
    audit("token_rejected", reason=error.reason, sub=genuine.get("sub"), jti=genuine.get("jti"))


#: What PyJWT's refusals become: a reason and a fixed message of ours, by exception class
#: (the most specific class first; the last row catches the rest). A closed table, because
#: PyJWT's own messages can quote the token: "Unsupported critical extension: <crit>".
_LIBRARY_REFUSALS: tuple[tuple[type[InvalidTokenError], str, str], ...] = (
    (InvalidSignatureError, "bad_signature", "The token signature is invalid."),
    (DecodeError, "malformed", "The token is malformed."),
    (InvalidAudienceError, "wrong_audience", "The token's audience does not include this service."),
    (InvalidIssuerError, "wrong_issuer", "The token was not issued by the trusted issuer."),
    (ImmatureSignatureError, "not_yet_valid", "The token is not valid yet."),
    (InvalidIssuedAtError, "bad_claim_type", "The token claim 'iat' has the wrong type."),
    (MissingRequiredClaimError, "missing_claim", "The token lacks a required claim."),
    (InvalidAlgorithmError, "algorithm_not_allowed", "The token's algorithm is not allowed."),
    (InvalidTokenError, "invalid", "The token is invalid."),
)


def _library_refusal(error: InvalidTokenError) -> InvalidToken:
    """The InvalidToken for a PyJWT refusal, with its reason and our message, never PyJWT's."""
    reason, message = next((r, m) for kind, r, m in _LIBRARY_REFUSALS if isinstance(error, kind))
    return InvalidToken(message, reason)


def _own_library_errors(app: Flask, realm: str) -> None:
    """Answer for PyJWT's and Flask-JWT-Extended's exceptions on FJE's own path.

    ``jwt_required`` and ``decode_token`` let them escape to handlers FJE registers, which
    answer 422 with the library's text. Ours replace them, for every class (Flask picks
    the handler of the most specific one), so they answer as :func:`authenticate` does.
    """

    def refuse(error: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
        refusal: AuthError
        if isinstance(error, ExpiredSignatureError):
            refusal = TokenExpired()
        elif isinstance(error, InvalidTokenError):
            refusal = _library_refusal(error)
        elif isinstance(error, NoAuthorizationError):
            refusal = MissingToken()
        elif isinstance(error, RevokedTokenError):
            refusal = TokenRevoked()
        else:  # FJE's other refusals (a malformed header, the wrong kind of token…)
            refusal = InvalidToken()
        _record_rejection(refusal)
        return render_error(refusal, realm)

    for base in (InvalidTokenError, JWTExtendedException):
        for kind in _with_subclasses(base):
            app.register_error_handler(kind, refuse)


def _with_subclasses(cls: type[Exception]) -> list[type[Exception]]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _with_subclasses(direct))]


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
