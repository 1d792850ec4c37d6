"""Scheduler JSON API: a partner's free slots and anonymous visit requests.

Status codes: 400 for input that cannot be read (no JSON object, wrong types, a
date or time that is not one — including local times skipped by the spring clock
change); 422 for readable input that breaks a rule (bad e-mail, unknown address,
duration not 60/90/120, unknown topic); 404 for an unknown partner; 409 when the
partner takes no requests, or the time is taken or unreachable (with "next_free").
Every error is {"error": message, "field": name}; several field errors also come as "errors".
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from network.errors import json_error
from network.extensions import csrf, db
from network.geo.geocoding import GeocodeNotFound
from network.directory.models import Partner
from network.scheduling import booking
from network.scheduling.booking import BookingConflict, BookingInvalid, FirmDetails
from network.scheduling.localtime import LocalTimeError, parse_instant, to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import DURATIONS_MIN, Visit
from network.scheduling.public_routes import (
    PartnerUnavailable,
    address_not_found_message,
    bookable_partner,
    ensure_lock_row,
    geocode_place,
    manage_url,
    parse_day,
    parse_duration,
    send_visit_mails,
    slot_json,
    visit_json,
    visit_request_limit,
)
from network.scheduling.routes import (
    address_too_long,
    address_too_long_message,
    clock,
    place_too_long_message,
    settings,
)

bp = Blueprint("scheduling_api", __name__, url_prefix="/api")
# Anonymous firm requests have no session to protect; they are rate-limited instead (docs/architecture.md).
csrf.exempt(bp)

DEFAULT_DAYS = 14
MAX_DAYS = 56
FIRM_KEYS = ("name", "address", "contact", "email", "phone")


def _unavailable(exc: PartnerUnavailable, *, for_write: bool):
    # Reading slots of a partner without working hours: there is nothing here (404); asking it for a
    # visit conflicts with its state (409). An unknown partner is 404 either way.
    status = exc.status if for_write or exc.status == 404 else 404
    return json_error(exc.message, status, "partner_id")


@bp.get("/partners/<int:partner_id>/slots")
def partner_slots(partner_id: int):
    """Free slots: ?from=YYYY-MM-DD&days=14&duration=60&near=<address or postcode> (near makes travel count)."""
    try:
        partner = bookable_partner(partner_id)
    except PartnerUnavailable as exc:
        return _unavailable(exc, for_write=False)
    args = request.args
    today = to_local(clock()).date()
    try:
        first_day = parse_day(args.get("from"), today)
    except ValueError as exc:
        return json_error(str(exc), 400, "from")
    raw_days = args.get("days", str(DEFAULT_DAYS)).strip()
    if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
        return json_error(_("„days“ muss eine ganze Zahl von 1 bis %(max)s sein.", max=MAX_DAYS), 400, "days")
    days = int(raw_days)
    try:
        duration = parse_duration(args.get("duration"))
    except ValueError as exc:
        return json_error(str(exc), 400, "duration")
    near = (args.get("near") or "").strip()
    place = None
    if near:
        if address_too_long(near):
            return json_error(place_too_long_message(), 400, "near")
        try:
            place = geocode_place(near)
        except GeocodeNotFound as exc:
            return json_error(_("„%(query)s“ wurde nicht gefunden.", query=near), 400, "near",
                              suggestions=exc.suggestions)
    ensure_lock_row(partner)
    partner = db.session.get(Partner, partner_id)
    slots = booking.available_slots(db.session, partner, first_day, days, duration, clock(),
                                    (place.lat, place.lon) if place else None, settings())
    return jsonify({
        "partner_id": partner.id,
        "from": first_day.isoformat(),
        "to": (first_day + timedelta(days=days - 1)).isoformat(),
        "duration_min": duration,
        "near": place.label if place else None,
        "travel_checked": place is not None,
        "slots": [slot_json(slot) for slot in slots],
    })


def _text(body: dict, key: str, field: str, *, required: bool = False):
    """A string member (None when absent and optional); a wrong type is a 400 naming the field."""
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _BadInput(_("„%(field)s“ muss Text sein.", field=field), field)
    return value


class _BadInput(Exception):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _read_request(body) -> dict:
    """The request body as plain values; raises _BadInput for what cannot be read."""
    if not isinstance(body, dict):
        raise _BadInput(_("Erwartet wird ein JSON-Objekt (Content-Type: application/json)."), None)
    partner_id = body.get("partner_id")
    if isinstance(partner_id, bool) or not isinstance(partner_id, int):
        raise _BadInput(_("„partner_id“ muss eine ganze Zahl sein."), "partner_id")
    raw_start = body.get("start")
    if not isinstance(raw_start, str):
        raise _BadInput(_("Bitte geben Sie den Beginn als Text an, z. B. 2026-12-01T09:00."), "start")
    try:
        start = parse_instant(raw_start, "start")
    except LocalTimeError as exc:
        raise _BadInput(exc.message, exc.field) from None
    duration = body.get("duration_min", 60)
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise _BadInput(_("„duration_min“ muss eine ganze Zahl sein (%(choices)s).",
                          choices=", ".join(map(str, DURATIONS_MIN))), "duration_min")
    firm = body.get("firm")
    if not isinstance(firm, dict):
        raise _BadInput(_("„firm“ muss ein Objekt mit name, address, contact, email und phone sein."), "firm")
    details = FirmDetails(**{key: _text(firm, key, f"firm.{key}") or "" for key in FIRM_KEYS})
    return {
        "partner_id": partner_id,
        "start": start,
        "duration_min": duration,
        "firm": details,
        "topic": _text(body, "topic", "topic"),
        "message": _text(body, "message", "message") or "",
    }


@bp.post("/visits")
@visit_request_limit
def create_visit():
    """A firm's visit request: 201 with the private manage and .ics URLs, 409 with the next free slots."""
    try:
        values = _read_request(request.get_json(silent=True))
    except _BadInput as exc:
        return json_error(exc.message, 400, exc.field)
    try:
        partner = bookable_partner(values["partner_id"])
    except PartnerUnavailable as exc:
        return _unavailable(exc, for_write=True)
    firm: FirmDetails = values["firm"]
    if address_too_long(firm.address):
        # Checked before geocoding: the booking service would refuse it too, but only after the geocoder's work.
        return json_error(address_too_long_message(), 422, "firm.address")
    if firm.address.strip():
        try:
            found = geocode_place(firm.address)
        except GeocodeNotFound as exc:
            return json_error(address_not_found_message(firm.address.strip()), 422, "firm.address",
                              suggestions=exc.suggestions)
        firm.lat, firm.lon = found.lat, found.lon
    partner_id = partner.id
    try:
        with booking_transaction(db.session, partner_id):
            visit, token = booking.request_visit(
                db.session, db.session.get(Partner, partner_id), values["start"], values["duration_min"], firm,
                values["topic"], values["message"], clock(), settings())
            visit_id = visit.id
    except BookingInvalid as exc:
        return json_error(exc.errors[exc.field], 422, exc.field, errors=exc.errors)
    except BookingConflict as exc:
        return json_error(exc.reason, 409, "start", code=exc.code,
                          next_free=[slot_json(slot) for slot in exc.next_free])
    visit = db.session.get(Visit, visit_id)
    mailed = send_visit_mails(visit, token)
    response = jsonify({**visit_json(visit, token), "mail_sent": mailed})
    response.status_code = 201
    response.headers["Location"] = manage_url(token)
    response.headers["Cache-Control"] = "no-store"
    return response
