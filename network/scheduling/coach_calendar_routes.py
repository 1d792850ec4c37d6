"""The coach's calendar: the visit list, one visit's page, confirm, decline, move, cancel, record the outcome."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from network.extensions import db
from network.problems import Invalid
from network.scheduling import agenda, ical
from network.scheduling.booking import (
    BookingConflict,
    NotAllowed,
    cancel_visit,
    confirm_visit,
    decline_visit,
    record_outcome,
    reschedule_visit,
)
from network.scheduling.localtime import to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import Visit
from network.scheduling.notify import invite_data
from network.scheduling.routes import bp
from network.scheduling.views import (
    actor,
    coach_visit_url,
    field_errors,
    fmt_local,
    notify,
    now,
    parse_wall_clock,
    partner_from_args,
    render,
    settings,
    visit_or_abort,
)

FILTERS = {
    "": _l("Anstehend und offen"),
    "requested": _l("Anfragen"),
    "confirmed": _l("Bestätigt (anstehend)"),
    "outcome": _l("Ergebnis fehlt"),
    "done": _l("Erledigt (mit Ergebnis)"),
    "declined": _l("Abgelehnt"),
    "cancelled": _l("Abgesagt"),
    "expired": _l("Abgelaufen"),
    "all": _l("Alle"),
}
STATE_MESSAGES = {
    "confirm": _l("Nur offene Anfragen können bestätigt werden."),
    "decline": _l("Nur offene Anfragen können abgelehnt werden."),
    "reschedule": _l("Nur angefragte oder bestätigte Termine können verschoben werden."),
    "cancel": _l("Nur angefragte oder bestätigte Termine können abgesagt werden."),
    "outcome": _l("Ein Ergebnis lässt sich nur für bestätigte Termine nach ihrem Beginn eintragen."),
}


@bp.get("/kalender")
@login_required
def coach_calendar():
    partner = partner_from_args()
    moment = now()
    if partner is None:  # an admin helping out picks the coach or scout first
        partners, open_counts = agenda.coaches_with_open_requests(db.session, moment)
        return render("scheduling/coach_choose.html", None, partners=partners, open_counts=open_counts)
    status = request.args.get("status", "")
    if status not in FILTERS:
        status = ""
    view = agenda.calendar(db.session, partner, status, moment)
    return render("scheduling/coach_calendar.html", partner, visits=view.visits, awaiting=view.awaiting,
                  status=status, filters=FILTERS, open_requests=view.open_requests, has_hours=view.has_hours,
                  absences=view.absences, effective_status=lambda v: v.status_at(moment))


# ---------------------------------------------------------------- one visit


def _visit_page(visit: Visit, status: int = 200, **context):
    moment = now()
    local = to_local(visit.start_at)
    values = {"date": f"{local:%Y-%m-%d}", "time": f"{local:%H:%M}"}
    values.update(context.pop("values", {}) or {})
    return render("scheduling/coach_visit.html", visit.partner, status, visit=visit, values=values,
                  effective=visit.status_at(moment), started=visit.start_at <= moment, **context)


def _run_change(visit: Visit, action: str, change, *, form_values: dict | None = None):
    """Run change() in the booking transaction; domain errors become the visit page with a fitting status."""
    visit_id = visit.id
    try:
        with booking_transaction(db.session, visit.partner_id):
            change()
    except BookingConflict as exc:
        return _visit_page(db.session.get(Visit, visit_id), 409, conflict=exc, action=action,
                           values=form_values or {})
    except Invalid as exc:
        return _visit_page(db.session.get(Visit, visit_id), 422, errors=field_errors(exc), action=action,
                           values=form_values or {})
    except NotAllowed as exc:
        if str(exc) == "state":
            return _visit_page(db.session.get(Visit, visit_id), 409, state_error=STATE_MESSAGES[action],
                               action=action)
        abort(403)
    return None


def _after_change(visit_id: int, message: str, *, mail: bool = True):
    flash(message, "info")
    if mail:
        notify(db.session.get(Visit, visit_id))
    return redirect(url_for("scheduling.coach_visit", visit_id=visit_id))


@bp.get("/kalender/termine/<int:visit_id>")
@login_required
def coach_visit(visit_id: int):
    return _visit_page(visit_or_abort(visit_id))


@bp.get("/kalender/termine/<int:visit_id>/termin.ics")
@login_required
def coach_visit_ics(visit_id: int):
    """The visit's current invite (or cancellation) as a file for the coach's own calendar."""
    visit = visit_or_abort(visit_id)
    _method, body = ical.message_for(invite_data(visit, coach_visit_url(visit)), now())
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="termin-{visit.id}.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/kalender/termine/<int:visit_id>/bestaetigen")
@login_required
def coach_confirm(visit_id: int):
    visit = visit_or_abort(visit_id)
    failed = _run_change(visit, "confirm", lambda: confirm_visit(db.session, visit, actor(), now(), settings()))
    return failed or _after_change(visit_id, _("Der Termin ist bestätigt."))


@bp.post("/kalender/termine/<int:visit_id>/ablehnen")
@login_required
def coach_decline(visit_id: int):
    visit = visit_or_abort(visit_id)
    reason = request.form.get("reason", "")
    if not reason.strip():
        return _visit_page(visit, 422, action="decline",
                           errors={"reason": _("Bitte geben Sie einen Grund für die Absage an.")})
    if len(reason) > 2000:
        return _visit_page(visit, 422, action="decline", values={"reason": reason},
                           errors={"reason": _("Der Grund ist zu lang (höchstens 2000 Zeichen).")})
    failed = _run_change(visit, "decline", lambda: decline_visit(db.session, visit, actor(), reason, now()),
                         form_values={"reason": reason})
    return failed or _after_change(visit_id, _("Die Anfrage ist abgelehnt."))


@bp.post("/kalender/termine/<int:visit_id>/verschieben")
@login_required
def coach_reschedule(visit_id: int):
    visit = visit_or_abort(visit_id)
    errors: dict[str, str] = {}
    new_start = parse_wall_clock(request.form, errors)
    submitted = {"date": request.form.get("date", ""), "time": request.form.get("time", "")}
    if errors:
        return _visit_page(visit, 422, action="reschedule", errors=errors, values=submitted)
    failed = _run_change(visit, "reschedule",
                         lambda: reschedule_visit(db.session, visit, new_start, now(), settings(), actor=actor()),
                         form_values=submitted)
    return failed or _after_change(visit_id, _("Der Termin ist verschoben auf %(when)s.", when=fmt_local(new_start)))


@bp.post("/kalender/termine/<int:visit_id>/absagen")
@login_required
def coach_cancel(visit_id: int):
    visit = visit_or_abort(visit_id)
    failed = _run_change(visit, "cancel", lambda: cancel_visit(db.session, visit, now(), actor=actor()))
    return failed or _after_change(visit_id, _("Der Termin ist abgesagt."))


@bp.post("/kalender/termine/<int:visit_id>/ergebnis")
@login_required
def coach_outcome(visit_id: int):
    visit = visit_or_abort(visit_id)
    raw, notes = request.form.get("took_place", ""), request.form.get("notes", "")
    values = {"took_place": raw, "notes": notes}
    errors = {}
    if raw not in ("ja", "nein"):
        errors["took_place"] = _("Bitte wählen Sie, ob der Termin stattgefunden hat.")
    if len(notes) > 5000:
        errors["notes"] = _("Die Notizen sind zu lang (höchstens 5000 Zeichen).")
    if errors:
        return _visit_page(visit, 422, action="outcome", errors=errors, values=values)
    failed = _run_change(visit, "outcome",
                         lambda: record_outcome(db.session, visit, actor(), raw == "ja", notes, now()),
                         form_values=values)
    # The outcome is the coach's own note: no invite changes, so no mail to the firm.
    return failed or _after_change(visit_id, _("Das Ergebnis ist gespeichert."), mail=False)
