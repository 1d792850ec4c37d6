"""The audit log (core): one row per change with who, when, what, and each changed field as before → after."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, Integer, Select, String, Text, false, or_, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from network import clock
from network.dbutil import UTCDateTime
from network.extensions import db
from network.labels import register_enum


class AuditAction(StrEnum):
    """The actions every domain may log; a domain with verbs of its own adds them with register_actions.

    How the set grows: each domain defines one StrEnum of its further actions beside its models and
    calls register_actions(ThatEnum) on import; record() refuses an action no enum registered. In the
    database, ck_audit_entries_action lists every registered value; a domain that adds actions ships a
    migration that replaces that CHECK with the longer list (as 0006_states did for today's domains), and
    tests/test_labels.py fails until the running database accepts every registered action and each has
    an "audit_action" label in German and English.
    """

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    CONFIRM = "confirm"
    EXPORT = "export"  # DSGVO: personal data handed out
    ERASE = "erase"  # DSGVO: personal data erased


_ACTIONS: list[type[StrEnum]] = []


def register_actions(actions: type[StrEnum]) -> None:
    """Allow actions' values in the log (a domain's own verbs)."""
    if actions not in _ACTIONS:
        _ACTIONS.append(actions)


def registered_actions() -> frozenset[str]:
    return frozenset(member.value for actions in _ACTIONS for member in actions)


register_actions(AuditAction)
register_enum("audit_action", AuditAction, {
    AuditAction.CREATE: _l("angelegt"),
    AuditAction.UPDATE: _l("geändert"),
    AuditAction.DELETE: _l("gelöscht"),
    AuditAction.CONFIRM: _l("bestätigt"),
    AuditAction.EXPORT: _l("personenbezogene Daten exportiert"),
    AuditAction.ERASE: _l("personenbezogene Daten gelöscht"),
})


class AuditEntry(db.Model):
    """One change: who, when, what, and each changed field as [before, after]."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # Kept beside actor_id so the log stays readable after a user is deleted.
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    entity_label: Mapped[str] = mapped_column(String(200), default="")
    # One of registered_actions(); the CHECK ck_audit_entries_action comes from the migrations (see AuditAction).
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
    if action not in registered_actions():
        # A typo or an unregistered domain verb: fail here, with its name, not at the CHECK on flush.
        raise ValueError(f"unregistered audit action {action!r}; see network.audit.register_actions")
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_label=actor_label(actor),
        entity_type=entity_type or entity.__tablename__,
        entity_id=entity.id,
        entity_label=(entity_label if entity_label is not None else str(getattr(entity, "name", "") or
                      getattr(entity, "email", "")))[:200],
        action=str(action),
        changes=diff(before, after),
        note=note,
    )
    session.add(entry)
    return entry


# --- who may read which rows -------------------------------------------------------------------------------------
# A domain whose rows editors or coaches may read registers a rule: user -> extra visible rows (or None).
# Admins read everything, everybody reads their own actions; the rest is what the rules allow.
ScopeRule = Callable[[Any], "ColumnElement[bool] | None"]
SCOPE_RULES: dict[str, ScopeRule] = {}


def register_scope(name: str, rule: ScopeRule) -> None:
    SCOPE_RULES[name] = rule


def visible_to(user) -> ColumnElement[bool]:
    """The audit rows user may read."""
    if not user.is_active:
        return false()
    if user.is_admin:
        return true()
    clauses = [AuditEntry.actor_id == user.id]
    clauses += [clause for rule in SCOPE_RULES.values() if (clause := rule(user)) is not None]
    return or_(*clauses)


def audit_query(user, *, entity: str = "", action: str = "", actor: str = "", start: datetime | None = None,
                end: datetime | None = None, partner_id: int | None = None) -> Select[tuple[AuditEntry]]:
    """The visible entries matching the filters (actor: "system" or a user id; [start, end) instants), newest first."""
    stmt = select(AuditEntry).where(visible_to(user))
    if entity:
        stmt = stmt.where(AuditEntry.entity_type == entity)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor == "system":
        stmt = stmt.where(AuditEntry.actor_id.is_(None))
    elif actor:
        stmt = stmt.where(AuditEntry.actor_id == int(actor))
    if start is not None:
        stmt = stmt.where(AuditEntry.created_at >= start)
    if end is not None:
        stmt = stmt.where(AuditEntry.created_at < end)
    if partner_id is not None:
        stmt = stmt.where(AuditEntry.entity_type == "partners", AuditEntry.entity_id == partner_id)
    return stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())


def filter_choices(session: Session, user) -> dict[str, list]:
    """Entity types, actions and actors that occur in the user's visible rows (for the filter menus)."""
    scope = visible_to(user)
    entities = sorted(session.scalars(select(AuditEntry.entity_type).where(scope).distinct()))
    actions = sorted(session.scalars(select(AuditEntry.action).where(scope).distinct()))
    actors: dict[int, str] = {}
    rows = session.execute(select(AuditEntry.actor_id, AuditEntry.actor_label)
                           .where(scope, AuditEntry.actor_id.is_not(None)).distinct())
    for actor_id, label in rows:
        actors.setdefault(actor_id, label)
    return {"entities": entities, "actions": actions,
            "actors": sorted(actors.items(), key=lambda item: item[1].casefold())}
