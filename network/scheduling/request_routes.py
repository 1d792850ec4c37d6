"""The firm's request page (no account): free slots for two weeks, optionally travel-checked, and the request form."""
from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, StringField, TextAreaField

from network.directory.models import Partner, Topic
from network.errors import attach_errors, problem_message
from network.extensions import db
from network.geo.geocoding import ADDRESS_MAX_LENGTH, GeocodeNotFound
from network.i18n import current_language
from network.problems import Invalid, Problem
from network.scheduling import booking
from network.scheduling.booking import BookingConflict, FirmDetails
from network.scheduling.localtime import parse_instant
from network.scheduling.locking import booking_transaction
from network.scheduling.models import DURATIONS_MIN, Visit
from network.scheduling.routes import bp
from network.scheduling.views import (
    DEFAULT_DURATION,
    PAGE_DAYS,
    PartnerUnavailable,
    address_not_found,
    bookable_partner,
    ensure_lock_row,
    geocode_place,
    group_by_day,
    mail_failed_message,
    now,
    parse_duration,
    parse_iso_day,
    send_visit_mails,
    settings,
    slot_window,
    today,
    visit_request_limit,
)


class VisitRequestForm(FlaskForm):
    """The firm's request; the booking service validates (the same rules as POST /api/visits)."""

    start = StringField(_l("Termin"))
    duration = HiddenField()
    firm_name = StringField(_l("Name der Firma"))
    firm_address = StringField(_l("Adresse der Firma (Straße, PLZ, Ort)"))
    contact = StringField(_l("Ansprechperson"))
    email = StringField(_l("E-Mail-Adresse"))
    phone = StringField(_l("Telefon (freiwillig)"))
    topic = StringField(_l("Thema"))
    message = TextAreaField(_l("Worum geht es? (kurze Nachricht)"))


# Service field names (the JSON names) -> form fields; others are shown above the form.
FORM_FIELDS = {
    "start": "start",
    "duration_min": "duration",
    "duration": "duration",
    "firm.name": "firm_name",
    "firm.address": "firm_address",
    "firm.contact": "contact",
    "firm.email": "email",
    "firm.phone": "phone",
    "topic": "topic",
    "message": "message",
}


def _topic_choices(partner: Partner) -> list[tuple[str, str]]:
    lang = current_language()
    topics = list(partner.topics) or list(db.session.scalars(select(Topic).order_by(Topic.sort_order, Topic.id)))
    return [("", _("Bitte wählen (freiwillig)"))] + [(t.slug, t.name(lang)) for t in topics]


def _unavailable(exc: PartnerUnavailable, partner_id: int):
    # As in the API: a partner without working hours has no request page (404); posting a request to it
    # conflicts with its state (409). An unknown or archived partner is 404 either way.
    partner = db.session.get(Partner, partner_id) if exc.status != 404 else None
    status = 409 if exc.status == 409 and request.method == "POST" else 404
    return render_template("scheduling/unavailable.html", message=exc.message, partner=partner), status


def _filters(first_default: date) -> dict:
    """The page's own parameters (from, duration, near), each problem reported by name and replaced by a default."""
    args, errors = request.args, {}
    try:
        first_day = max(parse_iso_day(args.get("from"), first_default), first_default)
    except Invalid as exc:
        errors["from"], first_day = problem_message(exc.first), first_default
    raw_duration = args.get("duration")
    if request.method == "POST":
        raw_duration = request.form.get("duration") or raw_duration
    try:
        duration = parse_duration(raw_duration)
    except Invalid as exc:
        errors["duration"], duration = problem_message(exc.first), DEFAULT_DURATION
    near = (args.get("near") or "").strip()
    place, suggestions = None, []
    near_refused = len(near) > ADDRESS_MAX_LENGTH
    if near_refused:
        # Refused before the geocoder reads it (README, "Input limits").
        errors["near"] = problem_message(Problem("near", "near.too_long", {"max": ADDRESS_MAX_LENGTH}))
        near = near[:ADDRESS_MAX_LENGTH]
    elif near:
        try:
            place = geocode_place(near)
        except GeocodeNotFound as exc:
            errors["near"] = problem_message(Problem("near", "near.not_found", {"query": near}))
            suggestions = exc.suggestions
    return {"first_day": first_day, "duration": duration, "near": near, "place": place, "suggestions": suggestions,
            "filter_errors": errors, "near_refused": near_refused}


