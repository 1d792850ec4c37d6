"""The audit log (core): one row per change with who, when, what, and each changed field as before → after."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from network import clock
from network.dbutil import UTCDateTime
from network.extensions import db


class AuditEntry(db.Model):
    """One change: who, when, what, and each changed field as [before, after]."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Kept beside actor_id so the log stays readable after a user is deleted.
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[Optional[int]] = mapped_column(Integer)
    entity_label: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")

    # By table name: the core knows no domain's classes; accounts maps "User".
    actor = relationship("User", foreign_keys=[actor_id])

    def __repr__(self) -> str:
        return f"<AuditEntry {self.action} {self.entity_type}:{self.entity_id}>"


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
