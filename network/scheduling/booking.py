"""Booking services: request, book, confirm, decline, reschedule, cancel, outcome — every path re-checks the rules.

Services flush only; the caller wraps write paths in locking.booking_transaction,
which serialises one coach's bookings and commits. Times are UTC instants.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from network.audit import record
from network.directory.models import Partner, Topic
from network.problems import Invalid, Problem
from network.scheduling.localtime import local_day_bounds, to_local
from network.scheduling.models import (
    ACTIVE_STATES,
    DURATIONS_MIN,
    Absence,
    SchedulingProfile,
    Visit,
    VisitStatus,
    WorkingHours,
)
from network.scheduling.slots import Busy, Schedule, Slot, SlotRejected, TravelRules, check_visit, free_slots

REQUEST_TTL = timedelta(days=7)  # an unanswered request stops holding its slot after a week
NEXT_FREE_COUNT = 5
FEED_KEEP_DAYS = 30  # ended visits stay in the subscribed feed this long, so calendar clients remove them
MAX_MESSAGE_LENGTH = 2000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BookingConflict(Exception):
    """The time is taken or unreachable: .problem (field "start", a "slot.*" code), .code, .next_free.

    Bad input is Invalid instead; a conflict (409) offers the next free slots.
    """

    def __init__(self, problem: Problem, next_free: list[Slot]) -> None:
        super().__init__(problem.code)
        self.problem = problem
        self.code = problem.code
        self.next_free = next_free


class NotAllowed(Exception):
    """The user (or link) may not do this to this visit, or the visit's state forbids it.

    str() says which ("partner", "visit" or "state"); .code is "visit.wrong_state" or "visit.forbidden".
    """

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.code = "visit.wrong_state" if what == "state" else "visit.forbidden"


@dataclass
class FirmDetails:
    name: str = ""
    address: str = ""
    contact: str = ""
    email: str = ""
    phone: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass
class Settings:
    """Scheduling settings from the config (SCHEDULING_*)."""

    rules: TravelRules = field(default_factory=TravelRules)
    request_ttl: timedelta = REQUEST_TTL


def settings_from_config(config) -> Settings:
    """Settings from a mapping with the SCHEDULING_* keys (the Flask config)."""
    return Settings(
        rules=TravelRules(road_factor=config["SCHEDULING_ROAD_FACTOR"], speed_kmh=config["SCHEDULING_SPEED_KMH"],
                          buffer_min=config["SCHEDULING_BUFFER_MIN"]),
        request_ttl=timedelta(days=config["SCHEDULING_REQUEST_TTL_DAYS"]),
    )


def ensure_profile(session: Session, partner: Partner) -> SchedulingProfile:
    profile = session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
    if profile is None:
        profile = SchedulingProfile(partner_id=partner.id, home_address=partner.address,
                                    home_lat=partner.latitude, home_lon=partner.longitude)
        session.add(profile)
        session.flush()
    return profile


def expire_requests(session: Session, partner_id: int, now: datetime) -> int:
    """Requests nobody answered in time stop holding their slot."""
    result = session.execute(
        update(Visit)
        .where(Visit.partner_id == partner_id, Visit.status == VisitStatus.REQUESTED,
               Visit.status_at(now) == VisitStatus.EXPIRED)
        .values(status=VisitStatus.EXPIRED, sequence=Visit.sequence + 1)
        # "fetch", not the default "evaluate": evaluating the criteria in Python compares SQLite's naive
        # expires_at of visits already in the session with the aware `now` and raises TypeError.
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def load_schedule(session: Session, partner: Partner, start: datetime, end: datetime, *,
                  exclude_visit_id: int | None = None, now: datetime | None = None) -> Schedule:
    """The coach's rules plus the active visits between start and end (a day of margin on each side).

    With now, a request whose expiry has passed no longer holds its slot even before
    expire_requests has written that down (a read path does not write).
    """
    profile = ensure_profile(session, partner)
    hours = [(h.weekday, h.start_minute, h.end_minute) for h in session.scalars(
        select(WorkingHours).where(WorkingHours.partner_id == partner.id))]
    first_day, last_day = to_local(start).date() - timedelta(days=1), to_local(end).date() + timedelta(days=1)
    absences = [(a.start_date, a.end_date) for a in session.scalars(
        select(Absence).where(Absence.partner_id == partner.id, Absence.end_date >= first_day,
                              Absence.start_date <= last_day))]
    stmt = select(Visit).where(
        Visit.partner_id == partner.id,
        Visit.status.in_(ACTIVE_STATES),
        Visit.end_at > start - timedelta(days=1),
        Visit.start_at < end + timedelta(days=1),
    )
    if exclude_visit_id is not None:
        stmt = stmt.where(Visit.id != exclude_visit_id)
    if now is not None:
        stmt = stmt.where(Visit.status_at(now) != VisitStatus.EXPIRED)
    busy = [Busy(v.start_at, v.end_at,
                 (v.firm_lat, v.firm_lon) if v.firm_lat is not None else None, v.id)
            for v in session.scalars(stmt)]
    home = (profile.home_lat, profile.home_lon) if profile.home_lat is not None else None
    return Schedule(working_hours=hours, absences=absences, busy=busy, home=home,
                    min_notice=timedelta(hours=profile.min_notice_hours),
                    horizon=timedelta(days=profile.horizon_days))


def available_slots(session: Session, partner: Partner, first_day: date, days: int, duration_min: int,
                    now: datetime, place: tuple[float, float] | None, settings: Settings) -> list[Slot]:
    """Free slots of a coach for days from first_day (Berlin dates)."""
    if duration_min not in DURATIONS_MIN:
        raise Invalid.one("duration", "duration.not_allowed", choices=", ".join(map(str, DURATIONS_MIN)))
    start, _ = local_day_bounds(first_day)
    _, end = local_day_bounds(first_day + timedelta(days=days))
    schedule = load_schedule(session, partner, start, end, now=now)
    return free_slots(schedule, first_day, days, timedelta(minutes=duration_min), now, place, settings.rules)


def _next_free(session: Session, partner: Partner, start: datetime, duration: timedelta, now: datetime,
               place, settings: Settings, exclude_visit_id: int | None) -> list[Slot]:
    first_day = max(to_local(start).date(), to_local(now).date())
    window_start, _ = local_day_bounds(first_day)
    _, window_end = local_day_bounds(first_day + timedelta(days=28))
    schedule = load_schedule(session, partner, window_start, window_end, exclude_visit_id=exclude_visit_id, now=now)
    slots = free_slots(schedule, first_day, 28, duration, now, place, settings.rules)
    return [s for s in slots if s.start >= start][:NEXT_FREE_COUNT] or slots[:NEXT_FREE_COUNT]


_CONTROL = {code: None for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)}


def clean_text(value: str | None) -> str:
    """Trim, normalise line breaks to LF and drop other control characters.

    iCalendar text has no CR, so CR LF would not round-trip; control characters are not
    allowed in iCalendar TEXT, and PostgreSQL refuses NUL in text columns (a 500).
    """
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL).strip()


def validate_firm(firm: FirmDetails, *, need_contact: bool) -> list[Problem]:
    """The problems of a firm's details (at most one per field), after cleaning them in place."""
    for attr in ("name", "address", "contact", "email", "phone"):
        setattr(firm, attr, clean_text(getattr(firm, attr)))
    problems: list[Problem] = []
    if not firm.name.strip():
        problems.append(Problem("firm.name", "firm.name_missing"))
    elif len(firm.name) > 200:
        problems.append(Problem("firm.name", "firm.name_too_long", {"max": 200}))
    if not firm.address.strip():
        problems.append(Problem("firm.address", "firm.address_missing"))
    elif len(firm.address) > 300:
        problems.append(Problem("firm.address", "firm.address_too_long", {"max": 300}))
    if need_contact and not firm.contact.strip():
        problems.append(Problem("firm.contact", "firm.contact_missing"))
    elif len(firm.contact) > 200:
        problems.append(Problem("firm.contact", "firm.contact_too_long", {"max": 200}))
    if firm.email.strip():
        try:
            validate_email(firm.email.strip(), check_deliverability=False)
        except EmailNotValidError:
            problems.append(Problem("firm.email", "email.invalid", {"email": firm.email}))
    elif need_contact:
        problems.append(Problem("firm.email", "firm.email_missing"))
    if len(firm.phone) > 60:
        problems.append(Problem("firm.phone", "firm.phone_too_long", {"max": 60}))
    return problems


