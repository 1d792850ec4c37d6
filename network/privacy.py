"""DSGVO machinery (core): the erasure target, the registries of erasers and exporters, value scrubbing.

The erasure of a listing's person runs one *eraser* per table. Each domain registers its own erasers and
exporters for the tables it owns (``network/<domain>/privacy.py``), so the core knows no domain's tables:

    from network.privacy import ErasureTarget, register_eraser

    @register_eraser("invoices")
    def _erase_invoices(session, target: ErasureTarget) -> int:
        changed = 0
        for invoice in session.scalars(select(Invoice).where(Invoice.partner_id.in_(target.partner_ids))):
            invoice.recipient = ""                      # fields that are the person's, outright
            invoice.note = target.scrub(invoice.note)   # free text: identifying values become "[gelöscht]"
            changed += 1
        return changed

The directory builds the target (the listing, listings merged into it, its accounts, the identifying values)
and runs the registered erasers (``network/directory/privacy.py``). Afterwards remaining_personal_data() scans
every text and JSON column of every mapped table, so a new table without an eraser shows up in the report
instead of silently keeping data.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Session

from network import clock
from network.audit import AuditEntry
from network.extensions import db

ERASED = "[gelöscht]"
ERASED_NAME = "Gelöschter Eintrag #{id}"
ERASED_EMAIL = "erased-{id}@invalid.partnernetz"
# Shorter values (initials, "Bo") are replaced only where they are a column's entire value, never inside text.
MIN_SUBSTRING_LENGTH = 4
# Phone numbers are matched by their digits: "+49 231 7654321" is also "0231/7654321" in a report.
MIN_PHONE_DIGITS = 6
_PHONE_SEPARATORS = r"[\s/().-]*"
COORDINATE_DECIMALS = 2  # about 1 km: the archived listing keeps its town, not the door


@dataclass
class ErasureTarget:
    """Whom to erase: the listing (with duplicates merged into it), its linked accounts, and the strings
    that identify the person."""

    partner: Any  # the listing (network.directory.models.Partner)
    users: list[Any]  # its accounts (network.accounts.models.User)
    needles: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # national significant digits, e.g. "2317654321"
    merged: list[Any] = field(default_factory=list)  # duplicates merged into the listing: the same person
    now: datetime = field(default_factory=clock.now)

    @property
    def partners(self) -> list[Any]:
        return [self.partner, *self.merged]

    @property
    def partner_ids(self) -> set[int]:
        return {partner.id for partner in self.partners}

    @property
    def user_ids(self) -> set[int]:
        return {user.id for user in self.users}

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        return _pattern(self.needles, self.phones)

    def scrub(self, value: Any) -> Any:
        """value (text, or JSON of dicts and lists) with every identifying string replaced by ERASED."""
        return scrub(value, self.pattern, self.needles)


@dataclass
class ErasureReport:
    """What an erasure changed per table, and where identifying values were still found afterwards."""

    partner_id: int
    changed: dict[str, int] = field(default_factory=dict)
    remaining: list[tuple[str, str]] = field(default_factory=list)  # (table, column)


# Other people's data in rows about the person (a firm's contact on the coach's visit), by table: left out
# of the audit log's export. Domains add their tables with register_third_party_fields.
THIRD_PARTY_FIELDS: dict[str, tuple[str, ...]] = {}

Eraser = Callable[[Session, ErasureTarget], int]
Exporter = Callable[[Session, "ErasureTarget"], Any]

ERASERS: dict[str, Eraser] = {}
EXPORTERS: dict[str, Exporter] = {}


def register_eraser(table: str) -> Callable[[Eraser], Eraser]:
    """Decorator: eraser for table's rows about the target; one per table, the later registration wins."""

    def wrap(func: Eraser) -> Eraser:
        ERASERS[table] = func
        return func

    return wrap


def register_third_party_fields(table: str, fields: tuple[str, ...]) -> None:
    THIRD_PARTY_FIELDS[table] = fields


def register_exporter(section: str) -> Callable[[Exporter], Exporter]:
    """Decorator: adds section to the personal-data export; the exporter returns JSON-ready values."""

    def wrap(func: Exporter) -> Exporter:
        EXPORTERS[section] = func
        return func

    return wrap


# --- finding and replacing identifying values -------------------------------------------------------------------

def national_digits(phone: str) -> str:
    """The digits of a German phone number without country code or trunk zero ("+49 231 76" -> "23176")."""
    digits = re.sub(r"\D", "", phone or "")
    text = (phone or "").strip()
    if text.startswith("+49") or digits.startswith("0049"):
        return digits[2:] if text.startswith("+") else digits[4:]
    if text.startswith("+"):
        return ""  # a foreign number: matched as written only
    return digits[1:] if digits.startswith("0") else digits


