"""Order endpoints: create (the caller confirmed active by users_service), list and get, by owner."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import current_app, request, url_for
from marshmallow import RAISE
from sqlalchemy import select

from secure_service import NotFound, current_claims, has_role, require_token
from secure_service.bearer import bearer_token
from secure_service.schemas import PageIn

from . import schemas
from .models import Order, db
from .users_client import UsersClient

bp = APIBlueprint("orders", __name__, url_prefix="/orders", tag="Orders")


@bp.post("")
@require_token(scopes=["orders:write"])
@bp.input(schemas.OrderIn, arg_name="body")
@bp.output(schemas.OrderOut, status_code=201)
@bp.doc(responses={403: "The user is unknown or disabled"})
def create_order(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Place an order for the caller, after users_service confirms the caller is active."""
    users: UsersClient = current_app.extensions["orders_service.users"]
    users.require_active_user(bearer_token(request.headers.get("Authorization")), current_claims())
    order = Order(user_id=current_claims()["sub"], item=body["item"], quantity=body["quantity"])
    db.session.add(order)
    db.session.commit()
    return order.public(), 201, {"Location": url_for("orders.get_order", order_id=order.id)}


@bp.get("")
@require_token(scopes=["orders:read"])
@bp.input(PageIn, location="query", arg_name="page", unknown=RAISE)
@bp.output(schemas.OrderListOut)
def list_orders(page: dict[str, Any]) -> dict[str, Any]:
    """The caller's orders, newest first (an admin sees everyone's)."""
    query = select(Order).order_by(Order.created_at.desc(), Order.id)
    if not has_role("admin"):
        query = query.where(Order.user_id == current_claims()["sub"])
    orders = db.session.scalars(query.limit(page["limit"]).offset(page["offset"]))
    return {"orders": [order.public() for order in orders]}


@bp.get("/<string(maxlength=64):order_id>")
@require_token(scopes=["orders:read"])
@bp.output(schemas.OrderOut)
def get_order(order_id: str) -> dict[str, Any]:
    """One order: the owner's or, for an admin, anyone's; others get 404 (no existence leak)."""
    order = db.session.get(Order, order_id)
    if order is None or (order.user_id != current_claims()["sub"] and not has_role("admin")):
        raise NotFound("No such order.")
    return order.public()
