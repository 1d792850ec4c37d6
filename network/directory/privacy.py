"""DSGVO for a listing's person: build the erasure target, export and erase; erasers for listings, suggestions
and the audit log's rows about the listing and its accounts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from network import clock
from network.accounts.models import User
from network.audit import AuditEntry, record
from network.directory.models import Partner, Suggestion
from network.privacy import (
    ERASED,
    ERASED_EMAIL,
    ERASED_NAME,
    THIRD_PARTY_FIELDS,
    ErasureReport,
    ErasureTarget,
    batched,
    history_values,
    json_value,
    mentions,
    national_digits,
    needle_set,
    register_eraser,
    register_exporter,
    round_coordinate,
    row_data,
    run_erasers,
    run_exporters,
)

# Fields of a listing that describe the person; kind, region, organisation, topics and place stay for statistics.
PERSONAL_FIELDS = ("name", "email", "phone", "street", "description", "website")
IDENTIFYING_FIELDS = ("name", "email", "phone")


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
    values += history_values(session, "partners", set(ids), IDENTIFYING_FIELDS)
    for user in users:
        values += [user.email, user.name]
    values += history_values(session, "users", {u.id for u in users}, ("email", "name"))
    phones = [p.phone for p in (partner, *merged)]
    phones += history_values(session, "partners", set(ids), ("phone",))
    return ErasureTarget(partner=partner, users=users, needles=needle_set(values), merged=merged,
                         phones={national_digits(phone) for phone in phones} - {""},
                         now=now or clock.now())


@register_eraser("partners")
def _erase_listing(session: Session, target: ErasureTarget) -> int:
    for partner in target.partners:
        partner.name = ERASED_NAME.format(id=partner.id)
        for name in PERSONAL_FIELDS[1:]:
            setattr(partner, name, "")
        partner.latitude = round_coordinate(partner.latitude)
        partner.longitude = round_coordinate(partner.longitude)
        partner.is_archived = True
        partner.refresh_search_fields()
    return len(target.partners)


@register_eraser("audit_entries")
def _erase_audit(session: Session, target: ErasureTarget) -> int:
    changed, partner_ids, user_ids = 0, target.partner_ids, target.user_ids
    for entry in batched(session, AuditEntry):
        about_listing = entry.entity_type == "partners" and entry.entity_id in partner_ids
        about_account = entry.entity_type == "users" and entry.entity_id in user_ids
        changes = target.scrub(entry.changes or {})
        if about_listing:
            # The listing's own history loses every personal field, whatever the value was.
            changes = {key: ([ERASED if v not in (None, "") else v for v in pair]
                             if key in PERSONAL_FIELDS and isinstance(pair, list) else
                             [round_coordinate(v) for v in pair]
                             if key in ("latitude", "longitude") and isinstance(pair, list)
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
    for suggestion in batched(session, Suggestion):
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


def _listing(partner: Partner) -> dict[str, Any]:
    listing = row_data(partner)
    listing["kind"] = partner.kind.slug if partner.kind else None
    listing["region"] = partner.region.slug if partner.region else None
    listing["organisation"] = partner.organisation.name if partner.organisation else None
    listing["topics"] = [topic.slug for topic in partner.topics]
    return listing


@register_exporter("audit_log")
def _export_audit(session: Session, target: ErasureTarget) -> list[dict[str, Any]]:
    """Entries about the listing or its accounts, by its accounts, or naming the person anywhere else."""
    partner_ids, user_ids = target.partner_ids, target.user_ids
    result = []
    for entry in batched(session, AuditEntry):
        if ((entry.entity_type == "partners" and entry.entity_id in partner_ids)
                or (entry.entity_type == "users" and entry.entity_id in user_ids)
                or entry.actor_id in user_ids
                or mentions(target, entry.changes, entry.note, entry.entity_label, entry.actor_label)):
            data = row_data(entry)
            hidden = THIRD_PARTY_FIELDS.get(entry.entity_type, ())
            data["changes"] = {key: pair for key, pair in (entry.changes or {}).items() if key not in hidden}
            result.append(data)
    return result


@register_exporter("suggestions")
def _export_suggestions(session: Session, target: ErasureTarget) -> list[dict[str, Any]]:
    """Suggestions and reports about the listing, or naming the person (a proposal before the listing existed)."""
    partner_ids = target.partner_ids
    result = []
    for suggestion in batched(session, Suggestion):
        if ({suggestion.partner_id, suggestion.duplicate_of_id} & partner_ids
                or mentions(target, suggestion.name, suggestion.message, suggestion.reporter_email,
                             suggestion.payload, suggestion.decision_note)):
            result.append(row_data(suggestion))
    return result


def export_personal_data(session: Session, partner: Partner, *, actor, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about the listing's person, as JSON-ready data (Art. 15 and 20 DSGVO).

    Writes an "export" audit row (who looked, not what they saw); flushes.
    """
    target = build_target(session, partner, now)
    data: dict[str, Any] = {
        "exported_at": json_value(target.now),
        "listing_id": partner.id,
        "listing": _listing(partner),
        "merged_listings": [_listing(duplicate) for duplicate in target.merged],
    }
    data.update(run_exporters(session, target))
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
    report = run_erasers(session, target)
    counts = ", ".join(f"{table}: {count}" for table, count in report.changed.items())
    record(session, actor=actor, entity=partner, action="erase", before=None, after=None,
           entity_label=ERASED_NAME.format(id=partner.id),
           note=f"Personenbezogene Daten gelöscht (DSGVO). Geänderte Zeilen – {counts}")
    session.flush()
    return report
