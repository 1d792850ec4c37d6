"""Scheduler pages for firms (no account): request a visit, then view, download, reschedule or cancel it by private link.

The private link /termin/<token> is the firm's only credential: the token is stored
as a SHA-256 hash, looked up by that hash, and acts on its own visit only.
The helpers at the top (partner checks, geocoding, visit JSON, mails after commit,
the shared rate limit) are used by the JSON API in network/scheduling/api.py too.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import date, timedelta

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_date as babel_format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import ValidationError

from network.directory.models import Partner, Topic
from network.errors import json_error
from network.extensions import csrf, db, limiter
from network.geo.geocoding import ADDRESS_MAX_LENGTH, GeocodeNotFound, GeocodeResult
from network.i18n import current_language
from network.scheduling import booking
from network.scheduling.booking import BookingConflict, BookingInvalid, FirmDetails, NotAllowed
from network.scheduling.ical import message_for
from network.scheduling.localtime import LocalTimeError, as_utc, isoformat_local, parse_instant, to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import ACTIVE_STATES, DURATIONS_MIN, SchedulingProfile, Visit, WorkingHours
from network.scheduling.notify import invite_data, notify_visit
from network.scheduling.routes import (
    address_too_long,
    address_too_long_message,
    bp,
    clock,
    place_too_long_message,
    settings,
)
from network.scheduling.slots import Slot

log = logging.getLogger(__name__)

PAGE_DAYS = 14  # the request page shows two weeks, paged by one week
DEFAULT_DURATION = 60
DEFAULT_VISIT_RATE_LIMIT = "20 per hour"


# --- shared with the JSON API ------------------------------------------------------------------------


def _visit_rate_limit() -> str:
    return current_app.config.get("VISIT_REQUEST_RATE_LIMIT", DEFAULT_VISIT_RATE_LIMIT)


# One budget per address for the form and POST /api/visits: switching channels gains a bot nothing.
visit_request_limit = limiter.shared_limit(_visit_rate_limit, scope="visit-requests", methods=["POST"])


def geocoder():
    return current_app.extensions["partnernetz.geocoder"]


def mailer():
    return current_app.extensions["partnernetz.mailer"]


class PartnerUnavailable(Exception):
    """The partner does not exist (status 404) or takes no visit requests (no working hours)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def bookable_partner(partner_id: int) -> Partner:
    """The partner if firms may request visits from it; raises PartnerUnavailable otherwise."""
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.is_archived:
        raise PartnerUnavailable(_("Diesen Eintrag gibt es nicht (mehr)."), 404)
    has_hours = db.session.scalar(select(WorkingHours.id).where(WorkingHours.partner_id == partner.id).limit(1))
    if has_hours is None:
        raise PartnerUnavailable(
            _("Bei %(name)s können keine Vor-Ort-Termine angefragt werden: Es sind keine Arbeitszeiten "
              "hinterlegt. Bitte nehmen Sie per E-Mail oder Telefon Kontakt auf.", name=partner.name), 409)
    return partner


def ensure_lock_row(partner: Partner) -> None:
    """Create the coach's scheduling profile, if missing, in its own serialised transaction (read paths).

    available_slots would otherwise create it inside the page's read transaction: never
    committed, and on SQLite a write inside a deferred read transaction can fail with
    "database is locked" under load. (Write paths need not call this: booking_transaction
    creates and locks the row itself.) A concurrent creation counts as success.
    """
    exists = db.session.scalar(select(SchedulingProfile.id).where(SchedulingProfile.partner_id == partner.id))
    if exists is not None:
        return
    partner_id = partner.id
    try:
        with booking_transaction(db.session, partner_id):
            booking.ensure_profile(db.session, db.session.get(Partner, partner_id))
    except IntegrityError:
        log.info("scheduling profile of partner %s was created by a concurrent request", partner_id)


def geocode_place(query: str) -> GeocodeResult:
    """Geocode a firm address or postcode (offline gazetteer first); raises GeocodeNotFound."""
    return geocoder().geocode(query)


