"""Migration 0006_states on a scratch SQLite database: existing rows survive, unknown values stop it, downgrade works.

SQLite rebuilds a table to add a CHECK; these tests guard the rows in the tables that point to a rebuilt one
(with foreign keys on, dropping the old table would cascade). On PostgreSQL the same migration is an
ALTER TABLE, run by the whole suite with TEST_DATABASE_URL.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from flask import current_app

from config import TestConfig
from network import create_app
from network.extensions import db

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
BEFORE, STATES = "0005_geo_cell", "0006_states"
CHECKED = ("visits", "absences", "suggestions", "users", "audit_entries")
EXPECTED_CHECKS = {
    "visits": {"ck_visits_end_after_start", "ck_visits_status", "ck_visits_requested_by"},
    "absences": {"ck_absences_reason"},
    "suggestions": {"ck_suggestions_status", "ck_suggestions_suggestion_type"},
    "users": {"ck_users_role"},
    "audit_entries": {"ck_audit_entries_action"},
}
FILLERS = {sa.String: "x", sa.Text: "", sa.Integer: 0, sa.Float: 0.0, sa.Boolean: False, sa.JSON: {},
           sa.DateTime: datetime(2026, 11, 1, tzinfo=UTC), sa.Date: date(2026, 11, 1)}


@pytest.fixture()
def scratch(tmp_path):
    """An app on its own empty SQLite file; yields the alembic config (app context open)."""

    class _Config(TestConfig):
        INSTANCE_PATH = str(tmp_path)
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'scratch.sqlite'}"
        GEOCODE_CACHE_PATH = str(tmp_path / "geocode_cache.sqlite")

    app = create_app(_Config)
    with app.app_context():
        yield current_app.extensions["migrate"].migrate.get_config(str(MIGRATIONS))
        db.engine.dispose()


def _insert(conn, name: str, **values) -> int:
    """Insert a row as the schema of this revision has it: NOT NULL columns not given get a filler value."""
    table = sa.Table(name, sa.MetaData(), autoload_with=conn)
    for column in table.columns:
        if column.name not in values and not column.nullable and not column.primary_key:
            values[column.name] = next(v for t, v in FILLERS.items() if isinstance(column.type, t))
    result = conn.execute(table.insert().values(**values))
    return result.inserted_primary_key[0] if result.inserted_primary_key else 0


def _old_data(conn) -> dict[str, int]:
    """Rows in the rebuilt tables and in the tables that refer to them; returns the user's id."""
    region = _insert(conn, "regions", slug="dortmund")
    kind = _insert(conn, "kinds", slug="innovationscoach")
    partner = _insert(conn, "partners", kind_id=kind, region_id=region)
    user = _insert(conn, "users", email="editor@example.org", role="editor")
    _insert(conn, "users", email="coach@example.org", role="coach", partner_id=partner)
    _insert(conn, "user_regions", user_id=user, region_id=region)
    _insert(conn, "api_tokens", user_id=user, token_hash="h" * 64)
    for n, status in enumerate(("requested", "confirmed", "declined", "cancelled", "expired")):
        _insert(conn, "visits", uid=f"v{n}", partner_id=partner, status=status, requested_by="firm",
                start_at=datetime(2026, 12, 1, 8 + n, tzinfo=UTC),
                end_at=datetime(2026, 12, 1, 9 + n, tzinfo=UTC))
    for reason in ("vacation", "sick", "other"):
        _insert(conn, "absences", partner_id=partner, reason=reason)
    _insert(conn, "suggestions", suggestion_type="duplicate", status="accepted", region_id=region,
            duplicate_of_id=partner, decided_by_id=user)
    for action in ("update", "working_hours", "password_link"):
        _insert(conn, "audit_entries", actor_id=user, entity_type="partners", entity_id=partner, action=action)
    return {"user": user}


def _counts(conn) -> dict[str, int]:
    tables = (*CHECKED, "user_regions", "api_tokens", "partners")
    counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
    counts["audit actors"] = conn.execute(sa.text("SELECT count(actor_id) FROM audit_entries")).scalar()
    counts["deciders"] = conn.execute(sa.text("SELECT count(decided_by_id) FROM suggestions")).scalar()
    return counts


def _checks() -> dict[str, set[str]]:
    inspector = sa.inspect(db.engine)
    return {table: {c["name"] for c in inspector.get_check_constraints(table)} for table in CHECKED}


def test_upgrade_keeps_every_row_and_downgrade_removes_the_checks(scratch):
    command.upgrade(scratch, BEFORE)
    with db.engine.begin() as conn:
        _old_data(conn)
        before = _counts(conn)
    assert before["user_regions"] == 1 and before["audit actors"] == 3 and before["deciders"] == 1

    command.upgrade(scratch, STATES)
    assert _checks() == EXPECTED_CHECKS
    with db.engine.connect() as conn:
        assert _counts(conn) == before
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1  # back on after the migration
        with pytest.raises(sa.exc.IntegrityError, match="ck_users_role"):
            conn.execute(sa.text("UPDATE users SET role = 'superuser'"))

    command.downgrade(scratch, BEFORE)
    assert _checks() == {table: {"ck_visits_end_after_start"} if table == "visits" else set() for table in CHECKED}
    with db.engine.begin() as conn:
        assert _counts(conn) == before
        conn.execute(sa.text("UPDATE users SET role = 'superuser'"))  # allowed again


def test_unknown_stored_values_stop_the_upgrade_and_are_named(scratch):
    command.upgrade(scratch, BEFORE)
    with db.engine.begin() as conn:
        _old_data(conn)
        conn.execute(sa.text("UPDATE users SET role = 'superuser' WHERE email = 'coach@example.org'"))
        conn.execute(sa.text("UPDATE visits SET status = 'done' WHERE uid IN ('v0', 'v1')"))
    with pytest.raises(RuntimeError) as failure:
        command.upgrade(scratch, STATES)
    assert "users.role = 'superuser' (1 rows)" in str(failure.value)
    assert "visits.status = 'done' (2 rows)" in str(failure.value)
    # Nothing changed: still at the old revision, no CHECK added.
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == BEFORE
    assert _checks()["users"] == set()
