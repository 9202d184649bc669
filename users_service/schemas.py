"""Request and response bodies of users_service."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Email, Integer, List, Nested, String
from apiflask.validators import Length, Range, Regexp
from marshmallow import RAISE

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class SignUpIn(StrictSchema):
    username = String(
        required=True,
        validate=Regexp(USERNAME_PATTERN, error="3-32 characters: letters, digits, '_', '.', '-'."),
    )
    password = String(required=True, validate=Length(12, 128))
    email = Email(validate=Length(max=254), allow_none=True)


class UserOut(Schema):
    id = String()
    username = String()
    email = String(allow_none=True)
    roles = List(String())
    created_at = String()


class UserListOut(Schema):
    users = List(Nested(UserOut))


class PageIn(StrictSchema):
    limit = Integer(load_default=50, validate=Range(1, 100))
    offset = Integer(load_default=0, validate=Range(0, 1_000_000))


class CredentialsIn(StrictSchema):
    username = String(required=True, validate=Length(1, 64))
    password = String(required=True, validate=Length(1, 256))


class InternalUserOut(UserOut):
    active = Boolean()


class CredentialsOut(Schema):
    valid = Boolean()
    user = Nested(InternalUserOut, allow_none=True)
