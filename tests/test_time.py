"""Time: instants are aware UTC on every database (UTCDateTime), naive ones are refused, one clock serves the app."""
from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import DateTime, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from network import clock
from network.audit import AuditEntry
from network.dbutil import UTCDateTime
from network.extensions import db

ROOT = Path(__file__).resolve().parents[1]
UTC = UTC
PLUS_TWO = timezone(timedelta(hours=2))
# 14:30 at +02:00 is 12:30 UTC: a store that dropped the offset would give back 14:30 UTC.
NON_UTC = datetime(2026, 6, 1, 14, 30, tzinfo=PLUS_TWO)
INSTANT = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


def _entry(**fields) -> AuditEntry:
    return AuditEntry(entity_type="test", entity_id=1, action="update", changes={}, **fields)


def _fresh_session() -> Session:
    """A session of its own; on PostgreSQL it answers in Berlin time, so the type has to convert."""
    session = Session(db.engine)
    if db.engine.dialect.name == "postgresql":
        session.execute(text("SET LOCAL TIME ZONE 'Europe/Berlin'"))  # this transaction only
    return session


def test_an_aware_non_utc_instant_comes_back_as_the_same_instant_in_utc(app_ctx):
    entry = _entry(created_at=NON_UTC)
    db.session.add(entry)
    db.session.commit()
    entry_id = entry.id
    db.session.remove()
    with _fresh_session() as session:
        loaded = session.get(AuditEntry, entry_id).created_at
        selected = session.scalar(select(AuditEntry.created_at).where(AuditEntry.id == entry_id))
    for value in (loaded, selected):
        assert value == INSTANT
        assert value.tzinfo is UTC  # aware UTC on SQLite too, which stores no zone


def test_comparisons_in_sql_convert_the_bound_instant_to_utc(app_ctx):
    db.session.add(_entry(created_at=INSTANT))
    db.session.commit()
    berlin = INSTANT.astimezone(ZoneInfo("Europe/Berlin"))  # 14:30+02:00
    with _fresh_session() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.created_at == berlin)) is not None
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.created_at > berlin)) is None


def test_a_naive_datetime_is_refused_on_write_and_in_queries(app_ctx):
    naive = datetime(2026, 6, 1, 12, 30)
    db.session.add(_entry(created_at=naive))
    with pytest.raises(StatementError) as caught:
        db.session.flush()
    assert isinstance(caught.value.orig, ValueError) and "naive" in str(caught.value.orig)
    db.session.rollback()
    with pytest.raises(StatementError):
        db.session.scalar(select(AuditEntry.id).where(AuditEntry.created_at < naive))
    db.session.rollback()


def test_column_defaults_read_the_app_clock(app_ctx, set_clock):
    set_clock(NON_UTC)
    entry = _entry()
    db.session.add(entry)
    db.session.commit()
    db.session.expire_all()
    assert entry.created_at == INSTANT and entry.created_at.tzinfo is UTC


def test_every_timestamp_column_is_a_utc_instant(app):
    plain = [f"{table.name}.{column.name}" for table in db.metadata.sorted_tables for column in table.columns
             if isinstance(column.type, DateTime) and not isinstance(column.type, UTCDateTime)]
    assert plain == []


def test_the_clock_answers_aware_utc_and_refuses_a_naive_test_clock(app, set_clock):
    with app.app_context():
        set_clock(NON_UTC)
        assert clock.now() == INSTANT and clock.now().tzinfo is UTC
        set_clock(datetime(2026, 6, 1, 12, 30))
        with pytest.raises(ValueError):
            clock.now()
        set_clock(None)
        assert clock.now().tzinfo is UTC and abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)


# What reads the machine's clock: datetime.now/utcnow/today, date.today, and network.clock.utcnow.
_CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}


def _clock_reads(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "utcnow":
            lines.append(node.lineno)
        elif isinstance(func, ast.Attribute):
            owner = func.value.attr if isinstance(func.value, ast.Attribute) else getattr(func.value, "id", None)
            if (owner, func.attr) in _CLOCK_READS or func.attr == "utcnow":
                lines.append(node.lineno)
    return sorted(lines)


def test_only_network_clock_reads_the_machine_clock():
    """One clock: every module takes the instant from network.clock.now(), which tests can move."""
    offenders = []
    for path in sorted((ROOT / "network").rglob("*.py")):
        if path == ROOT / "network" / "clock.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in _clock_reads(tree)]
    assert offenders == []


def test_the_clock_rule_sees_every_form_of_reading_the_clock():
    source = ("datetime.now(timezone.utc)\ndatetime.datetime.utcnow()\ndate.today()\n"
              "datetime.today()\nutcnow()\nclock.utcnow()\nclock.now()\n")
    assert _clock_reads(ast.parse(source)) == [1, 2, 3, 4, 5, 6]
