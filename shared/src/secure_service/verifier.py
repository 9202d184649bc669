"""The token verifier: a Flask extension (Flask-JWT-Extended's ``JWTManager`` shape) and its pipeline.

``Verifier(app)`` (or ``Verifier()`` then ``init_app(app)``) keeps one
:class:`VerifierState` in ``app.extensions``; :func:`verifier_state` reaches it. Every
token goes through :meth:`VerifierState.verify`, in one pass: the key is chosen by ``kid``
from the cached JWKS and pinned to its algorithm; one PyJWT decode checks the signature,
``exp``, ``nbf``, ``iat``, ``iss`` and ``aud``; then the rules of claim_rules.py run,
those on the token's text once per token (verified_tokens.py remembers it), those on the
request every time, revocation last. Failures are this package's ``AuthError`` family,
rendered by the extension's own handlers, so every service answers the same 401/403/503
in the shared shape, with messages of ours (library_errors.py).

Flask-JWT-Extended stays an integration layer: its ``jwt_required`` and ``decode_token``
run through the same key choice and rules, registered here as its callbacks, and its
error handlers are replaced by ours. Requests do not go through its
``verify_jwt_in_request``, which parses each token four times; docs/performance.md has
the measurements.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, cast

import jwt
from flask import Flask, current_app
from flask_jwt_extended import JWTManager
from jwt.exceptions import InvalidTokenError

from . import claim_rules
from .bearer import unverified_header
from .claim_rules import MAX_ID_LENGTH, Demand, TokenKind
from .errors import AuthError, InvalidToken, Reason, render_error
from .jwks import JwksFetcher, KeyCache, SourceVersion, VerificationKey, hmac_kid, http_fetcher
from .library_errors import library_refusal, own_library_errors
from .revocation import RevocationCheck, redis_client, revocation_check
from .settings import SettingsError, Source, VerifierSettings
from .verified_tokens import VerifiedToken, VerifiedTokens

__all__ = ["EXTENSION_KEY", "FORBIDDEN_HEADERS", "RevocationCheck", "Verifier", "VerifierState", "verifier_state"]

EXTENSION_KEY = "secure_service.verifier"
#: Token header members that would let the token choose its own key: never honoured.
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256")


class VerifierState:
    """What :class:`Verifier` keeps on an app: its settings, keys, revocation check and verified tokens."""

    def __init__(self, settings: VerifierSettings, keys: KeyCache, revocation: RevocationCheck):
        #: The settings the verifier was configured with.
        self.settings = settings
        #: The verification keys, by ``kid``, from auth_service's JWKS (jwks.py).
        self.keys = keys
        #: Asked on every request whether a token was revoked.
        self.revocation = revocation
        #: Tokens this worker verified in full (verified_tokens.py).
        self.verified = VerifiedTokens(settings.verified_token_cache_entries)

    def verify(
        self,
        token: str,
        *,
        kind: TokenKind = "access",
        allow_expired: bool = False,
        allow_revoked: bool = False,
        audiences: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """The claims of ``token`` if it is a genuine token of ``kind`` and passes every rule, else an AuthError.

        ``allow_expired`` and ``allow_revoked`` are only for naming what to end (the
        refresh token sent to logout), where an expired or revoked token still names its
        session; never to authenticate. ``audiences`` accepts a token for any of those
        services instead of this one's: only for auth_service answering about the tokens
        it issued (introspection, revocation), never to authenticate a request.
        """
        verified = self.verified.get(token, now=time.time(), trusted_key=self._trusted_key)
        if verified is None:
            verified = self._verify_in_full(token, allow_expired=allow_expired, audiences=audiences)
        demand = Demand(kind=kind, is_revoked=None if allow_revoked else self.revocation.is_revoked)
        claim_rules.check_request(verified.header, verified.claims, demand)
        return dict(verified.claims)

    def readiness_checks(self) -> dict[str, Callable[[], bool]]:
        """Checks for /readyz: Redis answers, and keys to verify tokens are known or fetchable."""
        return {
            "redis": self.revocation.ping,
            "jwks": lambda: self.keys.has_keys() or self.keys.refresh(force=False),
        }

    def decode_key(self, header: Mapping[str, Any], payload: Mapping[str, Any]) -> Any:
        """Pick the verification key by ``kid`` from the cached JWKS, pinned to its alg.

        Also Flask-JWT-Extended's ``decode_key_loader``, hence the unused ``payload``.
        """
        for name in FORBIDDEN_HEADERS:
            if name in header:
                raise InvalidToken(f"Token header '{name}' is not accepted.", Reason.FORBIDDEN_HEADER)
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise InvalidToken("The token's algorithm is not allowed.", Reason.ALGORITHM_NOT_ALLOWED)
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_ID_LENGTH:
            raise InvalidToken("The token has no usable 'kid'.", Reason.UNKNOWN_KEY)
        key = self.keys.get(kid)
        if key is None:
            raise InvalidToken("The token was signed with an unknown key.", Reason.UNKNOWN_KEY)
        if key.algorithm != alg:
            # Stops key confusion: e.g. an HS256 token "signed" with an RSA public key.
            raise InvalidToken("The token's algorithm does not match its key.", Reason.ALGORITHM_NOT_ALLOWED)
        return key.key

    def _trusted_key(self, header: Mapping[str, Any]) -> Any:
        return self.decode_key(header, {})

    def _verify_in_full(self, token: str, *, allow_expired: bool, audiences: Collection[str] | None) -> VerifiedToken:
        """Everything that depends on the token's text alone, done in full; remembered if for this service."""
        header = unverified_header(token)
        key = self.decode_key(header, {})
        try:
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=[header["alg"]],
                # PyJWT: any one of the token's audiences in the list passes.
                audience=list(audiences) if audiences is not None else self.settings.service_name,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                # An expired token remembered here is never served from memory (the cache
                # hands out no token past its exp), so it may be put there too.
                options={"verify_exp": not allow_expired},
            )
        except InvalidTokenError as e:
            raise library_refusal(e) from e
        if decoded["header"] != header:
            # The key was chosen from the quick parse; PyJWT's strict one must agree.
            raise InvalidToken("The token header is malformed.", Reason.MALFORMED)
        claim_rules.check_text(header, decoded["payload"], self.settings)
        verified = VerifiedToken(header=header, claims=decoded["payload"], key=key)
        if audiences is None:
            # Remembered tokens are served to every caller, so only those checked for this
            # service's own audience.
            self.verified.put(token, verified)
        return verified


