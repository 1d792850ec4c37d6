"""Personal data of a listing's person (DSGVO): export everything stored about them, and erase it everywhere.

Erasure runs one *eraser* per table from the ERASERS registry. Each eraser gets the session and an
ErasureTarget (the listing with any duplicates merged into it, its linked accounts, and every value that
identifies the person — current and former name, e-mail and phone, collected from the listings, the accounts and
the audit history) and returns how many rows it changed. A table that holds someone's data registers an eraser,
and an exporter in EXPORTERS for the export:

    from network.admin.privacy import register_eraser, register_exporter

    @register_eraser("invoices")
    def _erase_invoices(session, target):
        changed = 0
        for invoice in session.scalars(select(Invoice).where(Invoice.partner_id.in_(target.partner_ids))):
            invoice.recipient = ""                      # fields that are the person's, outright
            invoice.note = target.scrub(invoice.note)   # free text: identifying values become "[gelöscht]"
            changed += 1
        return changed

The visit scheduler's tables (scheduling_profiles, absences, visits; issue #4) are registered below: the coach's
visits stay as anonymised rows for statistics. After all erasers ran, remaining_personal_data() scans every text
and JSON column of every mapped table for the identifying values; the report lists what is left, so a new table
without an eraser shows up instead of silently keeping data.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from sqlalchemy import JSON, String, Text, func, select
from sqlalchemy.orm import Session

from network.accounts.models import ApiToken, User
from network.admin.audit import record
from network.admin.models import AuditEntry, Suggestion
from network.dbutil import utcnow
from network.directory.models import Partner

ERASED = "[gelöscht]"
ERASED_NAME = "Gelöschter Eintrag #{id}"
ERASED_EMAIL = "erased-{id}@invalid.partnernetz"
# Fields of a listing that describe the person; kind, region, organisation, topics and place stay for statistics.
PERSONAL_FIELDS = ("name", "email", "phone", "street", "description", "website")
IDENTIFYING_FIELDS = ("name", "email", "phone")
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

    partner: Partner
    users: list[User]
    needles: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # national significant digits, e.g. "2317654321"
    merged: list[Partner] = field(default_factory=list)  # duplicates merged into the listing: the same person
    now: datetime = field(default_factory=utcnow)

    @property
    def partners(self) -> list[Partner]:
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


def _needle_set(values: Iterable[Any]) -> set[str]:
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


def _history_values(session: Session, entity_type: str, entity_ids: set[int], fields: tuple[str, ...]) -> set[str]:
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


def _merged_into(session: Session, partner: Partner) -> list[Partner]:
    """Listings merged into partner, directly or through a chain of merges."""
    found: list[Partner] = []
    frontier = [partner.id]
    while frontier:
        rows = session.scalars(select(Partner).where(Partner.merged_into_id.in_(frontier)).order_by(Partner.id)).all()
        rows = [row for row in rows if row.id != partner.id and row not in found]
        found.extend(rows)
        frontier = [row.id for row in rows]
    return found


def build_target(session: Session, partner: Partner, now: datetime | None = None) -> ErasureTarget:
    merged = _merged_into(session, partner)
    ids = [partner.id, *(p.id for p in merged)]
    users = list(session.scalars(select(User).where(User.partner_id.in_(ids)).order_by(User.id)))
    values: list[Any] = [getattr(p, f) for p in (partner, *merged) for f in IDENTIFYING_FIELDS]
    values += _history_values(session, "partners", set(ids), IDENTIFYING_FIELDS)
    for user in users:
        values += [user.email, user.name]
    values += _history_values(session, "users", {u.id for u in users}, ("email", "name"))
    phones = [p.phone for p in (partner, *merged)]
    phones += _history_values(session, "partners", set(ids), ("phone",))
    return ErasureTarget(partner=partner, users=users, needles=_needle_set(values), merged=merged,
                         phones={national_digits(phone) for phone in phones} - {""},
                         now=now or utcnow())


# --- erasers for the tables that exist today ------------------------------------------------------------------

def _batched(session: Session, model, batch: int = 500) -> Iterator[Any]:
    """All rows of model by ascending id, a batch at a time (the audit log can be long)."""
    last = 0
    while True:
        rows = session.scalars(select(model).where(model.id > last).order_by(model.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _round(value: Any) -> Any:
    return round(value, COORDINATE_DECIMALS) if isinstance(value, float) else value


@register_eraser("partners")
def _erase_listing(session: Session, target: ErasureTarget) -> int:
    for partner in target.partners:
        partner.name = ERASED_NAME.format(id=partner.id)
        for name in PERSONAL_FIELDS[1:]:
            setattr(partner, name, "")
        partner.latitude = _round(partner.latitude)
        partner.longitude = _round(partner.longitude)
        partner.is_archived = True
        partner.refresh_search_fields()
    return len(target.partners)


@register_eraser("users")
def _erase_accounts(session: Session, target: ErasureTarget) -> int:
    for user in target.users:
        user.email = ERASED_EMAIL.format(id=user.id)
        user.name = ""
        user.is_enabled = False
        # An empty hash never matches a password (User.check_password), and no reset token fits it.
        user.password_hash = ""
        for token in user.tokens:
            token.revoked_at = token.revoked_at or target.now
            token.name = ""
    return len(target.users)


@register_eraser("api_tokens")
def _erase_token_names(session: Session, target: ErasureTarget) -> int:
    # Tokens of the linked accounts are handled with the accounts; elsewhere only names that mention the person.
    changed = 0
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id.notin_(target.user_ids or {-1}))):
        new = target.scrub(token.name)
        if new != token.name:
            token.name, changed = new[:100], changed + 1
    return changed


@register_eraser("audit_entries")
def _erase_audit(session: Session, target: ErasureTarget) -> int:
    changed, partner_ids, user_ids = 0, target.partner_ids, target.user_ids
    for entry in _batched(session, AuditEntry):
        about_listing = entry.entity_type == "partners" and entry.entity_id in partner_ids
        about_account = entry.entity_type == "users" and entry.entity_id in user_ids
        changes = target.scrub(entry.changes or {})
        if about_listing:
            # The listing's own history loses every personal field, whatever the value was.
            changes = {key: ([ERASED if v not in (None, "") else v for v in pair]
                             if key in PERSONAL_FIELDS and isinstance(pair, list) else
                             [_round(v) for v in pair] if key in ("latitude", "longitude") and isinstance(pair, list)
                             else pair)
                       for key, pair in changes.items()}
        note = target.scrub(entry.note or "")
        if about_listing:
            label = ERASED_NAME.format(id=entry.entity_id)
        elif about_account:
            label = ERASED_EMAIL.format(id=entry.entity_id)
        else:
            label = target.scrub(entry.entity_label or "")
        actor = entry.actor_label
        if entry.actor_id in user_ids:
            actor = ERASED
        else:
            actor = target.scrub(actor or "")
        if (changes, note, label, actor) != (entry.changes, entry.note, entry.entity_label, entry.actor_label):
            entry.changes, entry.note, entry.entity_label, entry.actor_label = changes, note, label[:200], actor[:200]
            changed += 1
    return changed


@register_eraser("suggestions")
def _erase_suggestions(session: Session, target: ErasureTarget) -> int:
    # Every suggestion, not only those linked to the listing: a "new listing" proposal may have named the
    # person before the listing existed. Reporters' own addresses stay unless they are the person's.
    changed = 0
    for suggestion in _batched(session, Suggestion):
        new = {
            "name": target.scrub(suggestion.name or ""),
            "message": target.scrub(suggestion.message or ""),
            "reporter_email": target.scrub(suggestion.reporter_email or ""),
            "payload": target.scrub(suggestion.payload or {}),
            "decision_note": target.scrub(suggestion.decision_note or ""),
        }
        if {suggestion.partner_id, suggestion.duplicate_of_id} & target.partner_ids:
            # A report about the listing carries its name, a suspected duplicate a spelling of it
            # ("Juergen Oelmann") that no exact match finds: these lose name and personal fields outright.
            new["name"] = ERASED if new["name"] else ""
            new["payload"] = {key: (ERASED if key in PERSONAL_FIELDS and value not in (None, "") else value)
                              for key, value in new["payload"].items()}
        if any(getattr(suggestion, key) != value for key, value in new.items()):
            for key, value in new.items():
                setattr(suggestion, key, value)
            changed += 1
    return changed


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


# --- visit scheduler (issue #4): the coach's profile, absences and visits -------------------------------------------
# They live here rather than in network/scheduling so that one file shows everything an erasure touches.

VISIT_PERSONAL_FIELDS = ("firm_address", "contact_name", "contact_email", "contact_phone", "message",
                         "decline_reason", "outcome_notes")
VISIT_TEXT_FIELDS = ("firm_name", *VISIT_PERSONAL_FIELDS)
# Other people's data in rows about the person (a firm's contact on the coach's visit): left out of the export.
THIRD_PARTY_FIELDS: dict[str, tuple[str, ...]] = {
    "visits": ("contact_name", "contact_email", "contact_phone", "message"),
}


@register_eraser("scheduling_profiles")
def _erase_scheduling_profile(session: Session, target: ErasureTarget) -> int:
    from network.scheduling.models import SchedulingProfile

    changed = 0
    for profile in session.scalars(select(SchedulingProfile).where(
            SchedulingProfile.partner_id.in_(target.partner_ids))):
        # The home address is where travel starts: private. Without the feed token the calendar feed dies too.
        profile.home_address, profile.home_lat, profile.home_lon = "", None, None
        profile.feed_token_hash = None
        changed += 1
    return changed


@register_eraser("absences")
def _erase_absences(session: Session, target: ErasureTarget) -> int:
    from network.scheduling.models import Absence

    # Absences say when someone was sick: of no use once the listing is archived, so they go entirely.
    own = list(session.scalars(select(Absence).where(Absence.partner_id.in_(target.partner_ids))))
    for absence in own:
        session.delete(absence)
    changed = len(own)
    for absence in session.scalars(select(Absence).where(Absence.partner_id.notin_(target.partner_ids))):
        note = target.scrub(absence.note or "")
        if note != absence.note:
            absence.note, changed = note[:200], changed + 1
    return changed


def upcoming_visits(session: Session, target: ErasureTarget, now: datetime) -> int:
    """Requested or confirmed visits still ahead: a firm expects them, so they should be cancelled before erasing."""
    from network.scheduling.models import ACTIVE_STATES, Visit

    return session.scalar(select(func.count(Visit.id)).where(
        Visit.partner_id.in_(target.partner_ids), Visit.status.in_(ACTIVE_STATES), Visit.end_at > now)) or 0


@register_eraser("visits")
def _erase_visits(session: Session, target: ErasureTarget) -> int:
    from network.scheduling.models import Visit

    changed = 0
    own_ids: set[int] = set()
    for visit in _batched(session, Visit):
        if visit.partner_id in target.partner_ids:
            # The coach's visits stay for statistics (when, how long, topic, status, firm, rough place) but
            # lose contact data and free text; the firm's manage link stops working.
            own_ids.add(visit.id)
            for name in VISIT_PERSONAL_FIELDS:
                setattr(visit, name, "")
            visit.firm_lat, visit.firm_lon = _round(visit.firm_lat), _round(visit.firm_lon)
            visit.manage_token_hash = None
            visit.firm_name = target.scrub(visit.firm_name or "")
            changed += 1
            continue
        # Other coaches' visits: the person may have been a firm's contact or be named in a note.
        new = {name: target.scrub(getattr(visit, name) or "") for name in VISIT_TEXT_FIELDS}
        if any(getattr(visit, name) != value for name, value in new.items()):
            for name, value in new.items():
                setattr(visit, name, value)
            changed += 1
    erase_audit_fields(session, "visits", own_ids, VISIT_PERSONAL_FIELDS)
    return changed


# --- the two services ----------------------------------------------------------------------------------------------

def _json(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _row(obj, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every stored column of obj, JSON-ready."""
    return {column.key: _json(getattr(obj, column.key)) for column in obj.__table__.columns
            if column.key not in exclude}


