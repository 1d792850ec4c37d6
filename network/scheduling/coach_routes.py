"""Scheduler views for coaches and scouts: calendar, visit actions, direct booking, working hours, absences, feed."""
from __future__ import annotations

import re
import secrets
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from flask import Response, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select

from network.audit import record
from network.directory.models import Kind, Partner, Topic
from network.extensions import db
from network.geo.geocoding import GeocodeNotFound
from network.scheduling import ical
from network.scheduling.slots import free_slots
from network.scheduling.booking import load_schedule
from network.scheduling.booking import (
    BookingConflict,
    BookingInvalid,
    FirmDetails,
    NotAllowed,
    book_visit,
    can_manage_partner_visits,
    cancel_visit,
    confirm_visit,
    decline_visit,
    ensure_profile,
    feed_visits,
    partner_by_feed_token,
    record_outcome,
    reschedule_visit,
    rotate_feed_token,
    token_hash,
)
from network.scheduling.localtime import LocalTimeError, as_utc, local_day_bounds, local_to_utc, to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import ACTIVE_STATES, DURATIONS_MIN, Absence, SchedulingProfile, Visit, WorkingHours
from network.scheduling.notify import invite_data, notify_visit
from network.scheduling.routes import address_too_long, address_too_long_message, bp, clock, settings

SCHEDULING_KINDS = ("innovationscoach", "technologiescout")
MAX_INTERVALS_PER_DAY = 6
ABSENCE_REASONS = ("vacation", "sick", "other")
FEED_KEEP_DAYS = 30

WEEKDAY_NAMES = (_l("Montag"), _l("Dienstag"), _l("Mittwoch"), _l("Donnerstag"), _l("Freitag"), _l("Samstag"),
                 _l("Sonntag"))
STATUS_LABELS = {
    "requested": _l("angefragt"),
    "confirmed": _l("bestätigt"),
    "declined": _l("abgelehnt"),
    "cancelled": _l("abgesagt"),
    "expired": _l("abgelaufen"),
}
REASON_LABELS = {"vacation": _l("Urlaub"), "sick": _l("Krankheit"), "other": _l("Sonstiges")}
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
# Service error keys -> the names of this module's form fields.
FIELD_NAMES = {
    "firm.name": "firm_name",
    "firm.address": "firm_address",
    "firm.contact": "contact",
    "firm.email": "email",
    "firm.phone": "phone",
    "duration_min": "duration",
    "start": "time",
}

_TIME_RE = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
_GERMAN_DATE_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


# ---------------------------------------------------------------- helpers: time, parsing, who may do what


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


def parse_day(raw: str) -> date | None:
    """ISO (what <input type=date> sends) or German dd.mm.yyyy (what people type where it is a text field)."""
    raw = (raw or "").strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    match = _GERMAN_DATE_RE.match(raw)
    if match:
        try:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        except ValueError:
            return None
    return None


def parse_clock(raw: str) -> int | None:
    """'08:30' -> 510 minutes after midnight; None when it is not a time of day."""
    match = _TIME_RE.match((raw or "").strip())
    if not match:
        return None
    return int(match.group(1)) * 60 + int(match.group(2))


def minutes_text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


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
    except LocalTimeError as exc:
        errors["time"] = exc.message
        return None


def _now() -> datetime:
    return as_utc(clock())


def _actor():
    return current_user._get_current_object()


def _partner_from_args() -> Partner | None:
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


def _require_partner() -> Partner | Response:
    partner = _partner_from_args()
    if partner is None:
        return redirect(url_for("scheduling.coach_calendar"))
    return partner


def _visit_or_abort(visit_id: int) -> Visit:
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        abort(404)
    if not can_manage_partner_visits(current_user, visit.partner):
        abort(403)
    return visit


def _needs_partner_arg(partner: Partner) -> bool:
    return current_user.partner_id != partner.id


def kurl(partner: Partner, endpoint: str, **values) -> str:
    """url_for that keeps ?partner=<id> when an admin is helping with someone else's calendar."""
    if partner is not None and _needs_partner_arg(partner) and not endpoint.startswith("scheduling.coach_visit"):
        values.setdefault("partner", partner.id)
    return url_for(endpoint, **values)