def address_not_found_message(query: str) -> str:
    return _("Die Adresse „%(query)s“ wurde nicht gefunden. Bitte geben Sie Straße, Postleitzahl und Ort an.",
             query=query)


def slot_json(slot: Slot) -> dict[str, str]:
    return {"start": isoformat_local(slot.start), "end": isoformat_local(slot.end)}


def manage_url(token: str, external: bool = True) -> str:
    return url_for("scheduling.manage_visit", token=token, _external=external)


def ics_url(token: str, external: bool = True) -> str:
    return url_for("scheduling.visit_ics", token=token, _external=external)


def visit_json(visit: Visit, token: str) -> dict:
    return {
        "id": visit.id,
        "partner_id": visit.partner_id,
        "status": visit.status,
        "start": isoformat_local(visit.start_at),
        "end": isoformat_local(visit.end_at),
        "duration_min": visit.duration_min,
        "manage_url": manage_url(token),
        "ics_url": ics_url(token),
    }


def _coach_url(visit: Visit) -> str | None:
    """A link for the coach's mail to their calendar page, when the coach views are registered."""
    for endpoint, values in (("scheduling.coach_visit", {"visit_id": visit.id}), ("scheduling.coach_calendar", {})):
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, _external=True, **values)
            except Exception:  # noqa: BLE001  (a differently shaped route: no link rather than no mail)
                continue
    return None


def send_visit_mails(visit: Visit, token: str) -> bool:
    """Mail the visit's current state to firm and coach, after the commit.

    A mail failure must not lose the booking (it is committed already): it is logged
    and the caller tells the user; the .ics download on the manage page still works.
    """
    try:
        notify_visit(mailer(), visit, clock(), manage_url(token), _coach_url(visit))
    except Exception:  # noqa: BLE001  (SMTP refused, outbox not writable, …: never a 500 after a commit)
        log.exception("Benachrichtigung zum Termin %s konnte nicht versendet werden", visit.id)
        return False
    return True


def mail_failed_message() -> str:
    return _("Ihre Angaben sind gespeichert, aber die Benachrichtigung per E-Mail konnte gerade nicht versendet "
             "werden. Bitte speichern Sie den Link dieser Seite und laden Sie die Kalenderdatei hier herunter.")


def parse_duration(raw, default: int | None = DEFAULT_DURATION) -> int:
    """A visit length from a query or form value; raises ValueError with a German message."""
    if raw in (None, "") and default is not None:
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = None
    if value not in DURATIONS_MIN:
        raise ValueError(_("Die Dauer muss %(choices)s Minuten sein.",
                           choices=", ".join(str(d) for d in DURATIONS_MIN)))
    return value


