"""The coach's availability pages: weekly working hours with home base and booking rules, and absences."""
from __future__ import annotations

from flask import abort, flash, redirect, request
from flask_babel import gettext as _
from flask_login import login_required

from network.directory.models import Partner
from network.extensions import db
from network.problems import Invalid
from network.scheduling import availability
from network.scheduling.availability import ABSENCE_REASONS, MAX_INTERVALS_PER_DAY
from network.scheduling.booking import NotAllowed
from network.scheduling.localtime import minutes_text
from network.scheduling.locking import booking_transaction
from network.scheduling.routes import bp
from network.scheduling.views import actor, field_errors, geocoder, kurl, now, render, require_partner

RULE_FIELDS = ("home_address", "min_notice_hours", "horizon_weeks")
ABSENCE_FIELDS = ("start_date", "end_date", "reason", "note")


def _typed_hours(form) -> dict[int, list[tuple[str, str]]]:
    """Form rows h<weekday>-<i>-start/end -> the filled-in (start, end) pairs by weekday, as typed."""
    rows: dict[int, list[tuple[str, str]]] = {day: [] for day in range(7)}
    for day in range(7):
        for i in range(MAX_INTERVALS_PER_DAY):
            pair = (form.get(f"h{day}-{i}-start", "").strip(), form.get(f"h{day}-{i}-end", "").strip())
            if any(pair):
                rows[day].append(pair)
    return rows


def _hours_page(partner: Partner, status: int = 200, rows: dict | None = None, **context):
    if rows is None:
        rows = {day: [] for day in range(7)}
        for day, start, end in availability.weekly_hours(db.session, partner):
            rows[day].append((minutes_text(start), minutes_text(end)))
    # One empty row more than filled (at least two): without JavaScript, saving adds room for another interval.
    slots = {day: (rows[day] + [("", "")] * max(1, 2 - len(rows[day])))[:MAX_INTERVALS_PER_DAY] for day in range(7)}
    profile = availability.profile_or_defaults(db.session, partner)
    values = {"home_address": profile.home_address, "min_notice_hours": str(profile.min_notice_hours),
              "horizon_weeks": str(max(1, profile.horizon_days // 7))}
    values.update(context.pop("values", {}) or {})
    return render("scheduling/coach_hours.html", partner, status, slots=slots, values=values, profile=profile,
                  **context)


@bp.route("/kalender/arbeitszeiten", methods=["GET", "POST"])
@login_required
def coach_hours():
    partner = require_partner()
    if not isinstance(partner, Partner):
        return partner
    if request.method == "GET":
        return _hours_page(partner)
    rows = _typed_hours(request.form)
    values = {name: request.form.get(name, "").strip() for name in RULE_FIELDS}
    try:
        plan = availability.check_working_hours(db.session, partner, rows, geocoder=geocoder(), **values)
    except Invalid as exc:
        return _hours_page(partner, 422, rows=rows, values=values, errors=field_errors(exc))
    with booking_transaction(db.session, partner.id):
        availability.save_working_hours(db.session, partner, plan, actor=actor())
    flash(_("Arbeitszeiten und Dienstort sind gespeichert. Bestehende Termine bleiben, wie sie sind."), "info")
    return redirect(kurl(partner, "scheduling.coach_hours"))


def _absences_page(partner: Partner, status: int = 200, **context):
    upcoming, past, clashes = availability.absences_overview(db.session, partner, now())
    values = {"reason": "vacation", **(context.pop("values", {}) or {})}
    return render("scheduling/coach_absences.html", partner, status, upcoming=upcoming, past=past,
                  clashes=clashes, values=values, reasons=ABSENCE_REASONS, **context)


@bp.route("/kalender/abwesenheiten", methods=["GET", "POST"])
@login_required
def coach_absences():
    partner = require_partner()
    if not isinstance(partner, Partner):
        return partner
    if request.method == "GET":
        return _absences_page(partner)
    values = {name: request.form.get(name, "").strip() for name in ABSENCE_FIELDS}
    try:
        with booking_transaction(db.session, partner.id):
            absence = availability.add_absence(db.session, partner, actor=actor(), **values)
            first, last = absence.start_date, absence.end_date
    except Invalid as exc:
        return _absences_page(partner, 422, values=values, errors=field_errors(exc))
    flash(_("Die Abwesenheit ist eingetragen; in dieser Zeit werden keine Termine mehr angeboten."), "info")
    clashes = availability.visits_during(db.session, partner, first, last)
    if clashes:
        flash(_("In diesem Zeitraum liegen noch %(n)d Termine. Bitte sagen Sie sie ab oder verschieben Sie sie.",
                n=len(clashes)), "error")
    return redirect(kurl(partner, "scheduling.coach_absences"))


@bp.post("/kalender/abwesenheiten/<int:absence_id>/loeschen")
@login_required
def coach_absence_delete(absence_id: int):
    partner = require_partner()
    if not isinstance(partner, Partner):
        return partner
    try:
        with booking_transaction(db.session, partner.id):
            deleted = availability.delete_absence(db.session, partner, absence_id, actor=actor())
    except NotAllowed:
        abort(403)
    if deleted is None:
        abort(404)
    flash(_("Die Abwesenheit ist gelöscht."), "info")
    return redirect(kurl(partner, "scheduling.coach_absences"))