def _profile_view(partner: Partner) -> SchedulingProfile:
    """The saved profile, or an unsaved one with the defaults (a GET must not write)."""
    profile = db.session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
    if profile is not None:
        return profile
    return SchedulingProfile(partner_id=partner.id, home_address=partner.address, home_lat=partner.latitude,
                             home_lon=partner.longitude, min_notice_hours=24, horizon_days=56)


def _render(template: str, partner: Partner | None, http_status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", {})
    response = make_response(render_template(
        template, partner=partner, kurl=lambda endpoint, **v: kurl(partner, endpoint, **v),
        fmt_local=fmt_local, fmt_range=fmt_range, fmt_day=fmt_day, slot_value=slot_value,
        status_labels=STATUS_LABELS, reason_labels=REASON_LABELS, weekday_names=WEEKDAY_NAMES,
        durations=DURATIONS_MIN, now=_now(), **context), http_status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _field_errors(exc: BookingInvalid) -> dict[str, str]:
    return {FIELD_NAMES.get(key, key): message for key, message in exc.errors.items()}


def firm_manage_url(token: str | None) -> str | None:
    """The firm's private link (public_routes' manage page), when we hold the plain token."""
    if not token or "scheduling.manage_visit" not in current_app.view_functions:
        return None
    return url_for("scheduling.manage_visit", token=token, _external=True)


def coach_visit_url(visit: Visit) -> str:
    return url_for("scheduling.coach_visit", visit_id=visit.id, _external=True)


def _notify(visit: Visit, firm_token: str | None = None) -> bool:
    """Mail the visit's new state to firm and coach after the commit; a failure is logged and shown, never raised."""
    mailer = current_app.extensions["partnernetz.mailer"]
    try:
        sent = notify_visit(mailer, visit, _now(), firm_manage_url(firm_token), coach_visit_url(visit))
    except Exception:  # the change is committed; whatever the transport does, it must not turn into a 500
        current_app.logger.exception("Notification for visit %s failed", visit.id)
        flash(_("Die Änderung ist gespeichert, aber die E-Mail-Benachrichtigung konnte nicht verschickt werden. "
                "Bitte informieren Sie die Firma selbst."), "error")
        return False
    if sent:
        flash(_("Benachrichtigung mit Kalendereintrag verschickt an: %(to)s", to=", ".join(sent)), "info")
    return True


def _effective_status(visit: Visit, now: datetime) -> str:
    """Requests past their expiry count as expired even before a booking run marks them so."""
    if visit.status == "requested" and visit.expires_at is not None and as_utc(visit.expires_at) <= now:
        return "expired"
    return visit.status


# ---------------------------------------------------------------- calendar


def _calendar_rows(partner: Partner, status: str, now: datetime) -> tuple[list[Visit], list[Visit]]:
    """(main list, past visits awaiting an outcome) for the chosen filter."""
    base = select(Visit).where(Visit.partner_id == partner.id)
    not_expired = (Visit.expires_at.is_(None)) | (Visit.expires_at > now)
    awaiting = list(db.session.scalars(
        base.where(Visit.status == "confirmed", Visit.start_at < now, Visit.took_place.is_(None))
        .order_by(Visit.start_at.desc()).limit(200)))
    upcoming_active = base.where(Visit.end_at > now, (Visit.status == "confirmed")
                                 | ((Visit.status == "requested") & not_expired))
    if status == "":
        return list(db.session.scalars(upcoming_active.order_by(Visit.start_at))), awaiting
    if status == "requested":
        rows = base.where(Visit.status == "requested", not_expired).order_by(Visit.start_at)
    elif status == "confirmed":
        rows = base.where(Visit.status == "confirmed", Visit.end_at > now).order_by(Visit.start_at)
    elif status == "outcome":
        return awaiting, []
    elif status == "done":
        rows = base.where(Visit.status == "confirmed", Visit.took_place.is_not(None)).order_by(Visit.start_at.desc())
    elif status == "expired":
        rows = base.where((Visit.status == "expired") | ((Visit.status == "requested") & ~not_expired)) \
            .order_by(Visit.start_at.desc())
    elif status in ("declined", "cancelled"):
        rows = base.where(Visit.status == status).order_by(Visit.start_at.desc())
    else:  # all: upcoming first (soonest first), then the past (latest first)
        upcoming = list(db.session.scalars(base.where(Visit.end_at > now).order_by(Visit.start_at)))
        past = list(db.session.scalars(base.where(Visit.end_at <= now).order_by(Visit.start_at.desc()).limit(500)))
        return upcoming + past, []
    return list(db.session.scalars(rows.limit(500))), []


@bp.get("/kalender")
@login_required
def coach_calendar():
    partner = _partner_from_args()
    if partner is None:
        return _choose_partner()
    status = request.args.get("status", "")
    if status not in FILTERS:
        status = ""
    now = _now()
    visits, awaiting = _calendar_rows(partner, status, now)
    open_requests = db.session.scalar(select(func.count(Visit.id)).where(
        Visit.partner_id == partner.id, Visit.status == "requested", Visit.end_at > now,
        (Visit.expires_at.is_(None)) | (Visit.expires_at > now))) or 0
    hours_count = db.session.scalar(select(func.count(WorkingHours.id)).where(
        WorkingHours.partner_id == partner.id)) or 0
    today = to_local(now).date()
    absences = list(db.session.scalars(select(Absence).where(
        Absence.partner_id == partner.id, Absence.end_date >= today).order_by(Absence.start_date).limit(5)))
    return _render("scheduling/coach_calendar.html", partner, visits=visits, awaiting=awaiting, status=status,
                   filters=FILTERS, open_requests=open_requests, hours_count=hours_count, absences=absences,
                   effective_status=lambda v: _effective_status(v, now))


def _choose_partner():
    """Admins help out: pick the coach or scout whose calendar to open."""
    now = _now()
    open_counts = dict(db.session.execute(
        select(Visit.partner_id, func.count(Visit.id)).where(
            Visit.status == "requested", Visit.end_at > now,
            (Visit.expires_at.is_(None)) | (Visit.expires_at > now)).group_by(Visit.partner_id)).all())
    partners = list(db.session.scalars(
        select(Partner).join(Partner.kind).where(Kind.slug.in_(SCHEDULING_KINDS), Partner.is_archived.is_(False))
        .order_by(Partner.sort_name)))
    return _render("scheduling/coach_choose.html", None, partners=partners, open_counts=open_counts)


# ---------------------------------------------------------------- one visit


def _visit_page(visit: Visit, status: int = 200, **context):
    now = _now()
    local = to_local(visit.start_at)
    values = {"date": f"{local:%Y-%m-%d}", "time": f"{local:%H:%M}"}
    values.update(context.pop("values", {}) or {})
    return _render("scheduling/coach_visit.html", visit.partner, status, visit=visit, values=values,
                   effective=_effective_status(visit, now), started=as_utc(visit.start_at) <= now, **context)


def _run_change(visit: Visit, action: str, change, *, form_values: dict | None = None):
    """Run change() in the booking transaction; domain errors become the visit page with a fitting status."""
    visit_id = visit.id
    try:
        with booking_transaction(db.session, visit.partner_id):
            change()
    except BookingConflict as exc:
        return _visit_page(db.session.get(Visit, visit_id), 409, conflict=exc, action=action,
                           values=form_values or {})
    except BookingInvalid as exc:
        return _visit_page(db.session.get(Visit, visit_id), 422, errors=_field_errors(exc), action=action,
                           values=form_values or {})
    except NotAllowed as exc:
        if str(exc) == "state":
            return _visit_page(db.session.get(Visit, visit_id), 409, state_error=STATE_MESSAGES[action],
                               action=action)
        abort(403)
    return None


@bp.get("/kalender/termine/<int:visit_id>")
@login_required
def coach_visit(visit_id: int):
    return _visit_page(_visit_or_abort(visit_id))


@bp.get("/kalender/termine/<int:visit_id>/termin.ics")
@login_required
def coach_visit_ics(visit_id: int):
    """The visit's current invite (or cancellation) as a file for the coach's own calendar."""
    visit = _visit_or_abort(visit_id)
    _method, body = ical.message_for(invite_data(visit, coach_visit_url(visit)), _now())
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="termin-{visit.id}.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _after_change(visit_id: int, message: str):
    visit = db.session.get(Visit, visit_id)
    flash(message, "info")
    _notify(visit)
    return redirect(url_for("scheduling.coach_visit", visit_id=visit_id))


@bp.post("/kalender/termine/<int:visit_id>/bestaetigen")
@login_required
def coach_confirm(visit_id: int):
    visit = _visit_or_abort(visit_id)
    failed = _run_change(visit, "confirm",
                         lambda: confirm_visit(db.session, visit, _actor(), _now(), settings()))
    return failed or _after_change(visit_id, _("Der Termin ist bestätigt."))


@bp.post("/kalender/termine/<int:visit_id>/ablehnen")
@login_required
def coach_decline(visit_id: int):
    visit = _visit_or_abort(visit_id)
    reason = request.form.get("reason", "")
    if not reason.strip():
        return _visit_page(visit, 422, action="decline",
                           errors={"reason": _("Bitte geben Sie einen Grund für die Absage an.")})
    if len(reason) > 2000:
        return _visit_page(visit, 422, action="decline", values={"reason": reason},
                           errors={"reason": _("Der Grund ist zu lang (höchstens 2000 Zeichen).")})
    failed = _run_change(visit, "decline", lambda: decline_visit(db.session, visit, _actor(), reason, _now()),
                         form_values={"reason": reason})
    return failed or _after_change(visit_id, _("Die Anfrage ist abgelehnt."))


@bp.post("/kalender/termine/<int:visit_id>/verschieben")
@login_required
def coach_reschedule(visit_id: int):
    visit = _visit_or_abort(visit_id)
    errors: dict[str, str] = {}
    new_start = parse_wall_clock(request.form, errors)
    submitted = {"date": request.form.get("date", ""), "time": request.form.get("time", "")}
    if errors:
        return _visit_page(visit, 422, action="reschedule", errors=errors, values=submitted)
    failed = _run_change(visit, "reschedule",
                         lambda: reschedule_visit(db.session, visit, new_start, _now(), settings(), actor=_actor()),
                         form_values=submitted)
    return failed or _after_change(visit_id, _("Der Termin ist verschoben auf %(when)s.", when=fmt_local(new_start)))


@bp.post("/kalender/termine/<int:visit_id>/absagen")
@login_required
def coach_cancel(visit_id: int):
    visit = _visit_or_abort(visit_id)
    failed = _run_change(visit, "cancel", lambda: cancel_visit(db.session, visit, _now(), actor=_actor()))
    return failed or _after_change(visit_id, _("Der Termin ist abgesagt."))


@bp.post("/kalender/termine/<int:visit_id>/ergebnis")
@login_required
def coach_outcome(visit_id: int):
    visit = _visit_or_abort(visit_id)
    raw = request.form.get("took_place", "")
    notes = request.form.get("notes", "")
    values = {"took_place": raw, "notes": notes}
    errors = {}
    if raw not in ("ja", "nein"):
        errors["took_place"] = _("Bitte wählen Sie, ob der Termin stattgefunden hat.")
    if len(notes) > 5000:
        errors["notes"] = _("Die Notizen sind zu lang (höchstens 5000 Zeichen).")
    if errors:
        return _visit_page(visit, 422, action="outcome", errors=errors, values=values)
    failed = _run_change(visit, "outcome",
                         lambda: record_outcome(db.session, visit, _actor(), raw == "ja", notes, _now()),
                         form_values=values)
    if failed:
        return failed
    # The outcome is the coach's own note: no invite changes, so no mail to the firm.
    flash(_("Das Ergebnis ist gespeichert."), "info")
    return redirect(url_for("scheduling.coach_visit", visit_id=visit_id))


# ---------------------------------------------------------------- direct booking


BOOK_FIELDS = ("date", "time", "duration", "firm_name", "firm_address", "contact", "email", "phone", "topic",
               "message")


def _topics():
    return list(db.session.scalars(select(Topic).order_by(Topic.sort_order, Topic.name_de)))


def _suggested_slots(partner: Partner, now: datetime, duration_min: int = 60) -> list:
    first_day = to_local(now).date()
    start, _unused = local_day_bounds(first_day)
    _unused, end = local_day_bounds(first_day + timedelta(days=14))
    schedule = load_schedule(db.session, partner, start, end, now=now)
    # The coach may book at short notice (the firms' notice would hide tomorrow); an hour ahead is enough to suggest.
    schedule = replace(schedule, min_notice=timedelta(hours=1))
    slots = free_slots(schedule, first_day, 14, timedelta(minutes=duration_min), now, None, settings().rules,
                       step=timedelta(minutes=60))
    return slots[:12]


@bp.route("/kalender/neu", methods=["GET", "POST"])
@login_required
def coach_book():
    partner = _require_partner()
    if not isinstance(partner, Partner):
        return partner
    now = _now()
    if request.method == "GET":
        values = {"duration": "60", "date": request.args.get("date", ""), "time": request.args.get("time", "")}
        with db.session.no_autoflush:
            suggestions = _suggested_slots(partner, now)
        db.session.rollback()  # load_schedule may have created the profile row: a GET writes nothing
        return _render("scheduling/coach_book.html", partner, values=values, topics=_topics(),
                       suggestions=suggestions)
    form = request.form
    values = {name: form.get(name, "") for name in BOOK_FIELDS}
    if form.get("slot"):
        values["date"], _sep, values["time"] = form["slot"].partition("T")
    errors: dict[str, str] = {}
    start = parse_wall_clock(form, errors)
    duration = int(values["duration"]) if values["duration"].isdigit() else 0
    if duration not in DURATIONS_MIN:
        errors["duration"] = _("Bitte wählen Sie eine Dauer von 60, 90 oder 120 Minuten.")
    firm = FirmDetails(name=values["firm_name"], address=values["firm_address"], contact=values["contact"],
                       email=values["email"], phone=values["phone"])
    if address_too_long(values["firm_address"]):
        errors["firm_address"] = address_too_long_message()
    elif values["firm_address"].strip():
        try:
            place = current_app.extensions["partnernetz.geocoder"].geocode(values["firm_address"])
            firm.lat, firm.lon = place.lat, place.lon
        except GeocodeNotFound as exc:
            message = _("Die Adresse wurde nicht gefunden. Bitte mit Postleitzahl angeben, "
                        "z. B. „Musterstraße 1, 58095 Hagen“.")
            if exc.suggestions:
                message += " " + _("Meinten Sie: %(s)s?", s=", ".join(exc.suggestions[:5]))
            errors["firm_address"] = message
    if errors:
        return _render("scheduling/coach_book.html", partner, 422, values=values, errors=errors, topics=_topics())
    created: dict[str, object] = {}

    def _book() -> None:
        visit = book_visit(db.session, partner, _actor(), start, duration, firm, values["topic"] or None,
                           values["message"], now, settings())
        # book_visit keeps its manage token to itself; issue one we can hand to the firm (replaces the unseen one).
        token = secrets.token_urlsafe(32)
        visit.manage_token_hash = token_hash(token)
        db.session.flush()
        created.update(id=visit.id, token=token)

    try:
        with booking_transaction(db.session, partner.id):
            _book()
    except BookingConflict as exc:
        return _render("scheduling/coach_book.html", partner, 409, values=values, conflict=exc, topics=_topics())
    except BookingInvalid as exc:
        return _render("scheduling/coach_book.html", partner, 422, values=values, errors=_field_errors(exc),
                       topics=_topics())
    except NotAllowed:
        abort(403)
    visit = db.session.get(Visit, created["id"])
    flash(_("Der Termin ist eingetragen."), "info")
    _notify(visit, firm_token=created["token"])
    return redirect(url_for("scheduling.coach_visit", visit_id=visit.id))


# ---------------------------------------------------------------- working hours and home base


def _hour_rows(partner: Partner) -> dict[int, list[tuple[str, str]]]:
    rows: dict[int, list[tuple[str, str]]] = {day: [] for day in range(7)}
    for item in db.session.scalars(select(WorkingHours).where(WorkingHours.partner_id == partner.id)
                                   .order_by(WorkingHours.weekday, WorkingHours.start_minute)):
        rows[item.weekday].append((minutes_text(item.start_minute), minutes_text(item.end_minute)))
    return rows


def parse_working_hours(form) -> tuple[list[tuple[int, int, int]], dict[int, list[tuple[str, str]]], dict[str, str]]:
    """Form rows h<weekday>-<i>-start/end -> ([(weekday, start, end)], rows to show again, errors by 'h<weekday>')."""
    intervals: list[tuple[int, int, int]] = []
    shown: dict[int, list[tuple[str, str]]] = {day: [] for day in range(7)}
    errors: dict[str, str] = {}
    for day in range(7):
        day_intervals = []
        problems = []
        for i in range(MAX_INTERVALS_PER_DAY):
            raw_start = form.get(f"h{day}-{i}-start", "").strip()
            raw_end = form.get(f"h{day}-{i}-end", "").strip()
            if not raw_start and not raw_end:
                continue
            shown[day].append((raw_start, raw_end))
            if not raw_start or not raw_end:
                problems.append(_("Bitte geben Sie Beginn und Ende an."))
                continue
            start, end = parse_clock(raw_start), parse_clock(raw_end)
            if start is None or end is None:
                problems.append(_("„%(value)s“ ist keine Uhrzeit (z. B. 08:30).",
                                  value=raw_start if start is None else raw_end))
                continue
            if end <= start:
                problems.append(_("Das Ende (%(end)s) muss nach dem Beginn (%(start)s) liegen.",
                                  start=raw_start, end=raw_end))
                continue
            day_intervals.append((start, end))
        day_intervals.sort()
        for previous, current in zip(day_intervals, day_intervals[1:]):
            if current[0] < previous[1]:
                problems.append(_("Die Zeiten %(a)s und %(b)s überschneiden sich.",
                                  a=f"{minutes_text(previous[0])}–{minutes_text(previous[1])}",
                                  b=f"{minutes_text(current[0])}–{minutes_text(current[1])}"))
        if problems:
            errors[f"h{day}"] = " ".join(problems)
        intervals.extend((day, start, end) for start, end in day_intervals)
    return intervals, shown, errors


def _hours_page(partner: Partner, status: int = 200, **context):
    rows = context.pop("rows", None) or _hour_rows(partner)
    # One empty row more than filled (at least two): without JavaScript, saving adds room for another interval.
    slots = {day: rows[day] + [("", "")] * max(1, 2 - len(rows[day])) for day in range(7)}
    slots = {day: values[:MAX_INTERVALS_PER_DAY] for day, values in slots.items()}
    profile = _profile_view(partner)
    values = {"home_address": profile.home_address, "min_notice_hours": str(profile.min_notice_hours),
              "horizon_weeks": str(max(1, profile.horizon_days // 7))}
    values.update(context.pop("values", {}) or {})
    return _render("scheduling/coach_hours.html", partner, status, slots=slots, values=values, profile=profile,
                   **context)


@bp.route("/kalender/arbeitszeiten", methods=["GET", "POST"])
@login_required
def coach_hours():
    partner = _require_partner()
    if not isinstance(partner, Partner):
        return partner
    if request.method == "GET":
        return _hours_page(partner)
    form = request.form
    intervals, rows, errors = parse_working_hours(form)
    values = {name: form.get(name, "").strip() for name in ("home_address", "min_notice_hours", "horizon_weeks")}
    notice = int(values["min_notice_hours"]) if values["min_notice_hours"].isdigit() else None
    if notice is None or notice > 720:
        errors["min_notice_hours"] = _("Bitte eine ganze Zahl von 0 bis 720 Stunden angeben.")
    weeks = int(values["horizon_weeks"]) if values["horizon_weeks"].isdigit() else None
    if weeks is None or not 1 <= weeks <= 52:
        errors["horizon_weeks"] = _("Bitte eine ganze Zahl von 1 bis 52 Wochen angeben.")
    if address_too_long(values["home_address"]):
        errors["home_address"] = address_too_long_message()
    elif not values["home_address"]:
        errors["home_address"] = _("Bitte geben Sie die Adresse Ihres Dienstorts an; dort beginnen die Fahrten.")
    current = _profile_view(partner)
    home = (current.home_lat, current.home_lon)
    if "home_address" not in errors and (values["home_address"] != current.home_address or current.home_lat is None):
        try:
            place = current_app.extensions["partnernetz.geocoder"].geocode(values["home_address"])
            home = (place.lat, place.lon)
        except GeocodeNotFound as exc:
            message = _("Die Adresse wurde nicht gefunden. Bitte mit Postleitzahl angeben.")
            if exc.suggestions:
                message += " " + _("Meinten Sie: %(s)s?", s=", ".join(exc.suggestions[:5]))
            errors["home_address"] = message
    if errors:
        return _hours_page(partner, 422, rows=rows, values=values, errors=errors)
    profile = ensure_profile(db.session, partner)
    with booking_transaction(db.session, partner.id):
        profile = ensure_profile(db.session, partner)
        before = {"hours": [list(h) for h in _stored_hours(partner)], "home_address": profile.home_address,
                  "min_notice_hours": profile.min_notice_hours, "horizon_days": profile.horizon_days}
        for item in db.session.scalars(select(WorkingHours).where(WorkingHours.partner_id == partner.id)):
            db.session.delete(item)
        for day, start, end in intervals:
            db.session.add(WorkingHours(partner_id=partner.id, weekday=day, start_minute=start, end_minute=end))
        profile.home_address = values["home_address"]
        profile.home_lat, profile.home_lon = home
        profile.min_notice_hours = notice
        profile.horizon_days = weeks * 7
        db.session.flush()
        after = {"hours": [list(h) for h in intervals], "home_address": profile.home_address,
                 "min_notice_hours": profile.min_notice_hours, "horizon_days": profile.horizon_days}
        record(db.session, actor=_actor(), entity=profile, action="working_hours", before=before, after=after,
               entity_label=f"Arbeitszeiten {partner.name}")
    flash(_("Arbeitszeiten und Dienstort sind gespeichert. Bestehende Termine bleiben, wie sie sind."), "info")
    return redirect(kurl(partner, "scheduling.coach_hours"))


def _stored_hours(partner: Partner) -> list[tuple[int, int, int]]:
    return [(h.weekday, h.start_minute, h.end_minute) for h in db.session.scalars(
        select(WorkingHours).where(WorkingHours.partner_id == partner.id)
        .order_by(WorkingHours.weekday, WorkingHours.start_minute))]


# ---------------------------------------------------------------- absences


def _visits_during(partner: Partner, first: date, last: date) -> list[Visit]:
    start, _unused = local_day_bounds(first)
    _unused, end = local_day_bounds(last)
    return list(db.session.scalars(select(Visit).where(
        Visit.partner_id == partner.id, Visit.status.in_(ACTIVE_STATES), Visit.start_at < end, Visit.end_at > start)
        .order_by(Visit.start_at)))


def _absences_page(partner: Partner, status: int = 200, **context):
    today = to_local(_now()).date()
    upcoming = list(db.session.scalars(select(Absence).where(
        Absence.partner_id == partner.id, Absence.end_date >= today).order_by(Absence.start_date)))
    past = list(db.session.scalars(select(Absence).where(
        Absence.partner_id == partner.id, Absence.end_date < today).order_by(Absence.start_date.desc()).limit(20)))
    clashes = {a.id: _visits_during(partner, a.start_date, a.end_date) for a in upcoming}
    values = {"reason": "vacation"}
    values.update(context.pop("values", {}) or {})
    return _render("scheduling/coach_absences.html", partner, status, upcoming=upcoming, past=past,
                   clashes=clashes, values=values, reasons=ABSENCE_REASONS, **context)


@bp.route("/kalender/abwesenheiten", methods=["GET", "POST"])
@login_required
def coach_absences():
    partner = _require_partner()
    if not isinstance(partner, Partner):
        return partner
    if request.method == "GET":
        return _absences_page(partner)
    form = request.form
    values = {name: form.get(name, "").strip() for name in ("start_date", "end_date", "reason", "note")}
    errors: dict[str, str] = {}
    first = parse_day(values["start_date"])
    if first is None:
        errors["start_date"] = _("Bitte geben Sie ein gültiges Datum an (z. B. 01.12.2026).")
    last = parse_day(values["end_date"]) if values["end_date"] else first
    if values["end_date"] and last is None:
        errors["end_date"] = _("Bitte geben Sie ein gültiges Datum an (z. B. 01.12.2026).")
    if first is not None and last is not None:
        if last < first:
            errors["end_date"] = _("Das Ende darf nicht vor dem Beginn liegen.")
        elif (last - first).days > 365:
            errors["end_date"] = _("Eine Abwesenheit darf höchstens ein Jahr lang sein.")
    if values["reason"] not in ABSENCE_REASONS:
        errors["reason"] = _("Bitte wählen Sie einen Grund aus der Liste.")
    if len(values["note"]) > 200:
        errors["note"] = _("Die Notiz ist zu lang (höchstens 200 Zeichen).")
    if errors:
        return _absences_page(partner, 422, values=values, errors=errors)
    ensure_profile(db.session, partner)
    with booking_transaction(db.session, partner.id):
        absence = Absence(partner_id=partner.id, start_date=first, end_date=last, reason=values["reason"],
                          note=values["note"])
        db.session.add(absence)
        db.session.flush()
        record(db.session, actor=_actor(), entity=absence, action="create", before=None,
               after={"start_date": first.isoformat(), "end_date": last.isoformat(), "reason": absence.reason},
               entity_label=f"Abwesenheit {partner.name}")
    flash(_("Die Abwesenheit ist eingetragen; in dieser Zeit werden keine Termine mehr angeboten."), "info")
    clashes = _visits_during(partner, first, last)
    if clashes:
        flash(_("In diesem Zeitraum liegen noch %(n)d Termine. Bitte sagen Sie sie ab oder verschieben Sie sie.",
                n=len(clashes)), "error")
    return redirect(kurl(partner, "scheduling.coach_absences"))


@bp.post("/kalender/abwesenheiten/<int:absence_id>/loeschen")
@login_required
def coach_absence_delete(absence_id: int):
    partner = _require_partner()
    if not isinstance(partner, Partner):
        return partner
    absence = db.session.get(Absence, absence_id)
    if absence is None:
        abort(404)
    if absence.partner_id != partner.id:
        abort(403)
    with booking_transaction(db.session, partner.id):
        absence = db.session.get(Absence, absence_id)
        if absence is not None:
            record(db.session, actor=_actor(), entity=absence, action="delete",
                   before={"start_date": absence.start_date.isoformat(), "end_date": absence.end_date.isoformat(),
                           "reason": absence.reason}, after=None, entity_label=f"Abwesenheit {partner.name}")
            db.session.delete(absence)
    flash(_("Die Abwesenheit ist gelöscht."), "info")
    return redirect(kurl(partner, "scheduling.coach_absences"))


# ---------------------------------------------------------------- calendar feed


def _feed_urls(token: str) -> tuple[str, str]:
    https_url = url_for("scheduling.feed", token=token, _external=True)
    webcal_url = "webcal://" + https_url.split("://", 1)[1]
    return webcal_url, https_url


@bp.get("/kalender/abo")
@login_required
def coach_feed():
    partner = _require_partner()
    if not isinstance(partner, Partner):
        return partner
    profile = _profile_view(partner)
    return _render("scheduling/coach_feed.html", partner, has_feed=bool(profile.feed_token_hash))


@bp.post("/kalender/abo/neu")
@login_required
def coach_feed_rotate():
    partner = _require_partner()
    if not isinstance(partner, Partner):
        return partner
    token = rotate_feed_token(db.session, partner)
    record(db.session, actor=_actor(), entity=ensure_profile(db.session, partner), action="feed_rotate",
           before=None, after=None, entity_label=f"Kalender-Abo {partner.name}")
    db.session.commit()
    webcal_url, https_url = _feed_urls(token)
    # Shown once, in the answer to the POST: only the hash is stored, so nothing can show it again later.
    return _render("scheduling/coach_feed.html", partner, has_feed=True, webcal_url=webcal_url, https_url=https_url)


def _ended_at(visit: Visit, status: str) -> datetime:
    """When a visit stopped being active: its cancellation, its expiry, else its last change (a decline)."""
    if status == "cancelled" and visit.cancelled_at is not None:
        return as_utc(visit.cancelled_at)
    if status == "expired" and visit.expires_at is not None:
        return as_utc(visit.expires_at)
    return as_utc(visit.updated_at)


@bp.get("/feed/<token>.ics")
def feed(token: str):
    """The coach's subscribed calendar (no login: the unguessable token is the key)."""
    partner = partner_by_feed_token(db.session, token)
    if partner is None:
        abort(404)
    now = _now()
    cutoff = now - timedelta(days=FEED_KEEP_DAYS)
    items = []
    for visit in feed_visits(db.session, partner, now):
        status = _effective_status(visit, now)
        if status not in ACTIVE_STATES and _ended_at(visit, status) < cutoff:
            continue
        items.append(replace(invite_data(visit, coach_visit_url(visit)), status=status))
    body = ical.feed(items, now, f"Vor-Ort-Termine {partner.name}")
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="termine.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