def _listing(partner: Partner) -> dict[str, Any]:
    listing = _row(partner)
    listing["kind"] = partner.kind.slug if partner.kind else None
    listing["region"] = partner.region.slug if partner.region else None
    listing["organisation"] = partner.organisation.name if partner.organisation else None
    listing["topics"] = [topic.slug for topic in partner.topics]
    return listing


@register_exporter("accounts")
def _export_accounts(session: Session, target: ErasureTarget) -> list[dict[str, Any]]:
    result = []
    for user in target.users:
        data = _row(user, exclude=("password_hash",))
        data["regions"] = sorted(region.slug for region in user.regions)
        data["api_tokens"] = [_row(token, exclude=("token_hash",)) for token in user.tokens]
        result.append(data)
    return result


def _mentions(target: ErasureTarget, *values: Any) -> bool:
    return any(value is not None and target.scrub(value) != value for value in values)


@register_exporter("audit_log")
def _export_audit(session: Session, target: ErasureTarget) -> list[dict[str, Any]]:
    """Entries about the listing or its accounts, by its accounts, or naming the person anywhere else."""
    partner_ids, user_ids = target.partner_ids, target.user_ids
    result = []
    for entry in _batched(session, AuditEntry):
        if ((entry.entity_type == "partners" and entry.entity_id in partner_ids)
                or (entry.entity_type == "users" and entry.entity_id in user_ids)
                or entry.actor_id in user_ids
                or _mentions(target, entry.changes, entry.note, entry.entity_label, entry.actor_label)):
            data = _row(entry)
            hidden = THIRD_PARTY_FIELDS.get(entry.entity_type, ())
            data["changes"] = {key: pair for key, pair in (entry.changes or {}).items() if key not in hidden}
            result.append(data)
    return result


