"""The coach books a visit directly: suggested free times, the booking form, its checks and the firm's private link."""
from __future__ import annotations

import secrets

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from network.directory.models import Partner, Topic
from network.errors import problem_message
from network.extensions import db
from network.geo.geocoding import ADDRESS_MAX_LENGTH, GeocodeNotFound
from network.problems import Invalid, Problem
from network.scheduling import agenda
from network.scheduling.booking import BookingConflict, FirmDetails, NotAllowed, book_visit, token_hash
from network.scheduling.locking import booking_transaction
from network.scheduling.models import DURATIONS_MIN, Visit
from network.scheduling.routes import bp
from network.scheduling.views import (
    actor,
    field_errors,
    geocoder,
    notify,
    now,
    parse_wall_clock,
    render,
    require_partner,
    settings,
    with_suggestions,
)

BOOK_FIELDS = ("date", "time", "duration", "firm_name", "firm_address", "contact", "email", "phone", "topic",
               "message")


def _topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.sort_order, Topic.name_de)))


def _book_page(partner: Partner, status: int = 200, **context):
    return render("scheduling/coach_book.html", partner, status, topics=_topics(), **context)


def _suggestions_page(partner: Partner):
    values = {"duration": "60", "date": request.args.get("date", ""), "time": request.args.get("time", "")}
    with db.session.no_autoflush:
        suggestions = agenda.suggested_slots(db.session, partner, now(), settings())
    db.session.rollback()  # load_schedule may have created the profile row: a GET writes nothing
    return _book_page(partner, values=values, suggestions=suggestions)


def _read_form(form) -> tuple[dict[str, str], dict[str, str], object, int, FirmDetails]:
    """(values to show again, errors by field, start, duration, firm details with the geocoded address)."""
    values = {name: form.get(name, "") for name in BOOK_FIELDS}
    if form.get("slot"):
        values["date"], _sep, values["time"] = form["slot"].partition("T")
    errors: dict[str, str] = {}
    start = parse_wall_clock(form, errors)
    duration = int(values["duration"]) if values["duration"].isascii() and values["duration"].isdigit() else 0
    if duration not in DURATIONS_MIN:
        errors["duration"] = _("Bitte wählen Sie eine Dauer von 60, 90 oder 120 Minuten.")
    firm = FirmDetails(name=values["firm_name"], address=values["firm_address"], contact=values["contact"],
                       email=values["email"], phone=values["phone"])
    if len(values["firm_address"].strip()) > ADDRESS_MAX_LENGTH:
        errors["firm_address"] = problem_message(
            Problem("firm.address", "firm.address_too_long", {"max": ADDRESS_MAX_LENGTH}))
    elif values["firm_address"].strip():
        try:
            place = geocoder().geocode(values["firm_address"])
            firm.lat, firm.lon = place.lat, place.lon
        except GeocodeNotFound as exc:
            errors["firm_address"] = with_suggestions(
                _("Die Adresse wurde nicht gefunden. Bitte mit Postleitzahl angeben, "
                  "z. B. „Musterstraße 1, 58095 Hagen“."), exc)
    return values, errors, start, duration, firm


def _book(partner: Partner, values: dict[str, str], start, duration: int, firm: FirmDetails) -> tuple[int, str]:
    """Book inside the lock; (visit id, the firm's plain manage token)."""
    with booking_transaction(db.session, partner.id):
        visit = book_visit(db.session, partner, actor(), start, duration, firm, values["topic"] or None,
                           values["message"], now(), settings())
        # book_visit keeps its manage token to itself; issue one we can hand to the firm (replaces the unseen one).
        token = secrets.token_urlsafe(32)
        visit.manage_token_hash = token_hash(token)
        db.session.flush()
        return visit.id, token


@bp.route("/kalender/neu", methods=["GET", "POST"])
@login_required
def coach_book():
    partner = require_partner()
    if not isinstance(partner, Partner):
        return partner
    if request.method == "GET":
        return _suggestions_page(partner)
    values, errors, start, duration, firm = _read_form(request.form)
    if errors:
        return _book_page(partner, 422, values=values, errors=errors)
    try:
        visit_id, token = _book(partner, values, start, duration, firm)
    except BookingConflict as exc:
        return _book_page(partner, 409, values=values, conflict=exc)
    except Invalid as exc:
        return _book_page(partner, 422, values=values, errors=field_errors(exc))
    except NotAllowed:
        abort(403)
    flash(_("Der Termin ist eingetragen."), "info")
    notify(db.session.get(Visit, visit_id), firm_token=token)
    return redirect(url_for("scheduling.coach_visit", visit_id=visit_id))
