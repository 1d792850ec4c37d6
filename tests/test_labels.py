"""Every state enum has a German and an English label, and the running database refuses any other value."""
from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale
from flask_babel.speaklater import LazyString
from sqlalchemy import Enum as SAEnum
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import network
from network import labels as registry
from network.audit import AuditAction, record, registered_actions
from network.extensions import db

PO_FILE = Path(__file__).resolve().parents[1] / "network" / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def _network_enums() -> set[type[Enum]]:
    """Every Enum class defined in a module of the network package (each module imported once)."""
    for module in pkgutil.walk_packages(network.__path__, "network."):
        importlib.import_module(module.name)
    found: set[type[Enum]] = set()
    pending = list(Enum.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("network.") and len(cls):
            found.add(cls)
    return found


def _english() -> dict[str, str]:
    with PO_FILE.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale="en") if m.id and isinstance(m.id, str)}


def test_every_enum_in_network_is_registered_for_labels():
    registered = {enum for enums in registry.ENUMS.values() for enum in enums}
    unregistered = sorted(f"{e.__module__}.{e.__qualname__}" for e in _network_enums() - registered)
    assert unregistered == [], "register their labels with network.labels.register_enum: " + ", ".join(unregistered)


def test_every_enum_value_has_a_german_label_with_an_english_translation():
    english = _english()
    problems = []
    for namespace, enums in registry.ENUMS.items():
        for enum in enums:
            for member in enum:
                text_ = registry.LABELS.get(namespace, {}).get(str(member.value))
                where = f"{namespace}: {enum.__name__}.{member.name}"
                if text_ is None:
                    problems.append(f"{where} has no label")
                elif not isinstance(text_, LazyString):
                    problems.append(f"{where} is not a lazy_gettext msgid")
                elif not english.get(text_._args[0], "").strip():
                    problems.append(f"{where}: „{text_._args[0]}“ has no English translation in messages.po")
    assert problems == []


def test_every_audit_action_is_an_enum_with_labels():
    labelled = {member.value for enum in registry.ENUMS["audit_action"] for member in enum}
    assert registered_actions() == labelled
    # Every action written today (issue 7 listed the unlabelled ones) is among them.
    assert {"book", "decline", "reschedule", "outcome", "working_hours", "enable", "disable", "export",
            "request", "password_link", "feed_rotate", "delete"} <= labelled


def test_labels_speak_the_users_language(app_ctx):
    with app_ctx.test_request_context():
        with force_locale("de"):
            assert registry.label("visit_status", "confirmed") == "bestätigt"
            assert registry.label("audit_action", "working_hours") == "Arbeitszeiten geändert"
        with force_locale("en"):
            assert registry.label("visit_status", "confirmed") == "confirmed"
            assert registry.label("audit_action", "working_hours") == "working hours changed"
            assert registry.label("role", "editor") != "Regionale Redaktion"


def test_recording_an_unregistered_action_fails_early(app_ctx, make_partner):
    partner = make_partner()
    with pytest.raises(ValueError, match="unregistered audit action 'note'"):
        record(db.session, actor=None, entity=partner, action="note", before=None, after=None)
    record(db.session, actor=None, entity=partner, action=AuditAction.UPDATE, before=None, after=None)
    db.session.flush()


# --- the database -------------------------------------------------------------------------------


def _state_columns() -> list[tuple[str, str, list[str]]]:
    """(table, column, allowed values) for every enum column of the models, plus the audit action."""
    columns = [(table.name, column.name, list(column.type.enums))
               for table in db.metadata.sorted_tables for column in table.columns
               if isinstance(column.type, SAEnum)]
    columns.append(("audit_entries", "action", sorted(registered_actions())))
    return columns


@pytest.fixture()
def one_row_each(app_ctx, make_coach, make_user):
    """A row in every table with a state column."""
    from network.directory.models import Suggestion
    from network.scheduling.models import Absence, Visit

    partner, coach = make_coach()
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    db.session.add_all([
        Visit(partner_id=partner.id, start_at=start, end_at=start + timedelta(hours=1), firm_name="Firma"),
        Absence(partner_id=partner.id, start_date=date(2026, 12, 24), end_date=date(2026, 12, 31)),
        Suggestion(suggestion_type="new_listing", region_id=partner.region_id, name="Neu"),
    ])
    record(db.session, actor=coach, entity=partner, action="update", before=None, after=None)
    db.session.commit()


def test_every_state_column_is_covered():
    tables = {(table, column) for table, column, _values in _state_columns()}
    assert {("visits", "status"), ("visits", "requested_by"), ("absences", "reason"), ("suggestions", "status"),
            ("suggestions", "suggestion_type"), ("users", "role"), ("audit_entries", "action")} <= tables


def test_the_database_refuses_a_value_outside_the_enum(one_row_each):
    for table, column, values in _state_columns():
        assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar(), f"no row in {table} to test on"
        for value in values:
            with db.session.begin_nested():
                db.session.execute(text(f"UPDATE {table} SET {column} = :value"), {"value": value})
        with pytest.raises(IntegrityError, match=f"ck_{table}_{column}"):
            with db.session.begin_nested():
                db.session.execute(text(f"UPDATE {table} SET {column} = :value"), {"value": "unheard_of"})
    db.session.rollback()