def _pattern(needles: Iterable[str], phones: Iterable[str] = ()) -> re.Pattern[str] | None:
    usable = sorted({n.strip() for n in needles if n and len(n.strip()) >= MIN_SUBSTRING_LENGTH},
                    key=len, reverse=True)
    parts = [re.escape(n) for n in usable]
    for digits in sorted(set(phones), key=len, reverse=True):
        if len(digits) >= MIN_PHONE_DIGITS:
            parts.append(r"(?:(?:\+\s*49|0049)" + _PHONE_SEPARATORS + r"(?:\(0\))?|0)" + _PHONE_SEPARATORS
                         + _PHONE_SEPARATORS.join(digits))
    if not parts:
        return None
    # Whole-value matches only: "Anna Schmidt" must not eat the start of "Anna Schmidtke",
    # nor "anna@x.de" the end of "joanna@x.de", nor a phone number the start of a longer one.
    return re.compile(r"(?<![\w.@+-])(?:" + "|".join(parts) + r")(?![\w@-]|\.\w)", re.IGNORECASE)


def scrub(value: Any, pattern: re.Pattern[str] | None, needles: set[str]) -> Any:
    """value with every identifying string replaced by ERASED; walks dicts and lists (JSON columns)."""
    if isinstance(value, str):
        if value.strip().casefold() in needles:
            return ERASED
        return pattern.sub(ERASED, value) if pattern is not None else value
    if isinstance(value, dict):
        return {key: scrub(item, pattern, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, pattern, needles) for item in value]
    return value


_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def needle_set(values: Iterable[Any]) -> set[str]:
    result = set()
    for value in values:
        if isinstance(value, str) and value.strip() and value.strip() != ERASED:
            if re.fullmatch(r"Gelöschter Eintrag #\d+", value.strip()) or value.endswith("@invalid.partnernetz"):
                continue
            needle = value.strip().casefold()
            result.add(needle)
            # "Jürgen Ölmann" is also written "Juergen Oelmann" where umlauts are not at hand.
            result.add(needle.translate(_TRANSLITERATION))
    return result


def history_values(session: Session, entity_type: str, entity_ids: set[int], fields: tuple[str, ...]) -> set[str]:
    """Former values of fields, from the before → after pairs of the audit log."""
    if not entity_ids:
        return set()
    values: set[str] = set()
    stmt = select(AuditEntry.changes).where(AuditEntry.entity_type == entity_type,
                                            AuditEntry.entity_id.in_(entity_ids))
    for changes in session.scalars(stmt):
        for key in fields:
            pair = (changes or {}).get(key)
            if isinstance(pair, list):
                values.update(v for v in pair if isinstance(v, str))
    return values


# --- erasers for the tables that exist today ------------------------------------------------------------------

def batched(session: Session, model, batch: int = 500) -> Iterator[Any]:
    """All rows of model by ascending id, a batch at a time (the audit log can be long)."""
    last = 0
    while True:
        rows = session.scalars(select(model).where(model.id > last).order_by(model.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def round_coordinate(value: Any) -> Any:
    return round(value, COORDINATE_DECIMALS) if isinstance(value, float) else value


def erase_audit_fields(session: Session, entity_type: str, entity_ids: set[int], fields: Iterable[str]) -> int:
    """Replace the values of fields in the audit history of these entities by ERASED (for erasers of other tables)."""
    if not entity_ids:
        return 0
    fields, changed = set(fields), 0
    stmt = select(AuditEntry).where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_(entity_ids))
    for entry in session.scalars(stmt):
        changes = {key: ([ERASED if v not in (None, "") else v for v in pair]
                         if key in fields and isinstance(pair, list) else pair)
                   for key, pair in (entry.changes or {}).items()}
        if changes != entry.changes:
            entry.changes, changed = changes, changed + 1
    return changed


# --- the two services ----------------------------------------------------------------------------------------------

def json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def row_data(obj, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every stored column of obj, JSON-ready."""
    return {column.key: json_value(getattr(obj, column.key)) for column in obj.__table__.columns
            if column.key not in exclude}


def mentions(target: ErasureTarget, *values: Any) -> bool:
    return any(value is not None and target.scrub(value) != value for value in values)


def remaining_personal_data(session: Session, target: ErasureTarget) -> list[tuple[str, str]]:
    """(table, column) pairs where an identifying value of target still occurs, across every mapped table."""
    if not target.needles and not target.phones:
        return []
    found: list[tuple[str, str]] = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if (table.name, column.name) not in found and value is not None and target.scrub(value) != value:
                    found.append((table.name, column.name))
    return found


def run_exporters(session: Session, target: ErasureTarget) -> dict[str, Any]:
    """Every registered export section for target, in registration order."""
    return {section: exporter(session, target) for section, exporter in EXPORTERS.items()}


def run_erasers(session: Session, target: ErasureTarget) -> ErasureReport:
    """Run every registered eraser, flush, and scan for what is left; returns the report."""
    report = ErasureReport(partner_id=target.partner.id)
    for table, eraser in ERASERS.items():
        report.changed[table] = eraser(session, target)
    session.flush()
    report.remaining = remaining_personal_data(session, target)
    return report
