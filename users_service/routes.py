"""Public user endpoints: sign-up, own profile, lookups."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import current_app, url_for
from marshmallow import RAISE
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from secure_service import Conflict, NotFound, current_claims, has_role, require_token
from secure_service.openapi import names_end_user
from secure_service.schemas import PageIn

from . import schemas
from .models import User, db, username_key
from .passwords import HashingSlots, hash_password

bp = APIBlueprint("users", __name__, url_prefix="/users", tag="Users")


@bp.post("")
@names_end_user
@bp.input(schemas.SignUpIn, arg_name="body")
@bp.output(schemas.UserOut, status_code=201)
@bp.doc(
    responses={
        409: "Username already taken",
        429: "Too many sign-ups from this address; see Retry-After",
        503: "Too many sign-ups at once; see Retry-After",
    }
)
def sign_up(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create an account."""
    key = username_key(body["username"])
    if db.session.scalar(select(User.id).where(User.username_key == key)) is not None:
        raise Conflict("That username is taken.")
    hashing: HashingSlots = current_app.extensions["users_service.hashing"]
    with hashing.slot():
        password_hash = hash_password(body["password"])
    user = User(
        username=body["username"], username_key=key, email=body.get("email"), password_hash=password_hash, roles="user"
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as e:
        # Two sign-ups raced for the same name; the unique index decided.
        db.session.rollback()
        raise Conflict("That username is taken.") from e
    return user.public(), 201, {"Location": url_for("users.get_user", user_id=user.id)}


@bp.get("/me")
@require_token(scopes=["users:read"])
@bp.output(schemas.UserOut)
def me() -> dict[str, Any]:
    """The caller's own profile."""
    user = db.session.get(User, current_claims()["sub"])
    if user is None or not user.active:
        raise NotFound("No such user.")
    return user.public()


@bp.get("/<string(maxlength=64):user_id>")
@require_token(scopes=["users:read"])
@bp.output(schemas.UserOut)
def get_user(user_id: str) -> dict[str, Any]:
    """A user's profile: your own, or anyone's for an admin (others are 404, not 403)."""
    if user_id != current_claims()["sub"] and not has_role("admin"):
        raise NotFound("No such user.")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user.public()


@bp.get("")
@require_token(scopes=["users:read"], roles=["admin"])
@bp.input(PageIn, location="query", arg_name="page", unknown=RAISE)
@bp.output(schemas.UserListOut)
def list_users(page: dict[str, Any]) -> dict[str, Any]:
    """Admin: every user, oldest first."""
    users = db.session.scalars(
        select(User).order_by(User.created_at, User.id).limit(page["limit"]).offset(page["offset"])
    )
    return {"users": [user.public() for user in users]}
