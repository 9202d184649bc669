"""Request and response bodies of users_service."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import Boolean, Email, List, Nested, String
from apiflask.validators import Length, Regexp
from marshmallow import ValidationError, validates_schema

from secure_service.schemas import StrictSchema

from .passwords import password_weakness

# \Z, not $: "$" also matches before a trailing newline.
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}\Z"


class SignUpIn(StrictSchema):
    username = String(
        required=True,
        validate=Regexp(USERNAME_PATTERN, error="3-32 characters: letters, digits, '_', '.', '-'."),
    )
    password = String(required=True, validate=Length(12, 128))
    email = Email(validate=Length(max=254), allow_none=True)

    @validates_schema
    def _password_is_not_guessable(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "password" not in data:
            return
        inputs = [data[name] for name in ("username", "email") if data.get(name)]
        weakness = password_weakness(data["password"], user_inputs=inputs)
        if weakness:
            raise ValidationError(weakness, field_name="password")


class UserOut(Schema):
    id = String()
    username = String()
    email = String(allow_none=True)
    roles = List(String())
    created_at = String()


class UserListOut(Schema):
    users = List(Nested(UserOut))


class CredentialsIn(StrictSchema):
    username = String(required=True, validate=Length(1, 64))
    password = String(required=True, validate=Length(1, 256))


class InternalUserOut(UserOut):
    active = Boolean()


class VerifiedUserOut(InternalUserOut):
    """The user whose credentials were right: InternalUserOut's fields, under its own name.

    A class of its own because APIFlask 3.1.2 does not see a schema that apispec already
    registered as nested: InternalUserOut, nested here and also an endpoint's output, landed
    in the OpenAPI document twice (InternalUserOut and InternalUserOut1), with a UserWarning.
    """


class CredentialsOut(Schema):
    valid = Boolean()
    user = Nested(VerifiedUserOut, allow_none=True)
