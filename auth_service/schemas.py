"""Request and response bodies of auth_service (validated by APIFlask, in the OpenAPI document)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Regexp
from marshmallow import EXCLUDE

from secure_service.schemas import StrictSchema
from secure_service.token_exchange import TOKEN_EXCHANGE_GRANT


class LoginIn(StrictSchema):
    username = String(required=True, validate=Length(1, 64))
    password = String(required=True, validate=Length(1, 256))


class TokenPairOut(Schema):
    access_token = String()
    refresh_token = String()
    token_type = String()
    expires_in = Integer()
    scope = String()


class SessionOut(Schema):
    sid = String()
    created_at = String(metadata={"description": "ISO 8601, UTC"})
    last_used_at = String(metadata={"description": "ISO 8601, UTC: the last refresh, else the login"})
    client_id = String()
    current = Boolean(metadata={"description": "The session of the token that asked"})


class SessionListOut(Schema):
    sessions = List(Nested(SessionOut))


class LogoutIn(StrictSchema):
    refresh_token = String(validate=Length(1, 8192))


USER_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"


class RevokeIn(StrictSchema):
    user_id = String(required=True, validate=Regexp(USER_ID_PATTERN, error="Not a user id."))


class OAuthForm(Schema):
    """A form of the OAuth endpoints: unknown parameters are ignored, as RFC 6749 §3.2 requires.

    (Every other body here refuses them; an OAuth client library may send extras the
    standard lets it send.) The client's own credentials are part of every form.
    """

    class Meta:
        unknown = EXCLUDE

    client_id = String(validate=Length(1, 64))
    client_secret = String(validate=Length(1, 256))


class TokenRequestIn(OAuthForm):
    grant_type = String(
        validate=OneOf(["client_credentials", TOKEN_EXCHANGE_GRANT]),
    )
    scope = String(validate=Length(0, 512))
    # Token exchange (RFC 8693 §2.1).
    subject_token = String(validate=Length(1, 8192))
    subject_token_type = String(validate=Length(1, 128))
    audience = String(validate=Length(1, 128))
    requested_token_type = String(validate=Length(1, 128))
    # Named so that they are refused, not silently ignored: a request that asks for them
    # asks for something this server does not do (narrowing by resource, a second actor).
    resource = String(validate=Length(0, 2048))
    actor_token = String(validate=Length(0, 8192))
    actor_token_type = String(validate=Length(0, 128))


class TokenOut(Schema):
    access_token = String()
    token_type = String()
    expires_in = Integer()
    scope = String()
    issued_token_type = String(metadata={"description": "Token exchange only (RFC 8693 §2.2.1)."})


class TokenIn(OAuthForm):
    """What revocation (RFC 7009) and introspection (RFC 7662) take."""

    token = String(required=True, validate=Length(1, 8192))
    token_type_hint = String(validate=Length(1, 64))


class IntrospectionOut(Schema):
    """RFC 7662 §2.2: only ``active`` when the token is not active."""

    active = Boolean(required=True)
    token_type = String()
    scope = String()
    client_id = String()
    sub = String()
    aud = List(String())
    iss = String()
    exp = Integer()
    iat = Integer()
    nbf = Integer()
    jti = String()
    sid = String()
    roles = List(String())
    act = Dict()


class JwksOut(Schema):
    keys = List(Dict())