def _place(session: Session, partner: Partner, visit: Visit, start: datetime, duration: timedelta, now: datetime,
           settings: Settings, *, require_offered: bool) -> None:
    """Check [start, start+duration) for visit against the coach's other active visits; raise BookingConflict."""
    end = start + duration
    expire_requests(session, partner.id, now)
    schedule = load_schedule(session, partner, start, end, exclude_visit_id=visit.id)
    place = (visit.firm_lat, visit.firm_lon) if visit.firm_lat is not None else None
    try:
        check_visit(schedule, start, end, now, place, settings.rules, require_offered=require_offered)
    except SlotRejected as exc:
        next_free = _next_free(session, partner, start, duration, now, place, settings, visit.id)
        raise BookingConflict(exc.problem, next_free) from None
    visit.start_at, visit.end_at = start, end


def _flush_or_conflict(session: Session, partner: Partner, visit: Visit, now: datetime, settings: Settings) -> None:
    """Flush the visit; when the PostgreSQL exclusion constraint refuses it, raise BookingConflict.

    The constraint catches what the check could not see (a writer that bypassed the lock).
    The failed flush has spoilt the transaction (a savepoint would not help: begin_nested()
    flushes before it emits SAVEPOINT), so it is rolled back here and the next free slots
    are read in a fresh one; the caller's booking_transaction then rolls back again.
    """
    start, duration = visit.start_at, visit.end_at - visit.start_at
    place = (visit.firm_lat, visit.firm_lon) if visit.firm_lat is not None else None
    visit_id, partner_id = visit.id, partner.id
    try:
        session.flush()
    except IntegrityError as exc:
        if "visits_no_overlap" not in str(exc.orig):
            raise
        session.rollback()
        partner = session.get(Partner, partner_id)
        with session.no_autoflush:
            next_free = _next_free(session, partner, start, duration, now, place, settings, visit_id)
        raise BookingConflict(Problem("start", "slot.overlap"), next_free) from None


