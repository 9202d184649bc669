"""Request-schema building blocks shared by the services."""

from __future__ import annotations

from typing import Any

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


class WholeNumber(Integer):
    """A JSON integer as JSON Schema defines it: ``3`` and ``3.0``, never ``"3"``, ``true`` or ``3.5``.

    marshmallow's strict Integer also refuses ``3.0``, which the OpenAPI document (JSON
    Schema's "integer") allows; its lax one accepts ``"3"``, which the document refuses.
    """

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return int(super()._validated(value))
