"""Endpoints only auth_service may call, with its own service token."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from sqlalchemy import select

from secure_service import NotFound, require_token
from secure_service.scopes import CREDENTIALS_SCOPE

from . import schemas
from .models import User, db, username_key
from .passwords import hash_password, needs_rehash, verify_password

bp = APIBlueprint("internal", __name__, url_prefix="/internal", tag="Internal")


def _internal_view(user: User) -> dict[str, Any]:
    return {**user.public(), "active": user.active}


@bp.post("/credentials/verify")
@require_token(scopes=[CREDENTIALS_SCOPE])
@bp.input(schemas.CredentialsIn, arg_name="body")
@bp.output(schemas.CredentialsOut)
def verify_credentials(body: dict[str, Any]) -> dict[str, Any]:
    """Check a username and password; the same cost whether or not the user exists."""
    user = db.session.scalar(select(User).where(User.username_key == username_key(body["username"])))
    if not verify_password(user.password_hash if user else None, body["password"]) or user is None:
        return {"valid": False, "user": None}
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(body["password"])
        db.session.commit()
    return {"valid": True, "user": _internal_view(user)}


@bp.get("/users/<string(maxlength=64):user_id>")
@require_token(scopes=[CREDENTIALS_SCOPE])
@bp.output(schemas.InternalUserOut)
def get_user(user_id: str) -> dict[str, Any]:
    """A user's current roles and state, for refresh-time checks."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return _internal_view(user)
