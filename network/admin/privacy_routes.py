"""Admin views for a listing's personal data (DSGVO): JSON export, and erasure after a confirmation page."""
from __future__ import annotations

import json

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from network import clock
from network.admin.blueprint import bp
from network.audit import AuditEntry
from network.directory.models import Partner
from network.directory.privacy import build_target, erase_personal_data, export_personal_data
from network.extensions import db
from network.scheduling.privacy import upcoming_visits


def _partner_for_privacy(partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        abort(404)
    # Same people who may archive a listing: admins, and editors of its region; a coach not even for their own.
    if not current_user.can_archive_partner(partner):
        abort(403)
    return partner


def _erased_at(partner: Partner):
    return db.session.scalar(select(func.max(AuditEntry.created_at)).where(
        AuditEntry.entity_type == "partners", AuditEntry.entity_id == partner.id, AuditEntry.action == "erase"))


@bp.get("/eintraege/<int:partner_id>/daten.json", endpoint="export_personal_data")
def export_personal_data_view(partner_id: int):
    partner = _partner_for_privacy(partner_id)
    data = export_personal_data(db.session, partner, actor=current_user)
    db.session.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="personendaten-eintrag-{partner.id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/eintraege/<int:partner_id>/loeschen", methods=["GET", "POST"], endpoint="erase_personal_data")
def erase_personal_data_view(partner_id: int):
    partner = _partner_for_privacy(partner_id)
    error = None
    target = build_target(db.session, partner)
    if request.method == "POST":
        if current_user.id in target.user_ids:
            # Erasing disables the linked accounts: done to oneself, it would lock the actor out mid-request.
            error = _("Dieser Eintrag ist mit Ihrem eigenen Konto verknüpft. Bitten Sie eine andere Person mit "
                      "Administrationsrechten, die Daten zu löschen.")
        elif request.form.get("confirm") == "yes":
            report = erase_personal_data(db.session, partner, actor=current_user)
            db.session.commit()
            flash(_("Die personenbezogenen Daten von Eintrag #%(id)s sind gelöscht; der Eintrag ist archiviert.",
                    id=partner.id), "info")
            if report.remaining:
                places = ", ".join(f"{table}.{column}" for table, column in report.remaining)
                current_app.logger.warning("Erasure of listing %s left matches in %s", partner.id, places)
                flash(_("Achtung: Dieselben Angaben stehen noch an anderer Stelle (%(places)s) – zum Beispiel in "
                        "einem anderen Eintrag mit derselben Telefonnummer. Bitte prüfen Sie diese Stellen.",
                        places=places), "error")
            return redirect(url_for("admin.erase_personal_data", partner_id=partner.id))
        else:
            error = _("Bitte bestätigen Sie, dass die Daten unwiderruflich gelöscht werden sollen.")
    audit_count = db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.entity_type == "partners", AuditEntry.entity_id.in_(target.partner_ids))) or 0
    return render_template("admin/privacy_erase.html", partner=partner, target=target,
                           audit_count=audit_count, upcoming=upcoming_visits(db.session, target, clock.now()),
                           erased_at=_erased_at(partner), error=error), (400 if error else 200)