@bp.route("/partner/<int:partner_id>/termin", methods=["GET", "POST"])
@visit_request_limit
def request_visit(partner_id: int):
    """GET: free slots and the form; POST: request the chosen slot (no account, CSRF-protected, rate-limited)."""
    try:
        partner = bookable_partner(partner_id)
    except PartnerUnavailable as exc:
        return _unavailable(exc, partner_id)
    ensure_lock_row(partner)
    partner = db.session.get(Partner, partner_id)
    filters = _filters(today())
    form = VisitRequestForm()
    if request.method == "GET":
        form.duration.data = str(filters["duration"])
        if filters["near"] and not form.firm_address.data:
            form.firm_address.data = filters["near"]
        return _request_page(partner, form, filters, status=400 if filters.pop("near_refused") else 200)
    outcome = _submit_request(form, partner)
    if isinstance(outcome, Response):
        return outcome
    general, conflict, status = outcome
    return _request_page(partner, form, filters, general=general, conflict=conflict, status=status)


def _request_page(partner: Partner, form: VisitRequestForm, filters: dict, *, general=(), conflict=None,
                  status: int = 200):
    first_day, duration, place = filters["first_day"], filters["duration"], filters["place"]
    if conflict is not None:
        days = group_by_day(conflict.next_free)
    else:
        days = group_by_day(slot_window(partner, first_day, duration, (place.lat, place.lon) if place else None))
    first_allowed = today()
    horizon_end = first_allowed + timedelta(days=booking.ensure_profile(db.session, partner).horizon_days)
    paging = {
        "prev": (first_day - timedelta(days=7)) if first_day > first_allowed else None,
        "next": (first_day + timedelta(days=7)) if first_day + timedelta(days=7) <= horizon_end else None,
    }
    page = render_template(
        "scheduling/request.html", partner=partner, form=form, days=days, conflict=conflict,
        general_errors=list(general), durations=DURATIONS_MIN, last_day=first_day + timedelta(days=PAGE_DAYS - 1),
        paging=paging, topics=_topic_choices(partner), lang=current_language(), **filters)
    return page, status


def _check_request(form: VisitRequestForm) -> tuple:
    """(start, duration, firm details with the geocoded address, problems) of a posted request."""
    problems: list[Problem] = []
    start = None
    try:
        start = parse_instant(form.start.data or "", "start")
    except Invalid as exc:
        problems.append(Problem("start", "start.not_chosen") if not (form.start.data or "").strip() else exc.first)
    firm = FirmDetails(name=form.firm_name.data or "", address=form.firm_address.data or "",
                       contact=form.contact.data or "", email=form.email.data or "", phone=form.phone.data or "")
    if len(firm.address.strip()) > ADDRESS_MAX_LENGTH:
        problems.append(Problem("firm.address", "firm.address_too_long", {"max": ADDRESS_MAX_LENGTH}))
    elif firm.address.strip():
        try:
            found = geocode_place(firm.address)
            firm.lat, firm.lon = found.lat, found.lon
        except GeocodeNotFound as exc:
            problems.append(address_not_found(firm.address.strip(), exc.suggestions))
    duration = DEFAULT_DURATION
    try:
        duration = parse_duration(form.duration.data, default=DEFAULT_DURATION, field="duration_min")
    except Invalid as exc:
        problems.extend(exc.problems)
    if problems:
        # Report the other fields' problems in the same round: the service's own firm rules, on a copy.
        seen = {problem.field for problem in problems}
        problems += [p for p in booking.validate_firm(dataclasses.replace(firm), need_contact=True)
                     if p.field not in seen]
    return start, duration, firm, problems


def _submit_request(form: VisitRequestForm, partner: Partner):
    """Validate, geocode, book inside the lock; a redirect on success, else (general errors, conflict, status)."""
    if not form.validate_on_submit():
        message = _("Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und senden Sie es erneut.")
        return [message], None, 400
    start, duration, firm, problems = _check_request(form)
    if problems:
        return attach_errors(form, Invalid(problems), FORM_FIELDS), None, 400
    partner_id = partner.id
    try:
        with booking_transaction(db.session, partner_id):
            visit, token = booking.request_visit(
                db.session, db.session.get(Partner, partner_id), start, duration, firm, form.topic.data or None,
                form.message.data or "", now(), settings())
            visit_id = visit.id
    except Invalid as exc:
        return attach_errors(form, exc, FORM_FIELDS), None, 400
    except BookingConflict as exc:
        form.start.data = ""
        return [], exc, 409
    visit = db.session.get(Visit, visit_id)
    if send_visit_mails(visit, token):
        flash(_("Ihre Anfrage ist gesendet. Sie erhalten eine E-Mail mit der Kalenderdatei; %(name)s bestätigt "
                "den Termin oder meldet sich bei Ihnen.", name=visit.partner.name), "info")
    else:
        flash(mail_failed_message(), "error")
    return redirect(url_for("scheduling.manage_visit", token=token), 303)
