"""Request and response bodies of orders_service."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Integer, List, Nested, String
from apiflask.validators import Length, Range

from secure_service.schemas import StrictSchema, WholeNumber

MAX_QUANTITY = 10_000


class OrderIn(StrictSchema):
    item = String(required=True, validate=Length(1, 200))
    quantity = WholeNumber(required=True, validate=Range(1, MAX_QUANTITY))


class OrderOut(Schema):
    id = String()
    user_id = String()
    item = String()
    quantity = Integer()
    status = String()
    created_at = String()


class OrderListOut(Schema):
    orders = List(Nested(OrderOut))
