"""Admin views for one listing's life: archive, restore, merge a duplicate into it, its history."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from network.admin.blueprint import bp
from network.admin.listings_routes import _partner_or_404
from network.audit import AuditEntry
from network.directory.listings import PermissionDenied, merge_listings, set_archived
from network.directory.maintenance import merge_candidates, merge_preview
from network.directory.models import Partner
from network.errors import problem_message
from network.extensions import db
from network.i18n import current_language
from network.problems import Invalid


def _archive(partner_id: int, archived: bool):
    partner = _partner_or_404(partner_id)
    if not current_user.can_archive_partner(partner):
        abort(403)
    try:
        set_archived(db.session, partner, archived, actor=current_user)
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    db.session.commit()
    if archived:
        flash(_("Der Eintrag „%(name)s“ ist archiviert: er erscheint nicht mehr auf der Karte und in der API.",
                name=partner.name), "info")
    else:
        flash(_("Der Eintrag „%(name)s“ ist wiederhergestellt.", name=partner.name), "info")
    return redirect(url_for("admin.edit_listing", partner_id=partner.id))


@bp.post("/eintraege/<int:partner_id>/archivieren")
def archive_listing(partner_id: int):
    return _archive(partner_id, True)


@bp.post("/eintraege/<int:partner_id>/wiederherstellen")
def restore_listing(partner_id: int):
    return _archive(partner_id, False)


def _parse_duplicate_id(form: MultiDict[str, str]) -> tuple[int | None, str]:
    raw = (form.get("duplicate_id") or form.get("candidate") or "").strip().lstrip("#")
    if not raw:
        return None, _("Bitte wählen Sie einen Eintrag aus der Liste oder geben Sie seine Nummer ein.")
    if not raw.isdigit():
        return None, _("„%(value)s“ ist keine Eintragsnummer.", value=raw)
    return int(raw), ""


def _chosen_duplicate(keep: Partner, form: MultiDict[str, str]) -> tuple[Partner | None, str]:
    """The listing chosen to be merged into keep, or why it cannot be."""
    duplicate_id, message = _parse_duplicate_id(form)
    duplicate = db.session.get(Partner, duplicate_id) if duplicate_id is not None else None
    if keep.is_archived:
        message = _("Ein archivierter Eintrag kann keine Dublette aufnehmen. Bitte stellen Sie ihn zuerst wieder her.")
    elif duplicate_id is not None and duplicate is None:
        message = _("Es gibt keinen Eintrag mit der Nummer %(id)s.", id=duplicate_id)
    elif duplicate is not None and duplicate.id == keep.id:
        message = _("Ein Eintrag kann nicht mit sich selbst zusammengeführt werden.")
    elif duplicate is not None and duplicate.merged_into_id is not None:
        message = _("Dieser Eintrag wurde bereits mit #%(id)s zusammengeführt.", id=duplicate.merged_into_id)
    return duplicate, message


def _merge(keep: Partner, duplicate: Partner) -> list[str]:
    """Merge and commit; the refusal messages if the service refused (403 when not permitted)."""
    try:
        merge_listings(db.session, keep, duplicate, actor=current_user)
    except Invalid as exc:
        db.session.rollback()
        return [problem_message(p) for p in exc.problems]
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    db.session.commit()
    return []


@bp.route("/eintraege/<int:partner_id>/zusammenfuehren", methods=["GET", "POST"])
def merge_listing(partner_id: int):
    keep = _partner_or_404(partner_id)
    if not current_user.can_archive_partner(keep):
        abort(403)
    candidates = merge_candidates(db.session, keep, current_user)
    context: dict[str, Any] = dict(keep=keep, candidates=candidates, duplicate=None, errors={}, entered="",
                                   lang=current_language())
    if request.method == "GET":
        return render_template("admin/merge.html", **context)

    context["entered"] = (request.form.get("duplicate_id") or "").strip()
    duplicate, message = _chosen_duplicate(keep, request.form)
    if message:
        context["errors"] = {"duplicate_id": [message]}
        return render_template("admin/merge.html", **context), 400
    assert duplicate is not None
    if not current_user.can_archive_partner(duplicate):
        abort(403)
    if request.form.get("confirm") != "1":
        # Merging archives the duplicate: show both side by side before doing it.
        context.update(merge_preview(keep, duplicate))
        return render_template("admin/merge.html", **context)
    refused = _merge(keep, duplicate)
    if refused:
        context["errors"] = {"duplicate_id": refused}
        return render_template("admin/merge.html", **context), 400
    flash(_("„%(dup)s“ (#%(dup_id)s) ist in diesen Eintrag übernommen und archiviert.",
            dup=duplicate.name, dup_id=duplicate.id), "info")
    return redirect(url_for("admin.edit_listing", partner_id=keep.id))


# --- history ---------------------------------------------------------------------------------------


def display_value(value: Any, field: str = "") -> str:
    """An audited value as text for the history table."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("ja") if value else _("nein")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if field.endswith("_at") and isinstance(value, str):
        # Snapshots store instants as ISO text; show them in the reader's time zone. Older snapshots
        # written on SQLite carry no offset: format_datetime takes those as UTC, which they are.
        try:
            return format_datetime(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


@bp.get("/eintraege/<int:partner_id>/verlauf")
def listing_history(partner_id: int):
    partner = _partner_or_404(partner_id)
    if not current_user.can_edit_partner(partner):
        abort(403)
    entries = list(db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == Partner.__tablename__, AuditEntry.entity_id == partner.id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    ))
    return render_template("admin/listing_history.html", partner=partner, entries=entries,
                           display_value=display_value, format_datetime=format_datetime)
