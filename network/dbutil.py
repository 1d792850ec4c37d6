"""Database helpers shared by all domains (SQLite pragmas, time stamps)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event
from sqlalchemy.engine import Engine


def utcnow() -> datetime:
    """The current instant in UTC, timezone-aware."""
    return datetime.now(timezone.utc)


def configure_sqlite(engine: Engine) -> None:
    """Enforce foreign keys and wait for locks instead of failing at once."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
