"""Request and response bodies of auth_service (validated by APIFlask, in the OpenAPI document)."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Dict, Integer, List, String
from apiflask.validators import Length, OneOf, Regexp

from secure_service.schemas import StrictSchema


class LoginIn(StrictSchema):
    username = String(required=True, validate=Length(1, 64))
    password = String(required=True, validate=Length(1, 256))


class TokenPairOut(Schema):
    access_token = String()
    refresh_token = String()
    token_type = String()
    expires_in = Integer()
    scope = String()


class LogoutIn(StrictSchema):
    refresh_token = String(validate=Length(1, 8192))


USER_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"


class RevokeIn(StrictSchema):
    user_id = String(required=True, validate=Regexp(USER_ID_PATTERN, error="Not a user id."))


class ClientCredentialsIn(StrictSchema):
    grant_type = String(validate=OneOf(["client_credentials"]))
    client_id = String(required=True, validate=Length(1, 64))
    client_secret = String(required=True, validate=Length(1, 256))
    scope = String(validate=Length(0, 512))


class ServiceTokenOut(Schema):
    access_token = String()
    token_type = String()
    expires_in = Integer()
    scope = String()


class JwksOut(Schema):
    keys = List(Dict())
