"""SQLAlchemy set-up shared by the services that own data."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

#: The PostgreSQL advisory lock a service holds while it creates its tables (any constant,
#: the same in every replica; each service has a database of its own).
SCHEMA_LOCK_KEY = 0x6A777473


def utc_isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; SQLite hands back naive datetimes, which are UTC here."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def default_sqlite_url(service_name: str) -> str:
    """The no-Docker default: a SQLite file per service under ./var."""
    return f"sqlite:///{Path('var', f'{service_name}.db').resolve()}"


def init_database(app: Flask, db: SQLAlchemy, url: str) -> None:
    """Bind ``db`` to ``url`` and create the tables that do not exist yet."""
    parsed = make_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Several gunicorn workers write to one file: wait for the lock instead of failing.
        options["connect_args"] = {"timeout": 15}
    app.config.update(SQLALCHEMY_DATABASE_URI=url, SQLALCHEMY_ENGINE_OPTIONS=options)
    db.init_app(app)
    with app.app_context():
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas start together on a fresh database, and two CREATE TABLEs of one
                # table at once fail one of them (a unique violation in pg_type), which then
                # crashes at start. One at a time, under a lock held until this transaction
                # ends: the later ones find the tables and create nothing.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            db.metadata.create_all(connection)
        # Connections opened here must not be shared with forked gunicorn workers.
        db.engine.dispose()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        # WAL lets readers proceed while a worker writes; foreign keys are off by default.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def database_ready(db: SQLAlchemy) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False