@register_exporter("suggestions")
def _export_suggestions(session: Session, target: ErasureTarget) -> list[dict[str, Any]]:
    """Suggestions and reports about the listing, or naming the person (a proposal before the listing existed)."""
    partner_ids = target.partner_ids
    result = []
    for suggestion in _batched(session, Suggestion):
        if ({suggestion.partner_id, suggestion.duplicate_of_id} & partner_ids
                or _mentions(target, suggestion.name, suggestion.message, suggestion.reporter_email,
                             suggestion.payload, suggestion.decision_note)):
            result.append(_row(suggestion))
    return result


@register_exporter("scheduling")
def _export_scheduling(session: Session, target: ErasureTarget) -> dict[str, Any]:
    """The coach's profile, working hours, absences and visits; firms' contact data and messages stay out,
    they are other people's data (Art. 15 (4) DSGVO)."""
    from network.scheduling.models import Absence, SchedulingProfile, Visit, WorkingHours

    ids = target.partner_ids
    profiles = session.scalars(select(SchedulingProfile).where(SchedulingProfile.partner_id.in_(ids)))
    hours = session.scalars(select(WorkingHours).where(WorkingHours.partner_id.in_(ids))
                            .order_by(WorkingHours.weekday, WorkingHours.start_minute))
    absences = session.scalars(select(Absence).where(Absence.partner_id.in_(ids)).order_by(Absence.start_date))
    visits = session.scalars(select(Visit).where(Visit.partner_id.in_(ids)).order_by(Visit.start_at))
    return {
        "profiles": [_row(profile, exclude=("feed_token_hash",)) for profile in profiles],
        "working_hours": [_row(row) for row in hours],
        "absences": [_row(absence) for absence in absences],
        "visits": [_row(visit, exclude=("manage_token_hash", *THIRD_PARTY_FIELDS["visits"])) for visit in visits],
    }


