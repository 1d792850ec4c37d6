"""Web helpers the scheduler's route modules and its JSON API share: formatting, reading input, who may act, mails.

The firm's side: the shared rate limit, partner checks, geocoding, visit JSON, slot
lists and mails after the commit. The coach's side: the listing whose calendar is
open (?partner=<id> for admins helping out), page rendering and notifications.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time

from flask import Response, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from network.clock import now
from network.directory.models import Partner
from network.errors import form_errors, json_error, problem_message
from network.extensions import db, limiter
from network.geo.geocoding import GeocodeResult
from network.links import public_url
from network.problems import Invalid, Problem
from network.scheduling import booking
from network.scheduling.booking import BookingConflict, can_manage_partner_visits
from network.scheduling.localtime import (
    isoformat_local,
    local_to_utc,
    parse_clock,
    parse_day,
    to_local,
)
from network.scheduling.locking import booking_transaction
from network.scheduling.models import DURATIONS_MIN, SchedulingProfile, Visit, WorkingHours
from network.scheduling.notify import notify_visit
from network.scheduling.slots import Slot

log = logging.getLogger(__name__)

DEFAULT_DURATION = 60
PAGE_DAYS = 14  # the firm's request and manage pages show two weeks of free slots, paged by one week

WEEKDAY_NAMES = (_l("Montag"), _l("Dienstag"), _l("Mittwoch"), _l("Donnerstag"), _l("Freitag"), _l("Samstag"),
                 _l("Sonntag"))
# Service error keys -> the names of the coach's form fields.
FIELD_NAMES = {
    "firm.name": "firm_name",
    "firm.address": "firm_address",
    "firm.contact": "contact",
    "firm.email": "email",
    "firm.phone": "phone",
    "duration_min": "duration",
    "start": "time",
}


def settings() -> booking.Settings:
    """The scheduling settings (SCHEDULING_*) of the running app."""
    return booking.settings_from_config(current_app.config)


# ---------------------------------------------------------------- time: now, formatting, reading


def today() -> date:
    return to_local(now()).date()


def fmt_local(moment: datetime | None) -> str:
    """'Di., 01.12.2026, 09:00' in Berlin time."""
    if moment is None:
        return ""
    return format_datetime(to_local(moment), "EEE, dd.MM.yyyy, HH:mm", rebase=False)


def fmt_range(start: datetime, end: datetime) -> str:
    if to_local(start).date() == to_local(end).date():
        return f"{fmt_local(start)}–{to_local(end):%H:%M}"
    return f"{fmt_local(start)} – {fmt_local(end)}"


def fmt_day(day: date) -> str:
    return format_datetime(datetime.combine(day, time(12)), "EEE, dd.MM.yyyy", rebase=False)


def slot_value(moment: datetime) -> str:
    """The wall-clock value a slot button submits: 2026-12-01T09:00 (Berlin)."""
    return f"{to_local(moment):%Y-%m-%dT%H:%M}"


def time_label(moment: datetime) -> str:
    local = to_local(moment)
    label = local.strftime("%H:%M")
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        # The repeated hour of the autumn change: say which of the two 02:30 this is.
        label += " " + (_("Sommerzeit") if local.dst() else _("Winterzeit"))
    return label


def group_by_day(slots: Iterable[Slot]) -> list[dict]:
    """Slots grouped by Berlin calendar day, for the slot picker's radio buttons."""
    days: list[dict] = []
    for slot in slots:
        day = to_local(slot.start).date()
        if not days or days[-1]["date"] != day:
            days.append({"date": day, "label": format_date(day, format="full"), "slots": []})
        days[-1]["slots"].append({
            "value": isoformat_local(slot.start),
            "label": f"{time_label(slot.start)} – {time_label(slot.end)}",
        })
    return days


