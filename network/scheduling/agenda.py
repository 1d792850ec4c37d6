"""What a coach's calendar shows: visits per filter, open requests, suggested free times, the feed's visits."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from network.directory.models import Kind, Partner
from network.scheduling.booking import FEED_KEEP_DAYS, Settings, feed_visits, load_schedule
from network.scheduling.localtime import local_day_bounds, to_local
from network.scheduling.models import ACTIVE_STATES, Absence, Visit, VisitStatus, WorkingHours
from network.scheduling.slots import Slot, free_slots

SCHEDULING_KINDS = ("innovationscoach", "technologiescout")
CALENDAR_FILTERS = ("", "requested", "confirmed", "outcome", "done", "declined", "cancelled", "expired", "all")
SUGGEST_DAYS = 14
SUGGEST_COUNT = 12


def _open_request(now: datetime):
    """SQL: a request still waiting for the coach's answer (its expiry not reached)."""
    return Visit.status_at(now) == VisitStatus.REQUESTED


@dataclass
class Calendar:
    """One coach's calendar page: the filtered visits, past ones awaiting an outcome, and what to point out."""

    visits: list[Visit]
    awaiting: list[Visit]
    open_requests: int
    has_hours: bool
    absences: list[Absence]


def calendar(session: Session, partner: Partner, status: str, now: datetime) -> Calendar:
    """The calendar for a filter of CALENDAR_FILTERS (anything else counts as the default, "")."""
    visits, awaiting = calendar_rows(session, partner, status if status in CALENDAR_FILTERS else "", now)
    open_requests = session.scalar(select(func.count(Visit.id)).where(
        Visit.partner_id == partner.id, _open_request(now), Visit.end_at > now)) or 0
    has_hours = session.scalar(select(WorkingHours.id).where(WorkingHours.partner_id == partner.id).limit(1))
    absences = list(session.scalars(select(Absence).where(
        Absence.partner_id == partner.id, Absence.end_date >= to_local(now).date())
        .order_by(Absence.start_date).limit(5)))
    return Calendar(visits, awaiting, open_requests, has_hours is not None, absences)


def calendar_rows(session: Session, partner: Partner, status: str, now: datetime) -> tuple[list[Visit], list[Visit]]:
    """(main list, past visits awaiting an outcome) for the chosen filter."""
    base = select(Visit).where(Visit.partner_id == partner.id)
    awaiting = list(session.scalars(
        base.where(Visit.status == "confirmed", Visit.start_at < now, Visit.took_place.is_(None))
        .order_by(Visit.start_at.desc()).limit(200)))
    open_request = _open_request(now)
    if status == "":
        upcoming_active = base.where(Visit.end_at > now, (Visit.status == "confirmed") | open_request)
        return list(session.scalars(upcoming_active.order_by(Visit.start_at))), awaiting
    if status == "outcome":
        return awaiting, []
    if status == "all":  # upcoming first (soonest first), then the past (latest first)
        upcoming = list(session.scalars(base.where(Visit.end_at > now).order_by(Visit.start_at)))
        past = list(session.scalars(base.where(Visit.end_at <= now).order_by(Visit.start_at.desc()).limit(500)))
        return upcoming + past, []
    if status == "requested":
        rows = base.where(open_request).order_by(Visit.start_at)
    elif status == "confirmed":
        rows = base.where(Visit.status == "confirmed", Visit.end_at > now).order_by(Visit.start_at)
    elif status == "done":
        rows = base.where(Visit.status == "confirmed", Visit.took_place.is_not(None)).order_by(Visit.start_at.desc())
    elif status == "expired":
        rows = base.where(Visit.status_at(now) == VisitStatus.EXPIRED).order_by(Visit.start_at.desc())
    else:  # declined, cancelled
        rows = base.where(Visit.status == status).order_by(Visit.start_at.desc())
    return list(session.scalars(rows.limit(500))), []


def coaches_with_open_requests(session: Session, now: datetime) -> tuple[list[Partner], dict[int, int]]:
    """The listings that keep a calendar (for an admin's chooser) and their open requests by partner id."""
    open_counts = dict(session.execute(
        select(Visit.partner_id, func.count(Visit.id)).where(_open_request(now), Visit.end_at > now)
        .group_by(Visit.partner_id)).all())
    partners = list(session.scalars(
        select(Partner).join(Partner.kind).where(Kind.slug.in_(SCHEDULING_KINDS), Partner.is_archived.is_(False))
        .order_by(Partner.sort_name)))
    return partners, open_counts


def suggested_slots(session: Session, partner: Partner, now: datetime, settings: Settings,
                    duration_min: int = 60) -> list[Slot]:
    """Free hours of the next two weeks for the coach's own booking form (no travel to an unknown firm)."""
    first_day = to_local(now).date()
    start, _unused = local_day_bounds(first_day)
    _unused, end = local_day_bounds(first_day + timedelta(days=SUGGEST_DAYS))
    schedule = load_schedule(session, partner, start, end, now=now)
    # The coach may book at short notice (the firms' notice would hide tomorrow); an hour ahead is enough to suggest.
    schedule = replace(schedule, min_notice=timedelta(hours=1))
    slots = free_slots(schedule, first_day, SUGGEST_DAYS, timedelta(minutes=duration_min), now, None, settings.rules,
                       step=timedelta(minutes=60))
    return slots[:SUGGEST_COUNT]


def _ended_at(visit: Visit, status: str) -> datetime:
    """When a visit stopped being active: its cancellation, its expiry, else its last change (a decline)."""
    if status == "cancelled" and visit.cancelled_at is not None:
        return visit.cancelled_at
    if status == "expired" and visit.expires_at is not None:
        return visit.expires_at
    return visit.updated_at


def feed_entries(session: Session, partner: Partner, now: datetime) -> list[tuple[Visit, str]]:
    """(visit, state at now) for the subscribed calendar: active visits, ended ones for FEED_KEEP_DAYS more."""
    cutoff = now - timedelta(days=FEED_KEEP_DAYS)
    entries = []
    for visit in feed_visits(session, partner, now):
        status = visit.status_at(now)
        if status in ACTIVE_STATES or _ended_at(visit, status) >= cutoff:
            entries.append((visit, status))
    return entries
