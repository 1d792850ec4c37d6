"""The schema the migrations build is the one the models describe (Alembic autogenerate finds nothing to do)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect

from network.extensions import db

# PostgreSQL only, written by hand in 0003_scheduling: an EXCLUDE constraint SQLAlchemy cannot
# declare on the model; on PostgreSQL its backing GiST index is reflected like any other index.
# ck_audit_entries_action lists the audit actions every domain registers (network.audit.register_actions), so
# the model cannot declare it statically; tests/test_labels.py checks that the database refuses an unknown one.
DATABASE_ONLY = {"visits_no_overlap", "ck_audit_entries_action"}


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    return name not in DATABASE_ONLY


def test_autogenerate_finds_no_difference_between_models_and_migrations(app):
    # The app fixture has upgraded this database from migrations/ to head.
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            "render_as_batch": True,
            "include_object": _include_object,
        })
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "models and migrations disagree; `flask --app network db migrate` would write:\n" + \
        "\n".join(map(str, differences))


def test_check_constraints_of_the_models_exist_in_the_database(app):
    """Autogenerate does not compare CHECK constraints; their names are compared here."""
    with app.app_context(), db.engine.connect() as connection:
        inspector = inspect(connection)
        for table in db.metadata.sorted_tables:
            declared = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
            reflected = {c["name"] for c in inspector.get_check_constraints(table.name)} - DATABASE_ONLY
            assert declared == reflected, table.name