def _topic(session: Session, slug: str | None) -> Topic | None:
    if not slug:
        return None
    topic = session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise Invalid.one("topic", "topic.unknown", value=slug)
    return topic


def _duration(duration_min: int) -> timedelta:
    if duration_min not in DURATIONS_MIN:
        raise Invalid.one("duration_min", "duration.not_allowed", choices=", ".join(map(str, DURATIONS_MIN)))
    return timedelta(minutes=duration_min)


def _check_new_visit(firm: FirmDetails, message: str, *, need_contact: bool) -> tuple[list[Problem], str]:
    """The problems of a new visit's input (firm, message) and the cleaned message."""
    problems = validate_firm(firm, need_contact=need_contact)
    message = clean_text(message)
    if len(message) > MAX_MESSAGE_LENGTH:
        problems.append(Problem("message", "message.too_long", {"length": len(message), "max": MAX_MESSAGE_LENGTH}))
    if firm.lat is None and not any(problem.field == "firm.address" for problem in problems):
        problems.append(Problem("firm.address", "firm.address_not_found"))
    return problems, message


def _new_visit(session: Session, partner: Partner, start: datetime, duration: timedelta, firm: FirmDetails,
               topic: Topic | None, message: str, **fields) -> tuple[Visit, str]:
    """An unsaved visit with the firm's details and a fresh private manage token (returned in plain)."""
    plain = secrets.token_urlsafe(32)
    visit = Visit(partner_id=partner.id, firm_name=firm.name, firm_address=firm.address, firm_lat=firm.lat,
                  firm_lon=firm.lon, contact_name=firm.contact, contact_email=firm.email,
                  contact_phone=firm.phone, topic=topic, message=message,
                  manage_token_hash=token_hash(plain), start_at=start, end_at=start + duration, **fields)
    return visit, plain