def export_personal_data(session: Session, partner: Partner, *, actor, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about the listing's person, as JSON-ready data (Art. 15 and 20 DSGVO).

    Writes an "export" audit row (who looked, not what they saw); flushes.
    """
    target = build_target(session, partner, now)
    data: dict[str, Any] = {
        "exported_at": _json(target.now),
        "listing_id": partner.id,
        "listing": _listing(partner),
        "merged_listings": [_listing(duplicate) for duplicate in target.merged],
    }
    for section, exporter in EXPORTERS.items():
        data[section] = exporter(session, target)
    record(session, actor=actor, entity=partner, action="export", before=None, after=None,
           entity_label=f"#{partner.id}", note="Personenbezogene Daten exportiert (DSGVO)")
    session.flush()
    return data


def erase_personal_data(session: Session, partner: Partner, *, actor, now: datetime | None = None) -> ErasureReport:
    """Remove the person's data from the listing, accounts, audit log, suggestions and every registered table.

    Permission is the caller's question (actor.can_archive_partner); flushes and writes one "erase" audit row
    without personal data. Safe to run again, e.g. after an eraser for a new table was added.
    """
    target = build_target(session, partner, now)
    report = ErasureReport(partner_id=partner.id)
    for table, eraser in ERASERS.items():
        report.changed[table] = eraser(session, target)
    session.flush()
    report.remaining = remaining_personal_data(session, target)
    counts = ", ".join(f"{table}: {count}" for table, count in report.changed.items())
    record(session, actor=actor, entity=partner, action="erase", before=None, after=None,
           entity_label=ERASED_NAME.format(id=partner.id),
           note=f"Personenbezogene Daten gelöscht (DSGVO). Geänderte Zeilen – {counts}")
    session.flush()
    return report


def remaining_personal_data(session: Session, target: ErasureTarget) -> list[tuple[str, str]]:
    """(table, column) pairs where an identifying value of target still occurs, across every mapped table."""
    from network.extensions import db

    if not target.needles and not target.phones:
        return []
    found: list[tuple[str, str]] = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for column, value in zip(columns, row):
                if (table.name, column.name) not in found and value is not None and target.scrub(value) != value:
                    found.append((table.name, column.name))
    return found
