"""The audit log as a filterable, paginated list (/admin/protokoll); who sees which rows: network.audit.visible_to."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import abort, render_template, request
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from network.admin.blueprint import bp
from network.audit import audit_query, filter_choices
from network.directory.csvio import LOCAL_TZ
from network.extensions import db
from network.labels import label

PER_PAGE = 50
# (entity type, audited field) -> the label namespace of its coded values.
VALUE_LABELS = {
    ("suggestions", "status"): "suggestion_status",
    ("suggestions", "type"): "suggestion_type",
    ("visits", "status"): "visit_status",
    ("users", "role"): "role",
    ("absences", "reason"): "absence_reason",
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class AuditFilters:
    """Checked filter values; errors maps a parameter to its German message (the filter is then ignored)."""

    entity: str = ""
    action: str = ""
    actor: str = ""  # "" | "system" | a user id
    date_from: date | None = None
    date_to: date | None = None
    partner_id: int | None = None
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)


# --- the request boundary -------------------------------------------------------------------------


def _parse_date(args, name: str, filters: AuditFilters) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        filters.errors[name] = _("„%(value)s“ ist kein Datum (erwartet JJJJ-MM-TT).", value=raw[:20])
        return None


def _parse_int(args, name: str, filters: AuditFilters, message: str) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        filters.errors[name] = message
        return None
    return int(raw)


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=LOCAL_TZ).astimezone(UTC)


def filtered_query(user, filters: AuditFilters):
    # The end day counts in full: up to midnight after it, Berlin time.
    return audit_query(user, entity=filters.entity, action=filters.action, actor=filters.actor,
                       start=_local_midnight_utc(filters.date_from) if filters.date_from else None,
                       end=_local_midnight_utc(filters.date_to + timedelta(days=1)) if filters.date_to else None,
                       partner_id=filters.partner_id)


def parse_filters(args) -> AuditFilters:
    filters = AuditFilters()
    filters.entity = (args.get("entity") or "").strip()[:40]
    filters.action = (args.get("action") or "").strip()[:40]
    actor = (args.get("actor") or "").strip()
    if actor == "system" or (actor.isdigit() and len(actor) <= 9):
        filters.actor = actor
    elif actor:
        filters.errors["actor"] = _("Unbekannte Person.")
    filters.date_from = _parse_date(args, "date_from", filters)
    filters.date_to = _parse_date(args, "date_to", filters)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        filters.errors["date_to"] = _("Das Ende liegt vor dem Anfang.")
        filters.date_to = None
    filters.partner_id = _parse_int(args, "partner", filters, _("Bitte eine Eintragsnummer angeben (nur Ziffern)."))
    filters.page = _parse_int(args, "page", filters, _("Ungültige Seitenzahl.")) or 1
    return filters


_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def format_change(key: str, value, entity_type: str = "") -> str:
    """One side of a before → after pair as readable text (escaped later by Jinja like any other string)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("ja") if value else _("nein")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value) if value else _("(keine)")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str):
        if not value:
            return _("(leer)")
        if key.endswith("_at") and _ISO_INSTANT.match(value):
            try:
                return format_datetime(datetime.fromisoformat(value), "dd.MM.yyyy HH:mm")
            except ValueError:
                return value
        if (entity_type, key) in VALUE_LABELS:
            return label(VALUE_LABELS[entity_type, key], value)
    return str(value)


def visible_changes(changes: dict | None) -> list[tuple[str, object, object]]:
    """The changed fields, without those that only went from nothing to empty (a new row's blank fields)."""
    result = []
    for key, pair in (changes or {}).items():
        before, after = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        if before is None and after in ("", [], None):
            continue
        result.append((key, before, after))
    return result


@bp.get("/protokoll")
def audit_log():
    # Coaches see their own listing's history where they edit it; the network-wide list is for editors and admins.
    if current_user.is_coach:
        abort(403)
    filters = parse_filters(request.args)
    page = db.paginate(filtered_query(current_user, filters), page=filters.page, per_page=PER_PAGE,
                       error_out=False, count=True)
    args = {key: value for key, value in request.args.items() if key != "page"}
    status = 400 if filters.errors else 200
    return render_template(
        "admin/audit_log.html", page=page, filters=filters, args=args, choices=filter_choices(db.session, current_user),
        format_instant=lambda value: format_datetime(value, "dd.MM.yyyy HH:mm") if value else "",
        format_change=format_change, visible_changes=visible_changes,
    ), status