def parse_day(raw: str | None, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(_("„%(value)s“ ist kein gültiges Datum (erwartet: 2026-12-01).", value=raw)) from None


# --- page helpers ------------------------------------------------------------------------------------


def _today() -> date:
    return to_local(clock()).date()


def _time_label(moment) -> str:
    local = to_local(moment)
    label = local.strftime("%H:%M")
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        # The repeated hour of the autumn change: say which of the two 02:30 this is.
        label += " " + (_("Sommerzeit") if local.dst() else _("Winterzeit"))
    return label


def group_by_day(slots: Iterable[Slot]) -> list[dict]:
    """Slots grouped by Berlin calendar day, for radio buttons."""
    days: list[dict] = []
    for slot in slots:
        day = to_local(slot.start).date()
        if not days or days[-1]["date"] != day:
            days.append({"date": day, "label": babel_format_date(day, format="full"), "slots": []})
        days[-1]["slots"].append({
            "value": isoformat_local(slot.start),
            "label": f"{_time_label(slot.start)} – {_time_label(slot.end)}",
        })
    return days


def _private_headers(response: Response) -> Response:
    # The URL is the firm's credential: keep it out of caches, referrers and search engines.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


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


# Service error keys (the JSON names) -> form fields.
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


def _attach(form: FlaskForm, errors: dict[str, str]) -> list[str]:
    general = []
    for key, message in errors.items():
        name = FORM_FIELDS.get(key)
        if name is None:
            general.append(message)
        else:
            form[name].errors = [*form[name].errors, message]
    return general


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


def _slot_window(partner: Partner, first_day: date, duration: int, place) -> list[Slot]:
    return booking.available_slots(db.session, partner, first_day, PAGE_DAYS, duration, clock(), place, settings())


# --- the firm's request page -------------------------------------------------------------------------


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

    today = _today()
    args = request.args
    filter_errors: dict[str, str] = {}
    try:
        first_day = max(parse_day(args.get("from"), today), today)
    except ValueError as exc:
        filter_errors["from"], first_day = str(exc), today
    try:
        duration = parse_duration(args.get("duration") if request.method == "GET"
                                  else request.form.get("duration") or args.get("duration"))
    except ValueError as exc:
        filter_errors["duration"], duration = str(exc), DEFAULT_DURATION
    near = (args.get("near") or "").strip()
    place = None
    suggestions: list[str] = []
    near_too_long = address_too_long(near)
    if near_too_long:
        filter_errors["near"], near = place_too_long_message(), near[:ADDRESS_MAX_LENGTH]
    elif near:
        try:
            place = geocode_place(near)
        except GeocodeNotFound as exc:
            filter_errors["near"] = _("„%(query)s“ wurde nicht gefunden.", query=near)
            suggestions = exc.suggestions

    form = VisitRequestForm()
    if request.method == "GET":
        form.duration.data = str(duration)
        if near and not form.firm_address.data:
            form.firm_address.data = near
    general: list[str] = []
    conflict = None
    status = 400 if near_too_long else 200
    if request.method == "POST":
        outcome = _submit_request(form, partner)
        if isinstance(outcome, Response):
            return outcome
        general, conflict, status = outcome
    if conflict is not None:
        days = group_by_day(conflict.next_free)
    else:
        coords = (place.lat, place.lon) if place else None
        days = group_by_day(_slot_window(partner, first_day, duration, coords))
    horizon_end = today + timedelta(days=booking.ensure_profile(db.session, partner).horizon_days)
    paging = {
        "prev": (first_day - timedelta(days=7)) if first_day > today else None,
        "next": (first_day + timedelta(days=7)) if first_day + timedelta(days=7) <= horizon_end else None,
    }
    page = render_template(
        "scheduling/request.html", partner=partner, form=form, days=days, conflict=conflict,
        general_errors=general, filter_errors=filter_errors, suggestions=suggestions, place=place, near=near,
        duration=duration, durations=DURATIONS_MIN, first_day=first_day,
        last_day=first_day + timedelta(days=PAGE_DAYS - 1), paging=paging, topics=_topic_choices(partner),
        lang=current_language(),
    )
    return page, status


def _submit_request(form: VisitRequestForm, partner: Partner):
    """Validate, geocode, book inside the lock; a redirect on success, else (general errors, conflict, status)."""
    if not form.validate_on_submit():
        message = _("Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und senden Sie es erneut.")
        return [message], None, 400
    errors: dict[str, str] = {}
    start = None
    try:
        start = parse_instant(form.start.data or "", "start")
    except LocalTimeError as exc:
        errors["start"] = (_("Bitte wählen Sie einen Termin aus der Liste.") if not (form.start.data or "").strip()
                           else exc.message)
    firm = FirmDetails(name=form.firm_name.data or "", address=form.firm_address.data or "",
                       contact=form.contact.data or "", email=form.email.data or "", phone=form.phone.data or "")
    if address_too_long(firm.address):
        errors["firm.address"] = address_too_long_message()
    elif firm.address.strip():
        try:
            found = geocode_place(firm.address)
            firm.lat, firm.lon = found.lat, found.lon
        except GeocodeNotFound as exc:
            message = address_not_found_message(firm.address.strip())
            if exc.suggestions:
                message += " " + _("Meinten Sie: %(places)s?", places="; ".join(exc.suggestions))
            errors["firm.address"] = message
    try:
        duration = parse_duration(form.duration.data, default=DEFAULT_DURATION)
    except ValueError as exc:
        errors["duration_min"] = str(exc)
    if errors:
        # Report the other fields' problems in the same round: the service's own firm rules, on a copy.
        for key, message in booking._validate_firm(dataclasses.replace(firm), need_contact=True).items():
            errors.setdefault(key, message)
        return _attach(form, errors), None, 400
    partner_id = partner.id
    try:
        with booking_transaction(db.session, partner_id):
            visit, token = booking.request_visit(
                db.session, db.session.get(Partner, partner_id), start, duration, firm, form.topic.data or None,
                form.message.data or "", clock(), settings())
            visit_id = visit.id
    except BookingInvalid as exc:
        return _attach(form, exc.errors), None, 400
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


# --- the firm's private page -------------------------------------------------------------------------


STATUS_LABELS = {
    "requested": _l("Angefragt – wartet auf die Bestätigung"),
    "confirmed": _l("Bestätigt"),
    "declined": _l("Abgelehnt"),
    "cancelled": _l("Abgesagt"),
    "expired": _l("Abgelaufen – die Anfrage wurde nicht rechtzeitig bestätigt"),
}


def _visit_or_404(token: str) -> Visit:
    visit = booking.visit_by_manage_token(db.session, token)
    if visit is None:
        abort(404)
    return visit


def _display_status(visit: Visit) -> str:
    expires = visit.expires_at
    if visit.status == "requested" and expires is not None and as_utc(expires) <= clock():
        return "expired"
    return visit.status


def _manage_page(token: str, visit: Visit, *, status: int = 200, errors: dict[str, str] | None = None,
                 conflict: BookingConflict | None = None):
    today = _today()
    try:
        first_day = max(parse_day(request.args.get("from"), today), today)
    except ValueError:
        first_day = today
    shown = _display_status(visit)
    days: list[dict] = []
    if shown in ACTIVE_STATES:
        if conflict is not None:
            days = group_by_day(conflict.next_free)
        else:
            place = (visit.firm_lat, visit.firm_lon) if visit.firm_lat is not None else None
            days = group_by_day(_slot_window(visit.partner, first_day, visit.duration_min, place))
    page = render_template(
        "scheduling/manage.html", visit=visit, token=token, shown_status=shown,
        status_label=STATUS_LABELS.get(shown, shown), is_active=shown in ACTIVE_STATES, days=days,
        conflict=conflict, errors=errors or {}, first_day=first_day,
        prev_day=(first_day - timedelta(days=7)) if first_day > today else None,
        next_day=first_day + timedelta(days=7), start_label=_time_label(visit.start_at),
        end_label=_time_label(visit.end_at),
        day_label=babel_format_date(to_local(visit.start_at).date(), format="full"),
        lang=current_language(),
    )
    return _private_headers(Response(page, status=status, mimetype="text/html"))


@bp.get("/termin/<token>")
def manage_visit(token: str):
    """The firm's private page: status, .ics, reschedule, cancel."""
    return _manage_page(token, _visit_or_404(token))


@bp.get("/termin/<token>.ics")
def visit_ics(token: str):
    """The visit's current invite: METHOD:REQUEST while active, METHOD:CANCEL once it has ended."""
    visit = _visit_or_404(token)
    method, body = message_for(invite_data(visit, manage_url(token)), clock())
    response = Response(body, content_type=f"text/calendar; charset=utf-8; method={method}")
    response.headers["Content-Disposition"] = "attachment; filename=invite.ics"
    return _private_headers(response)


def _wants_json_post() -> bool:
    return request.is_json


def _check_form_csrf() -> None:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from None


def _state_message() -> str:
    return _("Dieser Termin ist bereits beendet (abgesagt, abgelehnt oder abgelaufen) und kann nicht mehr "
             "geändert werden.")


# The secret token in the URL authorises these two, not a cookie: a cross-site page that does not know it
# can forge nothing. JSON bodies therefore need no CSRF token (scripts, the page's own JS); HTML form
# posts are still CSRF-checked below. Listed in docs/architecture.md under "CSRF exemptions".
@bp.post("/termin/<token>/cancel")
@csrf.exempt
def firm_cancel_visit(token: str):
    as_json = _wants_json_post()
    visit = booking.visit_by_manage_token(db.session, token)
    if visit is None:
        if as_json:
            return json_error(_("Diesen Termin gibt es nicht."), 404, "token")
        abort(404)
    if not as_json:
        _check_form_csrf()
    visit_id, partner_id = visit.id, visit.partner_id
    try:
        with booking_transaction(db.session, partner_id):
            booking.cancel_visit(db.session, db.session.get(Visit, visit_id), clock(), by_firm=True)
    except NotAllowed:
        if as_json:
            return json_error(_state_message(), 409, "status")
        flash(_state_message(), "error")
        return redirect(url_for("scheduling.manage_visit", token=token), 303)
    visit = db.session.get(Visit, visit_id)
    mailed = send_visit_mails(visit, token)
    if as_json:
        return jsonify({**visit_json(visit, token), "mail_sent": mailed})
    flash(_("Der Termin ist abgesagt. %(name)s wurde benachrichtigt.", name=visit.partner.name)
          if mailed else mail_failed_message(), "info" if mailed else "error")
    return redirect(url_for("scheduling.manage_visit", token=token), 303)


@bp.post("/termin/<token>/reschedule")
@csrf.exempt
@visit_request_limit  # every move mails the coach: the same per-address budget as new requests
def firm_reschedule_visit(token: str):
    as_json = _wants_json_post()
    visit = booking.visit_by_manage_token(db.session, token)
    if visit is None:
        if as_json:
            return json_error(_("Diesen Termin gibt es nicht."), 404, "token")
        abort(404)
    if as_json:
        body = request.get_json(silent=True)
        raw = body.get("start") if isinstance(body, dict) else None
        if not isinstance(raw, str):
            return json_error(_("Bitte geben Sie den neuen Beginn als Text an, z. B. 2026-12-01T09:00."), 400,
                              "start")
    else:
        _check_form_csrf()
        raw = request.form.get("start", "")
    try:
        new_start = parse_instant(raw, "start")
    except LocalTimeError as exc:
        message = exc.message if raw.strip() else _("Bitte wählen Sie einen neuen Termin aus der Liste.")
        if as_json:
            return json_error(message, 400, "start")
        return _manage_page(token, visit, status=400, errors={"start": message})
    visit_id, partner_id = visit.id, visit.partner_id
    try:
        with booking_transaction(db.session, partner_id):
            booking.reschedule_visit(db.session, db.session.get(Visit, visit_id), new_start, clock(), settings(),
                                     by_firm=True)
    except NotAllowed:
        if as_json:
            return json_error(_state_message(), 409, "status")
        flash(_state_message(), "error")
        return redirect(url_for("scheduling.manage_visit", token=token), 303)
    except BookingConflict as exc:
        if as_json:
            return json_error(exc.reason, 409, "start", code=exc.code, next_free=[slot_json(s) for s in exc.next_free])
        return _manage_page(token, db.session.get(Visit, visit_id), status=409, conflict=exc)
    except BookingInvalid as exc:
        if as_json:
            return json_error(exc.errors[exc.field], 422, exc.field, errors=exc.errors)
        return _manage_page(token, db.session.get(Visit, visit_id), status=422, errors=exc.errors)
    visit = db.session.get(Visit, visit_id)
    mailed = send_visit_mails(visit, token)
    if as_json:
        return jsonify({**visit_json(visit, token), "mail_sent": mailed})
    flash(_("Der Termin ist verschoben. %(name)s muss den neuen Termin noch bestätigen.", name=visit.partner.name)
          if mailed else mail_failed_message(), "info" if mailed else "error")
    return redirect(url_for("scheduling.manage_visit", token=token), 303)
