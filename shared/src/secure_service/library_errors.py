"""What PyJWT's and Flask-JWT-Extended's exceptions become: this package's AuthErrors, in its words.

A library's error text can quote the token (PyJWT: "Unsupported critical extension:
<crit>"), so none reaches a client: each refusal gets a reason and a fixed message of ours.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
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

from .errors import AuthError, InvalidToken, MissingToken, Reason, TokenExpired, TokenRevoked, render_error
from .rejections import record_rejection

#: PyJWT's refusals by exception class, the most specific class first (the last row catches
#: the rest): a closed table, so every one has a reason and a message of ours.
LIBRARY_REFUSALS: tuple[tuple[type[InvalidTokenError], Reason, str], ...] = (
    (InvalidSignatureError, Reason.BAD_SIGNATURE, "The token signature is invalid."),
    (DecodeError, Reason.MALFORMED, "The token is malformed."),
    (InvalidAudienceError, Reason.WRONG_AUDIENCE, "The token's audience does not include this service."),
    (InvalidIssuerError, Reason.WRONG_ISSUER, "The token was not issued by the trusted issuer."),
    (ImmatureSignatureError, Reason.NOT_YET_VALID, "The token is not valid yet."),
    (InvalidIssuedAtError, Reason.BAD_CLAIM_TYPE, "The token claim 'iat' has the wrong type."),
    (MissingRequiredClaimError, Reason.MISSING_CLAIM, "The token lacks a required claim."),
    (InvalidAlgorithmError, Reason.ALGORITHM_NOT_ALLOWED, "The token's algorithm is not allowed."),
    (InvalidTokenError, Reason.INVALID, "The token is invalid."),
)


def library_refusal(error: InvalidTokenError) -> AuthError:
    """The AuthError for a PyJWT refusal, with its reason and our message, never PyJWT's."""
    if isinstance(error, ExpiredSignatureError):
        return TokenExpired()
    reason, message = next((r, m) for kind, r, m in LIBRARY_REFUSALS if isinstance(error, kind))
    return InvalidToken(message, reason)


def own_library_errors(app: Flask, realm: str) -> None:
    """Answer for PyJWT's and Flask-JWT-Extended's exceptions on FJE's own path.

    ``jwt_required`` and ``decode_token`` let them escape to handlers FJE registers, which
    answer 422 with the library's text. Ours replace them, for every class (Flask picks
    the handler of the most specific one), so they answer as ``authenticate`` does.
    """

    def refuse(error: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
        refusal: AuthError
        if isinstance(error, InvalidTokenError):
            refusal = library_refusal(error)
        elif isinstance(error, NoAuthorizationError):
            refusal = MissingToken()
        elif isinstance(error, RevokedTokenError):
            refusal = TokenRevoked()
        else:  # FJE's other refusals (a malformed header, the wrong kind of token…)
            refusal = InvalidToken()
        record_rejection(refusal)
        return render_error(refusal, realm)

    for base in (InvalidTokenError, JWTExtendedException):
        for kind in _with_subclasses(base):
            app.register_error_handler(kind, refuse)


def _with_subclasses(cls: type[Exception]) -> list[type[Exception]]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _with_subclasses(direct))]