def _insert(session: Session, partner: Partner, visit: Visit, now: datetime, settings: Settings, *,
            require_offered: bool, actor, action: str) -> None:
    duration = visit.end_at - visit.start_at
    _place(session, partner, visit, visit.start_at, duration, now, settings, require_offered=require_offered)
    session.add(visit)
    _flush_or_conflict(session, partner, visit, now, settings)
    record(session, actor=actor, entity=visit, action=action, before=None, after=visit_snapshot(visit),
           entity_label=f"Termin {visit.firm_name}")


def request_visit(session: Session, partner: Partner, start: datetime, duration_min: int, firm: FirmDetails,
                  topic_slug: str | None, message: str, now: datetime, settings: Settings) -> tuple[Visit, str]:
    """A firm asks for a visit at an offered slot; returns the visit and the private manage token (shown once)."""
    problems, message = _check_new_visit(firm, message, need_contact=True)
    if partner.is_archived:
        problems.append(Problem("partner_id", "partner.archived"))
    if problems:
        raise Invalid(problems)
    visit, plain = _new_visit(session, partner, start, _duration(duration_min), firm, _topic(session, topic_slug),
                              message, status="requested", requested_by="firm",
                              expires_at=now + settings.request_ttl)
    _insert(session, partner, visit, now, settings, require_offered=True, actor=None, action="request")
    return visit, plain


def book_visit(session: Session, partner: Partner, actor, start: datetime, duration_min: int, firm: FirmDetails,
               topic_slug: str | None, message: str, now: datetime, settings: Settings) -> Visit:
    """A coach books a confirmed visit directly (outside working hours allowed, never overlapping)."""
    if actor is None or not can_manage_partner_visits(actor, partner):
        raise NotAllowed("partner")
    problems, message = _check_new_visit(firm, message, need_contact=False)
    if problems:
        raise Invalid(problems)
    visit, _plain = _new_visit(session, partner, start, _duration(duration_min), firm, _topic(session, topic_slug),
                               message, status="confirmed", requested_by="coach")
    _insert(session, partner, visit, now, settings, require_offered=False, actor=actor, action="book")
    return visit


def can_manage_partner_visits(user, partner: Partner) -> bool:
    """A coach manages the visits of their own listing; admins may help out."""
    return bool(user is not None and user.is_active and (user.is_admin or user.partner_id == partner.id))


def visit_snapshot(visit: Visit) -> dict:
    return {
        "status": visit.status,
        # In UTC, so a value set by a caller in another zone reads like the one loaded from the database.
        "start_at": visit.start_at.astimezone(UTC).isoformat() if visit.start_at else None,
        "end_at": visit.end_at.astimezone(UTC).isoformat() if visit.end_at else None,
        "firm_name": visit.firm_name,
        "firm_address": visit.firm_address,
        "contact_name": visit.contact_name,
        "contact_email": visit.contact_email,
        "contact_phone": visit.contact_phone,
        "sequence": visit.sequence,
        "took_place": visit.took_place,
    }


def _change(session: Session, visit: Visit, actor, action: str, before: dict, note: str = "") -> None:
    session.flush()
    record(session, actor=actor, entity=visit, action=action, before=before, after=visit_snapshot(visit),
           note=note, entity_label=f"Termin {visit.firm_name}")


def current_status(session: Session, visit: Visit, now: datetime) -> str:
    """The visit's state at now: unanswered requests past their expiry are written down as expired first.

    Every state change starts here, so an expired request can be neither confirmed, declined,
    moved nor cancelled (which would revive it or report a misleading change to the firm).
    """
    expire_requests(session, visit.partner_id, now)
    session.refresh(visit)
    return visit.status


def confirm_visit(session: Session, visit: Visit, actor, now: datetime, settings: Settings) -> Visit:
    if not can_manage_partner_visits(actor, visit.partner):
        raise NotAllowed("visit")
    if current_status(session, visit, now) != "requested":
        raise NotAllowed("state")
    before = visit_snapshot(visit)
    # Confirming is a write path too: the slot is re-checked (not the offer rules: the coach decides).
    _place(session, visit.partner, visit, visit.start_at, visit.end_at - visit.start_at,
           now, settings, require_offered=False)
    visit.status = "confirmed"
    visit.expires_at = None
    visit.sequence += 1
    _flush_or_conflict(session, visit.partner, visit, now, settings)
    _change(session, visit, actor, "confirm", before)
    return visit


