"""Request-schema building blocks shared by the services."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Integer
from apiflask.validators import Range
from marshmallow import RAISE


class StrictSchema(Schema):
    """A request body that refuses unknown fields (a typo is an error, not silently ignored)."""

    class Meta:
        unknown = RAISE


class PageIn(StrictSchema):
    """``?limit=&offset=`` for list endpoints."""

    limit = Integer(load_default=50, validate=Range(1, 100))
    offset = Integer(load_default=0, validate=Range(0, 1_000_000))
