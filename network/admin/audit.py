"""The audit log: one row per change with who, when, what, and each changed field as before → after."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from network.admin.models import AuditEntry

PARTNER_FIELDS = ("name", "is_person", "description", "street", "postcode", "city", "latitude", "longitude",
                  "service_radius_km", "email", "phone", "website", "languages", "is_archived", "is_demo")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def partner_snapshot(partner) -> dict[str, Any]:
    """The audited fields of a listing as JSON-friendly values."""
    snap = {field: _plain(getattr(partner, field)) for field in PARTNER_FIELDS}
    snap["kind"] = partner.kind.slug if partner.kind else None
    snap["region"] = partner.region.slug if partner.region else None
    snap["organisation"] = partner.organisation.name if partner.organisation else None
    snap["topics"] = sorted(topic.slug for topic in partner.topics)
    snap["confirmed_at"] = _plain(partner.confirmed_at)
    return snap


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    before, after = before or {}, after or {}
    return {key: [before.get(key), after.get(key)]
            for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)}


def actor_label(actor) -> str:
    if actor is None:
        return "System"
    return f"{actor.name} <{actor.email}>" if getattr(actor, "name", "") else getattr(actor, "email", str(actor))


def record(session: Session, *, actor, entity, action: str, before: dict[str, Any] | None,
           after: dict[str, Any] | None, note: str = "", entity_type: str | None = None,
           entity_label: str | None = None) -> AuditEntry:
    """Add one audit row for a change to entity (flush is the caller's); returns it."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_label=actor_label(actor),
        entity_type=entity_type or entity.__tablename__,
        entity_id=entity.id,
        entity_label=(entity_label if entity_label is not None else str(getattr(entity, "name", "") or
                      getattr(entity, "email", "")))[:200],
        action=action,
        changes=diff(before, after),
        note=note,
    )
    session.add(entry)
    return entry