def decline_visit(session: Session, visit: Visit, actor, reason: str, now: datetime) -> Visit:
    if not can_manage_partner_visits(actor, visit.partner):
        raise NotAllowed("visit")
    if current_status(session, visit, now) != "requested":
        raise NotAllowed("state")
    if not (reason or "").strip():
        raise Invalid.one("reason", "reason.missing")
    before = visit_snapshot(visit)
    visit.status = "declined"
    visit.decline_reason = clean_text(reason)[:2000]
    visit.sequence += 1
    _change(session, visit, actor, "decline", before, note=visit.decline_reason)
    return visit


def reschedule_visit(session: Session, visit: Visit, new_start: datetime, now: datetime, settings: Settings, *,
                     actor=None, by_firm: bool = False) -> Visit:
    """Move an active visit; a firm's move of a confirmed visit needs the coach's confirmation again."""
    if not by_firm and not can_manage_partner_visits(actor, visit.partner):
        raise NotAllowed("visit")
    if current_status(session, visit, now) not in ACTIVE_STATES:
        raise NotAllowed("state")
    before = visit_snapshot(visit)
    duration = visit.end_at - visit.start_at
    _place(session, visit.partner, visit, new_start, duration, now, settings, require_offered=by_firm)
    if by_firm:
        visit.status = "requested"
        visit.expires_at = now + settings.request_ttl
    visit.sequence += 1
    _flush_or_conflict(session, visit.partner, visit, now, settings)
    _change(session, visit, actor, "reschedule", before)
    return visit


def cancel_visit(session: Session, visit: Visit, now: datetime, *, actor=None, by_firm: bool = False) -> Visit:
    if not by_firm and not can_manage_partner_visits(actor, visit.partner):
        raise NotAllowed("visit")
    if current_status(session, visit, now) not in ACTIVE_STATES:
        raise NotAllowed("state")
    before = visit_snapshot(visit)
    visit.status = "cancelled"
    visit.cancelled_at = now
    visit.sequence += 1
    _change(session, visit, actor, "cancel", before, note="durch die Firma" if by_firm else "")
    return visit


def record_outcome(session: Session, visit: Visit, actor, took_place: bool, notes: str, now: datetime) -> Visit:
    if not can_manage_partner_visits(actor, visit.partner):
        raise NotAllowed("visit")
    if visit.status != "confirmed" or visit.start_at > now:
        raise NotAllowed("state")
    before = visit_snapshot(visit)
    visit.took_place = took_place
    visit.outcome_notes = clean_text(notes)[:5000]
    _change(session, visit, actor, "outcome", before)
    return visit


def visit_by_manage_token(session: Session, token: str) -> Visit | None:
    if not token or len(token) > 200:
        return None
    return session.scalar(select(Visit).where(Visit.manage_token_hash == token_hash(token)))


def rotate_feed_token(session: Session, partner: Partner, actor=None) -> str:
    """A new secret for the coach's calendar feed (audited); the old URL stops working at once."""
    profile = ensure_profile(session, partner)
    plain = secrets.token_urlsafe(32)
    profile.feed_token_hash = token_hash(plain)
    session.flush()
    record(session, actor=actor, entity=profile, action="feed_rotate", before=None, after=None,
           entity_label=f"Kalender-Abo {partner.name}")
    return plain


def partner_by_feed_token(session: Session, token: str) -> Partner | None:
    if not token or len(token) > 200:
        return None
    profile = session.scalar(select(SchedulingProfile).where(SchedulingProfile.feed_token_hash == token_hash(token)))
    return profile.partner if profile is not None else None


def feed_visits(session: Session, partner: Partner, now: datetime) -> list[Visit]:
    """Active visits, and ended ones of the last FEED_KEEP_DAYS days so subscribed clients remove them."""
    cutoff = now - timedelta(days=FEED_KEEP_DAYS)
    return list(session.scalars(
        select(Visit).where(
            Visit.partner_id == partner.id,
            (Visit.status.in_(ACTIVE_STATES)) | and_(func.coalesce(Visit.cancelled_at, Visit.updated_at) >= cutoff),
        ).order_by(Visit.start_at)
    ))
