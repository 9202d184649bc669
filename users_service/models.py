"""The user directory's table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from secure_service.database import utc_isoformat


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_id)
    username: Mapped[str] = mapped_column(String(32))
    # Unique on the case-folded name, so "Alice" and "alice" cannot both sign up.
    username_key: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(255), default="user")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    @property
    def role_list(self) -> list[str]:
        return self.roles.split()

    def public(self) -> dict[str, Any]:
        """The profile as the API shows it (never the hash)."""
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "roles": self.role_list,
            "created_at": utc_isoformat(self.created_at),
        }


def username_key(username: str) -> str:
    return username.casefold()
