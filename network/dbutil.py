"""Database helpers for all domains: the UTC instant column type, state columns, SQLite set-up, raw fetches."""
from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Enum, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

from network.clock import require_aware


class UTCDateTime(TypeDecorator):
    """An instant: DateTime(timezone=True) that takes aware datetimes and always gives back aware UTC ones.

    Naive values are refused on write: nothing in the code base means a naive datetime as an
    instant (the clock, the parsers and the Berlin conversions all return aware values), so
    one is a bug that would silently store the wrong hour. SQLite keeps no zone, so values are
    stored as UTC and UTC is attached on read; PostgreSQL answers in the session's TimeZone,
    which is converted to UTC. The schema is that of DateTime(timezone=True): no migration.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime needs a datetime, not {type(value).__name__}")
        return require_aware(value).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: stored as UTC (process_bind_param), handed back without zone
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, wait for locks instead of failing, WAL, and transactions SQLAlchemy begins itself.

    pysqlite's own implicit BEGIN cannot say IMMEDIATE; with the driver in autocommit
    mode SQLAlchemy's "begin" event issues BEGIN, and BEGIN IMMEDIATE when a connection
    is procured with execution_options(sqlite_begin="IMMEDIATE") — the booking path's
    check-and-insert then holds the write lock from its first read on.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite transaction mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def state_type(enum: type[StrEnum], name: str, length: int = 20) -> Enum:
    """A column type for a state enum: the value stored as a plain string, a CHECK named ck_<table>_<name>
    allowing exactly the enum's values (no native ENUM type, so adding a value is a CHECK swap, not a type
    migration); loaded rows give enum members, and plain strings are accepted when writing."""
    return Enum(enum, name=name, native_enum=False, create_constraint=True, length=length,
                values_callable=lambda members: [member.value for member in members])


def fetch_tuples(session, stmt) -> list[tuple]:
    """Run a Core SELECT through the DBAPI cursor and return plain tuples.

    For hot paths over thousands of rows (the nearby search's candidates): it skips
    SQLAlchemy's Row objects. Only for statements whose columns need no result
    processing (numbers, ids).
    """
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return cursor.fetchall()
    finally:
        cursor.close()
