"""Scheduler JSON API: a partner's free slots and anonymous visit requests.

Status codes: 400 for input that cannot be read (no JSON object, wrong types, a
date or time that is not one — including local times skipped by the spring clock
change); 422 for readable input that breaks a rule (bad e-mail, unknown address,
duration not 60/90/120, unknown topic); 404 for an unknown partner; 409 when the
partner takes no requests, or the time is taken or unreachable (with "next_free").
Every error is {"error": message, "field": name, "code": code}; refused input also lists
all its problems ("problems", and "errors" by field).
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, jsonify, request

from network.clock import now
from network.directory.models import Partner
from network.errors import invalid_response, json_error
from network.extensions import csrf, db
from network.geo.geocoding import ADDRESS_MAX_LENGTH, GeocodeNotFound, GeocodeResult
from network.problems import Invalid
from network.scheduling import booking
from network.scheduling.booking import BookingConflict, FirmDetails
from network.scheduling.localtime import parse_instant, to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import DURATIONS_MIN, Visit
from network.scheduling.views import (
    PartnerUnavailable,
    address_not_found,
    bookable_partner,
    conflict_response,
    ensure_lock_row,
    geocode_place,
    manage_url,
    parse_duration,
    parse_iso_day,
    send_visit_mails,
    settings,
    slot_json,
    visit_json,
    visit_request_limit,
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
    return json_error(exc.message, status, "partner_id", code=exc.code)


def _slot_query(args) -> tuple[date, int, int, GeocodeResult | None, list[str]]:
    """(first day, days, duration, geocoded place or None) from ?from, days, duration, near; raises Invalid
    (with the geocoder's suggestions for an unknown place)."""
    first_day = parse_iso_day(args.get("from"), to_local(now()).date())
    raw_days = args.get("days", str(DEFAULT_DAYS)).strip()
    if not raw_days.isascii() or not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
        raise Invalid.one("days", "days.out_of_range", max=MAX_DAYS)
    duration = parse_duration(args.get("duration"))
    near = (args.get("near") or "").strip()
    if not near:
        return first_day, int(raw_days), duration, None
    if len(near) > ADDRESS_MAX_LENGTH:
        raise Invalid.one("near", "near.too_long", max=ADDRESS_MAX_LENGTH)
    try:
        return first_day, int(raw_days), duration, geocode_place(near)
    except GeocodeNotFound as exc:
        raise _UnknownPlace(Invalid.one("near", "near.not_found", query=near).problems, exc.suggestions) from None


class _UnknownPlace(Invalid):
    """An unknown ?near: the answer lists the geocoder's suggestions beside the message."""

    def __init__(self, problems, suggestions: list[str]) -> None:
        super().__init__(problems)
        self.suggestions = suggestions


@bp.get("/partners/<int:partner_id>/slots")
def partner_slots(partner_id: int):
    """Free slots: ?from=YYYY-MM-DD&days=14&duration=60&near=<address or postcode> (near makes travel count)."""
    try:
        partner = bookable_partner(partner_id)
    except PartnerUnavailable as exc:
        return _unavailable(exc, for_write=False)
    try:
        first_day, days, duration, place = _slot_query(request.args)
    except _UnknownPlace as exc:
        return invalid_response(exc, 400, suggestions=exc.suggestions)
    except Invalid as exc:
        return invalid_response(exc, 400)
    ensure_lock_row(partner)
    partner = db.session.get(Partner, partner_id)
    slots = booking.available_slots(db.session, partner, first_day, days, duration, now(),
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
        # "field": the JSON name as sent, not a label.
        raise Invalid.one(field, "json.not_text", field=field)
    return value


def _read_request(body) -> dict:
    """The request body as plain values; raises Invalid (a 400) for what cannot be read."""
    if not isinstance(body, dict):
        raise Invalid.one(None, "json.not_an_object")
    partner_id = body.get("partner_id")
    if isinstance(partner_id, bool) or not isinstance(partner_id, int):
        raise Invalid.one("partner_id", "json.not_an_integer", field="partner_id")
    raw_start = body.get("start")
    if not isinstance(raw_start, str):
        raise Invalid.one("start", "start.not_text")
    start = parse_instant(raw_start, "start")
    duration = body.get("duration_min", 60)
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise Invalid.one("duration_min", "duration.not_an_integer", choices=", ".join(map(str, DURATIONS_MIN)))
    firm = body.get("firm")
    if not isinstance(firm, dict):
        raise Invalid.one("firm", "firm.not_an_object")
    details = FirmDetails(**{key: _text(firm, key, f"firm.{key}") or "" for key in FIRM_KEYS})
    return {
        "partner_id": partner_id,
        "start": start,
        "duration_min": duration,
        "firm": details,
        "topic": _text(body, "topic", "topic"),
        "message": _text(body, "message", "message") or "",
    }


def _locate(firm: FirmDetails):
    """Geocode the firm's address into firm; the 422 answer when the address is unknown, else None."""
    if not firm.address.strip():
        return None
    if len(firm.address.strip()) > ADDRESS_MAX_LENGTH:
        # Refused before the geocoder reads it; the booking service would refuse it too, after the work.
        return invalid_response(Invalid.one("firm.address", "firm.address_too_long", max=ADDRESS_MAX_LENGTH), 422)
    try:
        found = geocode_place(firm.address)
    except GeocodeNotFound as exc:
        # The suggestions travel as their own list; the message stays the plain one.
        return invalid_response(Invalid(address_not_found(firm.address.strip())), 422, suggestions=exc.suggestions)
    firm.lat, firm.lon = found.lat, found.lon
    return None


@bp.post("/visits")
@visit_request_limit
def create_visit():
    """A firm's visit request: 201 with the private manage and .ics URLs, 409 with the next free slots."""
    try:
        values = _read_request(request.get_json(silent=True))
    except Invalid as exc:
        return invalid_response(exc, 400)
    try:
        partner = bookable_partner(values["partner_id"])
    except PartnerUnavailable as exc:
        return _unavailable(exc, for_write=True)
    firm: FirmDetails = values["firm"]
    unknown = _locate(firm)
    if unknown is not None:
        return unknown
    partner_id = partner.id
    try:
        with booking_transaction(db.session, partner_id):
            visit, token = booking.request_visit(
                db.session, db.session.get(Partner, partner_id), values["start"], values["duration_min"], firm,
                values["topic"], values["message"], now(), settings())
            visit_id = visit.id
    except Invalid as exc:
        return invalid_response(exc, 422)
    except BookingConflict as exc:
        return conflict_response(exc)
    return _created(visit_id, token)


def _created(visit_id: int, token: str):
    """The 201 answer after the commit (the mails go out first; the private link is shown once, here)."""
    visit = db.session.get(Visit, visit_id)
    mailed = send_visit_mails(visit, token)
    response = jsonify({**visit_json(visit, token), "mail_sent": mailed})
    response.status_code = 201
    response.headers["Location"] = manage_url(token)
    response.headers["Cache-Control"] = "no-store"
    return response
