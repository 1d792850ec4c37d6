"""State columns: CHECK constraints with the allowed values

Visit status and requested_by, absence reason, suggestion type and status, user role, audit action.

Revision ID: 0006_states
Revises: 0005_geo_cell
Create Date: 2026-12-02 10:00:00

The allowed values are written out here, not imported: a migration describes the schema as it was at this
revision. The enums (network/*/models.py, network/audit.py) must list the same values; tests/test_labels.py
checks that the running database accepts every enum value and refuses any other. Rows with a value outside a
list stop the upgrade with a message naming table, column and values, before anything is changed.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_states'
down_revision = '0005_geo_cell'
branch_labels = None
depends_on = None

# (table, constraint name as in the models, column, allowed values)
CHECKS = (
    ('visits', 'status', 'status', ('requested', 'confirmed', 'declined', 'cancelled', 'expired')),
    ('visits', 'requested_by', 'requested_by', ('firm', 'coach')),
    ('absences', 'reason', 'reason', ('vacation', 'sick', 'other')),
    ('suggestions', 'suggestion_type', 'suggestion_type', ('new_listing', 'outdated', 'duplicate')),
    ('suggestions', 'status', 'status', ('pending', 'accepted', 'rejected')),
    ('users', 'role', 'role', ('admin', 'editor', 'coach')),
    ('audit_entries', 'action', 'action', (
        # core (network.audit.AuditAction)
        'create', 'update', 'delete', 'confirm', 'export', 'erase',
        # directory
        'archive', 'restore', 'merge', 'import', 'accept', 'reject',
        # accounts
        'enable', 'disable', 'revoke', 'password_reset', 'password_link',
        # scheduling
        'request', 'book', 'decline', 'reschedule', 'cancel', 'outcome', 'working_hours', 'feed_rotate',
    )),
)


def _condition(column, values):
    return sa.column(column).in_(values)


def _check_existing_rows(bind):
    """Refuse to start when a row holds a value the CHECK would reject: say which, so it can be fixed first."""
    problems = []
    for table, _name, column, values in CHECKS:
        col = sa.column(column)
        stmt = (sa.select(col, sa.func.count()).select_from(sa.table(table, col))
                .where(col.not_in(values)).group_by(col))
        for value, count in bind.execute(stmt):
            problems.append(f"{table}.{column} = {value!r} ({count} rows)")
    if problems:
        raise RuntimeError(
            "0006_states: these stored values are not allowed by the new CHECK constraints; change or delete "
            "the rows, then upgrade again: " + "; ".join(problems))


def upgrade():
    _check_existing_rows(op.get_bind())
    tables = {}
    for table, name, column, values in CHECKS:
        tables.setdefault(table, []).append((name, column, values))
    for table, checks in tables.items():
        # SQLite cannot add a constraint: batch mode rebuilds the table (render_as_batch is on); PostgreSQL
        # gets ALTER TABLE ... ADD CONSTRAINT.
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, values in checks:
                batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'), _condition(column, values))


def downgrade():
    tables = {}
    for table, name, _column, _values in CHECKS:
        tables.setdefault(table, []).append(name)
    for table, names in tables.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
