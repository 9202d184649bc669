"""orders_service: create with token relay, list and get by owner, admin sees all."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from orders_service import create_app
from orders_service.models import Order, db
from tests.support import bearer, free_port
from tests.unit.services import Actions, Services
from users_service.models import User
from users_service.models import db as users_db


def count_orders(services: Services) -> int:
    with services.orders.app_context():
        return db.session.query(Order).count()


def place(orders_client: FlaskClient, token: str, item: str = "book", quantity: int = 1) -> Any:
    return orders_client.post("/orders", headers=bearer(token), json={"item": item, "quantity": quantity})


def test_an_order_belongs_to_its_creator(actions: Actions, orders_client: FlaskClient) -> None:
    user, tokens = actions.new_user()
    response = place(orders_client, tokens["access_token"], "tea", 3)
    assert response.status_code == 201
    order = response.json
    assert set(order) == {"id", "user_id", "item", "quantity", "status", "created_at"}
    assert (order["user_id"], order["item"], order["quantity"]) == (user["id"], "tea", 3)
    assert response.headers["Location"] == f"/orders/{order['id']}"
    fetched = orders_client.get(f"/orders/{order['id']}", headers=bearer(tokens["access_token"]))
    assert fetched.json == order


def test_others_orders_are_404_and_not_listed(actions: Actions, orders_client: FlaskClient) -> None:
    _alice, alice = actions.new_user()
    _bob, bob = actions.new_user()
    order = place(orders_client, alice["access_token"]).json
    assert orders_client.get(f"/orders/{order['id']}", headers=bearer(bob["access_token"])).status_code == 404
    assert orders_client.get("/orders", headers=bearer(bob["access_token"])).json == {"orders": []}
    listed = orders_client.get("/orders", headers=bearer(alice["access_token"])).json["orders"]
    assert [o["id"] for o in listed] == [order["id"]]


def test_an_admin_sees_every_order(actions: Actions, orders_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    order = place(orders_client, tokens["access_token"]).json
    admin = actions.admin_tokens()
    assert orders_client.get(f"/orders/{order['id']}", headers=bearer(admin["access_token"])).status_code == 200
    listed = orders_client.get("/orders?limit=100", headers=bearer(admin["access_token"])).json["orders"]
    assert order["id"] in {o["id"] for o in listed}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"item": "x", "quantity": 0}, id="zero-quantity"),
        pytest.param({"item": "x", "quantity": -1}, id="negative-quantity"),
        pytest.param({"item": "x", "quantity": "3"}, id="quantity-as-string"),
        pytest.param({"item": "x", "quantity": 1.5}, id="quantity-as-float"),
        pytest.param({"item": "x", "quantity": True}, id="quantity-as-bool"),
        pytest.param({"item": "x", "quantity": 10**12}, id="quantity-huge"),
        pytest.param({"item": "", "quantity": 1}, id="empty-item"),
        pytest.param({"item": "x" * 201, "quantity": 1}, id="item-too-long"),
        pytest.param({"item": 5, "quantity": 1}, id="item-not-a-string"),
        pytest.param({"quantity": 1}, id="missing-item"),
        pytest.param({"item": "x", "quantity": 1, "user_id": "someone-else"}, id="spoofed-owner"),
        pytest.param([1, 2], id="array-body"),
    ],
)
def test_bad_orders_are_400_and_store_nothing(
    services: Services, actions: Actions, orders_client: FlaskClient, body: Any
) -> None:
    _user, tokens = actions.new_user()
    before = count_orders(services)
    response = orders_client.post("/orders", headers=bearer(tokens["access_token"]), json=body)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert count_orders(services) == before


def test_unicode_items_are_kept_as_sent(actions: Actions, orders_client: FlaskClient) -> None:
    _user, tokens = actions.new_user()
    assert place(orders_client, tokens["access_token"], "茶 — thé ☕").json["item"] == "茶 — thé ☕"


def test_orders_need_a_token_with_orders_scope(services: Services, orders_client: FlaskClient) -> None:
    assert orders_client.get("/orders").status_code == 401
    token = (
        services.auth.test_client()
        .post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "reporting",
                "client_secret": services.client_secret,
                "scope": "orders:read",
            },
        )
        .json["access_token"]
    )
    assert orders_client.get("/orders", headers=bearer(token)).status_code == 200
    assert place(orders_client, token).status_code == 403


def test_a_disabled_user_cannot_place_an_order(
    services: Services, actions: Actions, orders_client: FlaskClient
) -> None:
    user, tokens = actions.new_user()
    with services.users.app_context():
        users_db.session.get(User, user["id"]).active = False
        users_db.session.commit()
    before = count_orders(services)
    response = place(orders_client, tokens["access_token"])
    assert response.status_code == 403
    assert response.json["error"] == "user_inactive"
    assert count_orders(services) == before


def test_users_service_down_is_503_and_stores_nothing(services: Services, actions: Actions) -> None:
    _user, tokens = actions.new_user()
    app = create_app(
        {
            **services.config,
            "USERS_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
            "DATABASE_URL": services.orders.config["SQLALCHEMY_DATABASE_URI"],
        }
    )
    before = count_orders(services)
    response = place(app.test_client(), tokens["access_token"])
    assert response.status_code == 503
    assert count_orders(services) == before


def test_a_quantity_written_as_a_whole_float_is_that_integer(actions: Actions, orders_client: FlaskClient) -> None:
    # JSON Schema, and so the OpenAPI document, counts 2.0 as an integer.
    _user, tokens = actions.new_user()
    response = place(orders_client, tokens["access_token"], quantity=2.0)  # type: ignore[arg-type]
    assert response.status_code == 201
    assert response.json["quantity"] == 2