class Verifier:
    """Flask extension that authenticates requests with tokens from auth_service."""

    def __init__(self, app: Flask | None = None, settings: VerifierSettings | None = None):
        self.jwt = JWTManager()
        # Flask-JWT-Extended keeps its callbacks on the manager, not per app: each asks the
        # state of the app it runs in, so one Verifier can serve several apps.
        self.jwt.decode_key_loader(lambda header, payload: verifier_state().decode_key(header, payload))
        self.jwt.token_in_blocklist_loader(lambda header, payload: verifier_state().revocation.is_revoked(payload))
        self.jwt.token_verification_loader(_access_token_rules)
        if app is not None:
            self.init_app(app, settings)

    def init_app(
        self,
        app: Flask,
        settings: VerifierSettings | None = None,
        *,
        jwks_fetcher: JwksFetcher | None = None,
        jwks_version: SourceVersion | None = None,
        revocation: RevocationCheck | None = None,
    ) -> None:
        """Keep a :class:`VerifierState` on ``app``, configure Flask-JWT-Extended, own every token error.

        ``settings`` default to ``VerifierSettings.load(Source(app.config), app.config["SERVICE_NAME"])``
        (the environment, overridden by ``app.config``). ``jwks_fetcher`` and
        ``jwks_version`` replace the JWKS URL with a key source in this process
        (auth_service's key store), whose every change the key cache sees at once;
        ``revocation`` replaces the Redis check at ``REDIS_URL``.
        """
        if settings is None:
            settings = _settings_of(app)
        static: dict[str, VerificationKey] = {}
        if settings.hs256_secret:
            kid = hmac_kid(settings.hs256_secret)
            static[kid] = VerificationKey(kid=kid, algorithm="HS256", key=settings.hs256_secret.encode())
        state = VerifierState(
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
            or revocation_check(redis_client(settings.redis_url), cache_entries=settings.revocation_cache_entries),
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
        realm = settings.service_name

        # Every AuthError in the shared shape with its challenge, in any Flask app (in one
        # built by create_service_app this is what its error processor answers too).
        def render_auth_error(error: AuthError) -> tuple[dict[str, Any], int, dict[str, str]]:
            return render_error(error, realm)

        app.register_error_handler(AuthError, render_auth_error)
        own_library_errors(app, realm)


def verifier_state(app: Flask | None = None) -> VerifierState:
    """The verifier state registered on ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return cast(VerifierState, app.extensions[EXTENSION_KEY])
    except KeyError:
        raise RuntimeError(f"No Verifier on app {app.name!r}: call Verifier(app) or init_app(app) first") from None


def _settings_of(app: Flask) -> VerifierSettings:
    service_name = app.config.get("SERVICE_NAME")
    if not service_name:
        raise SettingsError("SERVICE_NAME is not set in app.config; the verifier needs it as its audience")
    return VerifierSettings.load(Source(app.config), str(service_name))


def _access_token_rules(header: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Flask-JWT-Extended's ``token_verification_loader``: the same rules, for an access token.

    FJE takes a token without its own ``type`` claim for an access token, so this is what
    keeps a refresh token out of ``jwt_required()`` (``jwt_required(refresh=True)``
    accepts none of auth_service's tokens). Revocation is FJE's blocklist loader.
    """
    claim_rules.check_text(header, payload, verifier_state().settings)
    claim_rules.check_request(header, payload, Demand(kind="access", is_revoked=None))
    return True