def parse_wall_clock(form, errors: dict[str, str]) -> datetime | None:
    """Date and time fields (or a chosen slot) as Berlin wall-clock -> UTC instant; errors name the field."""
    raw_date, raw_time = form.get("date", ""), form.get("time", "")
    slot = (form.get("slot") or "").strip()
    if slot and "T" in slot:
        raw_date, raw_time = slot.split("T", 1)
    day = parse_day(raw_date)
    if day is None:
        errors["date"] = _("Bitte geben Sie ein gültiges Datum an (z. B. 01.12.2026).") if raw_date.strip() \
            else _("Bitte geben Sie ein Datum an.")
    minute = parse_clock(raw_time)
    if minute is None:
        errors["time"] = _("Bitte geben Sie eine gültige Uhrzeit an (z. B. 09:30).") if raw_time.strip() \
            else _("Bitte geben Sie eine Uhrzeit an.")
    if day is None or minute is None:
        return None
    try:
        return local_to_utc(datetime.combine(day, time(minute // 60, minute % 60)))
    except Invalid as exc:
        errors["time"] = problem_message(exc.first)
        return None


def parse_duration(raw, default: int | None = DEFAULT_DURATION, field: str = "duration") -> int:
    """A visit length from a query or form value; raises Invalid (duration.not_allowed) naming field."""
    if raw in (None, "") and default is not None:
        return default
    text = str(raw).strip()
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 4 else None
    if value not in DURATIONS_MIN:
        raise Invalid.one(field, "duration.not_allowed", choices=", ".join(str(d) for d in DURATIONS_MIN))
    return value


def parse_iso_day(raw: str | None, default: date) -> date:
    """A ?from=YYYY-MM-DD query value (default when absent); raises Invalid (day.invalid, field "from")."""
    if not raw:
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid.one("from", "day.invalid", value=raw[:40]) from None


# ---------------------------------------------------------------- the firm's side, shared with the JSON API


def _visit_rate_limit() -> str:
    return current_app.config["VISIT_REQUEST_RATE_LIMIT"]


# One budget per address for the form and POST /api/visits: switching channels gains a bot nothing.
visit_request_limit = limiter.shared_limit(_visit_rate_limit, scope="visit-requests", methods=["POST"])


class PartnerUnavailable(Exception):
    """The partner does not exist (status 404, code "partner.not_found") or takes no visit requests
    (no working hours: 409, "partner.no_working_hours")."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def bookable_partner(partner_id: int) -> Partner:
    """The partner if firms may request visits from it; raises PartnerUnavailable otherwise."""
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.is_archived:
        raise PartnerUnavailable(_("Diesen Eintrag gibt es nicht (mehr)."), 404, "partner.not_found")
    has_hours = db.session.scalar(select(WorkingHours.id).where(WorkingHours.partner_id == partner.id).limit(1))
    if has_hours is None:
        raise PartnerUnavailable(
            _("Bei %(name)s können keine Vor-Ort-Termine angefragt werden: Es sind keine Arbeitszeiten "
              "hinterlegt. Bitte nehmen Sie per E-Mail oder Telefon Kontakt auf.", name=partner.name), 409,
            "partner.no_working_hours")
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


def geocoder():
    return current_app.extensions["partnernetz.geocoder"]


def geocode_place(query: str) -> GeocodeResult:
    """Geocode a firm address or postcode (offline gazetteer first); raises GeocodeNotFound."""
    return geocoder().geocode(query)


def with_suggestions(message: str, exc) -> str:
    """A not-found message followed by the geocoder's suggestions (GeocodeNotFound.suggestions), if any."""
    if exc.suggestions:
        message += " " + _("Meinten Sie: %(s)s?", s=", ".join(exc.suggestions[:5]))
    return message


def address_not_found(query: str, suggestions: list[str] | None = None) -> Problem:
    """The firm's address is unknown to the geocoder; with suggestions, the message offers them."""
    if suggestions:
        return Problem("firm.address", "firm.address_unknown_suggestions",
                       {"query": query, "places": "; ".join(suggestions)})
    return Problem("firm.address", "firm.address_unknown", {"query": query})


def slot_window(partner: Partner, first_day: date, duration: int, place) -> list[Slot]:
    """The free slots of the PAGE_DAYS from first_day, travel-checked from place when it is known."""
    return booking.available_slots(db.session, partner, first_day, PAGE_DAYS, duration, now(), place, settings())


def slot_json(slot: Slot) -> dict[str, str]:
    return {"start": isoformat_local(slot.start), "end": isoformat_local(slot.end)}


def manage_url(token: str, external: bool = True) -> str:
    """The firm's private link (the manage page)."""
    link = public_url if external else url_for
    return link("scheduling.manage_visit", token=token)


def ics_url(token: str, external: bool = True) -> str:
    link = public_url if external else url_for
    return link("scheduling.visit_ics", token=token)


def coach_visit_url(visit: Visit) -> str:
    return public_url("scheduling.coach_visit", visit_id=visit.id)


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


def mail_visit(visit: Visit, token: str | None) -> list[str] | None:
    """Mail the visit's current state to firm and coach, after the commit; the recipients, None on failure.

    A mail failure must not lose the change (it is committed already): it is logged and
    the caller tells the user; the .ics downloads still work. Without the firm's plain
    token (only hashes are stored) the firm's mail carries no private link.
    """
    mailer = current_app.extensions["partnernetz.mailer"]
    try:
        return notify_visit(mailer, visit, now(), manage_url(token) if token else None, coach_visit_url(visit))
    except Exception:  # noqa: BLE001  (SMTP refused, outbox not writable, …: never a 500 after a commit)
        log.exception("Notification for visit %s failed", visit.id)
        return None


def send_visit_mails(visit: Visit, token: str) -> bool:
    return mail_visit(visit, token) is not None


def mail_failed_message() -> str:
    return _("Ihre Angaben sind gespeichert, aber die Benachrichtigung per E-Mail konnte gerade nicht versendet "
             "werden. Bitte speichern Sie den Link dieser Seite und laden Sie die Kalenderdatei hier herunter.")


def private_headers(response: Response) -> Response:
    # The URL is the firm's credential: keep it out of caches, referrers and search engines.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# ---------------------------------------------------------------- the coach's side


def actor():
    return current_user._get_current_object()


def partner_from_args() -> Partner | None:
    """The listing whose calendar is shown: the coach's own, or ?partner=<id> for admins; 403 for anyone else.

    None only for an admin who has not picked a listing yet (they see a chooser).
    """
    raw = request.args.get("partner", "").strip()
    if raw:
        if not raw.isdigit():
            abort(404)
        partner = db.session.get(Partner, int(raw))
        if partner is None:
            # Admins learn that the listing is gone; everyone else must not learn which ids exist.
            abort(404 if current_user.is_admin else 403)
    elif current_user.partner_id:
        partner = db.session.get(Partner, current_user.partner_id)
    else:
        partner = None
    if partner is None:
        if current_user.is_active and current_user.is_admin:
            return None
        abort(403)
    if not can_manage_partner_visits(current_user, partner):
        abort(403)
    return partner


def require_partner() -> Partner | Response:
    """The listing to work on, or a redirect to the chooser for an admin who has not picked one."""
    partner = partner_from_args()
    if partner is None:
        return redirect(url_for("scheduling.coach_calendar"))
    return partner


def visit_or_abort(visit_id: int) -> Visit:
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        abort(404)
    if not can_manage_partner_visits(current_user, visit.partner):
        abort(403)
    return visit


def kurl(partner: Partner | None, endpoint: str, **values) -> str:
    """url_for that keeps ?partner=<id> when an admin is helping with someone else's calendar."""
    if partner is not None and current_user.partner_id != partner.id \
            and not endpoint.startswith("scheduling.coach_visit"):
        values.setdefault("partner", partner.id)
    return url_for(endpoint, **values)


def render(template: str, partner: Partner | None, http_status: int = 200, **context):
    """A coach page: the shared formatting helpers and labels in the context, never cached."""
    context.setdefault("errors", {})
    context.setdefault("values", {})
    response = make_response(render_template(
        template, partner=partner, kurl=lambda endpoint, **v: kurl(partner, endpoint, **v),
        fmt_local=fmt_local, fmt_range=fmt_range, fmt_day=fmt_day, slot_value=slot_value,
        weekday_names=WEEKDAY_NAMES,
        durations=DURATIONS_MIN, now=now(), **context), http_status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def field_errors(exc: Invalid) -> dict[str, str]:
    """A service's problems in the user's language, keyed by the coach's form fields (one line per field)."""
    return {field: " ".join(messages) for field, messages in form_errors(exc, FIELD_NAMES).items()}


def conflict_response(exc: BookingConflict):
    """409 for a time that is taken or unreachable: {"error", "field", "code"} and the next free slots."""
    return json_error(problem_message(exc.problem), 409, exc.problem.field, code=exc.code,
                      next_free=[slot_json(slot) for slot in exc.next_free])


def notify(visit: Visit, firm_token: str | None = None) -> bool:
    """Mail a change the coach made; a failure is logged and shown, never raised."""
    sent = mail_visit(visit, firm_token)
    if sent is None:
        flash(_("Die Änderung ist gespeichert, aber die E-Mail-Benachrichtigung konnte nicht verschickt werden. "
                "Bitte informieren Sie die Firma selbst."), "error")
        return False
    if sent:
        flash(_("Benachrichtigung mit Kalendereintrag verschickt an: %(to)s", to=", ".join(sent)), "info")
    return True
