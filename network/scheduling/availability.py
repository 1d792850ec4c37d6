"""When a coach can be booked: weekly working hours, home base, notice and horizon, absences — validated and audited.

Write paths flush only; the caller wraps them in locking.booking_transaction (the slot
checks of concurrent bookings read what is written here). Invalid input raises
network.problems.Invalid naming the form field (h<weekday>, home_address, start_date, …) with a code;
the words are the "error" labels in scheduling/messages.py.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from network.audit import record
from network.directory.models import Partner
from network.geo.geocoding import GeocodeNotFound
from network.problems import Invalid, Problem
from network.scheduling.booking import NotAllowed, ensure_profile
from network.scheduling.localtime import local_day_bounds, minutes_text, parse_clock, parse_day, to_local
from network.scheduling.models import ACTIVE_STATES, Absence, AbsenceReason, SchedulingProfile, Visit, WorkingHours

MAX_INTERVALS_PER_DAY = 6
ABSENCE_REASONS = tuple(AbsenceReason)
MAX_ABSENCE_DAYS = 365

# weekday (0 = Monday) -> the (start, end) pairs as typed, e.g. {0: [("08:00", "12:00"), ("13:00", "17:00")]}
TypedHours = Mapping[int, Sequence[tuple[str, str]]]


@dataclass
class WeeklyPlan:
    """Checked working hours and booking rules, ready to save."""

    intervals: list[tuple[int, int, int]]  # (weekday, start minute, end minute), sorted
    home_address: str
    home: tuple[float | None, float | None]
    min_notice_hours: int
    horizon_days: int


# ---------------------------------------------------------------- reading


def profile_or_defaults(session: Session, partner: Partner) -> SchedulingProfile:
    """The saved profile, or an unsaved one with the defaults (a read must not write)."""
    profile = session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
    if profile is not None:
        return profile
    return SchedulingProfile(partner_id=partner.id, home_address=partner.address, home_lat=partner.latitude,
                             home_lon=partner.longitude, min_notice_hours=24, horizon_days=56)


def weekly_hours(session: Session, partner: Partner) -> list[tuple[int, int, int]]:
    """The stored intervals as (weekday, start minute, end minute), by day and start."""
    return [(h.weekday, h.start_minute, h.end_minute) for h in session.scalars(
        select(WorkingHours).where(WorkingHours.partner_id == partner.id)
        .order_by(WorkingHours.weekday, WorkingHours.start_minute))]


def visits_during(session: Session, partner: Partner, first: date, last: date) -> list[Visit]:
    """Active visits on the Berlin days first..last (inclusive): the ones an absence leaves stranded."""
    start, _unused = local_day_bounds(first)
    _unused, end = local_day_bounds(last)
    return list(session.scalars(select(Visit).where(
        Visit.partner_id == partner.id, Visit.status.in_(ACTIVE_STATES), Visit.start_at < end, Visit.end_at > start)
        .order_by(Visit.start_at)))


def absences_overview(session: Session, partner: Partner, now: datetime
                      ) -> tuple[list[Absence], list[Absence], dict[int, list[Visit]]]:
    """(current and coming absences, the last 20 past ones, visits stranded in each coming one by absence id)."""
    today = to_local(now).date()
    upcoming = list(session.scalars(select(Absence).where(
        Absence.partner_id == partner.id, Absence.end_date >= today).order_by(Absence.start_date)))
    past = list(session.scalars(select(Absence).where(
        Absence.partner_id == partner.id, Absence.end_date < today).order_by(Absence.start_date.desc()).limit(20)))
    clashes = {a.id: visits_during(session, partner, a.start_date, a.end_date) for a in upcoming}
    return upcoming, past, clashes


# ---------------------------------------------------------------- working hours and home base


def _day_intervals(day: int, pairs: Sequence[tuple[str, str]]) -> tuple[list[tuple[int, int]], list[Problem]]:
    """One weekday's typed pairs -> (sorted intervals in minutes, problems naming h<day>)."""
    field = f"h{day}"
    intervals: list[tuple[int, int]] = []
    problems: list[Problem] = []
    if len(pairs) > MAX_INTERVALS_PER_DAY:
        problems.append(Problem(field, "hours.too_many_intervals", {"n": MAX_INTERVALS_PER_DAY}))
    for raw_start, raw_end in pairs[:MAX_INTERVALS_PER_DAY]:
        raw_start, raw_end = (raw_start or "").strip(), (raw_end or "").strip()
        if not raw_start or not raw_end:
            problems.append(Problem(field, "hours.start_end_missing"))
            continue
        start, end = parse_clock(raw_start), parse_clock(raw_end)
        if start is None or end is None:
            problems.append(Problem(field, "hours.not_a_time", {"value": raw_start if start is None else raw_end}))
        elif end <= start:
            problems.append(Problem(field, "hours.end_before_start", {"start": raw_start, "end": raw_end}))
        else:
            intervals.append((start, end))
    intervals.sort()
    for previous, current in zip(intervals, intervals[1:], strict=False):
        if current[0] < previous[1]:
            problems.append(Problem(field, "hours.overlap", {
                "a": f"{minutes_text(previous[0])}–{minutes_text(previous[1])}",
                "b": f"{minutes_text(current[0])}–{minutes_text(current[1])}"}))
    return intervals, problems


def _whole_number(raw: str | int, low: int, high: int) -> int | None:
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() is True, int("²") is not
        return None
    value = int(text)
    return value if low <= value <= high else None


def _home(session: Session, partner: Partner, address: str, geocoder, problems: list[Problem]):
    """The home base's coordinates: the stored ones while the address is unchanged, else geocoded."""
    current = profile_or_defaults(session, partner)
    if len(address) > 300:
        problems.append(Problem("home_address", "home_address.too_long", {"max": 300}))
    elif not address:
        problems.append(Problem("home_address", "home_address.missing"))
    elif address != current.home_address or current.home_lat is None:
        try:
            place = geocoder.geocode(address)
        except GeocodeNotFound as exc:
            if exc.suggestions:
                problems.append(Problem("home_address", "home_address.not_found_suggestions",
                                        {"places": ", ".join(exc.suggestions[:5])}))
            else:
                problems.append(Problem("home_address", "home_address.not_found"))
        else:
            return place.lat, place.lon
    return current.home_lat, current.home_lon


def check_working_hours(session: Session, partner: Partner, hours: TypedHours, *, home_address: str,
                        min_notice_hours: str | int, horizon_weeks: str | int, geocoder) -> WeeklyPlan:
    """Check what the coach typed (errors keyed h<weekday> and by field); geocodes a changed home address.

    Runs before the booking transaction, so the geocoder is not asked while the coach's bookings wait.
    """
    problems: list[Problem] = []
    intervals: list[tuple[int, int, int]] = []
    for day in range(7):
        day_intervals, day_problems = _day_intervals(day, hours.get(day, ()))
        problems += day_problems
        intervals.extend((day, start, end) for start, end in day_intervals)
    notice = _whole_number(min_notice_hours, 0, 720)
    if notice is None:
        problems.append(Problem("min_notice_hours", "notice.out_of_range", {"min": 0, "max": 720}))
    weeks = _whole_number(horizon_weeks, 1, 52)
    if weeks is None:
        problems.append(Problem("horizon_weeks", "horizon.out_of_range", {"min": 1, "max": 52}))
    home_address = home_address.strip()
    home = _home(session, partner, home_address, geocoder, problems)
    if problems:
        raise Invalid(problems)
    return WeeklyPlan(intervals, home_address, home, notice, weeks * 7)


def _plan_snapshot(hours: list[tuple[int, int, int]], profile: SchedulingProfile) -> dict:
    return {"hours": [list(h) for h in hours], "home_address": profile.home_address,
            "min_notice_hours": profile.min_notice_hours, "horizon_days": profile.horizon_days}


def save_working_hours(session: Session, partner: Partner, plan: WeeklyPlan, *, actor) -> SchedulingProfile:
    """Replace the coach's weekly hours and rules with a checked plan; one audit row. Existing visits stay."""
    profile = ensure_profile(session, partner)
    before = _plan_snapshot(weekly_hours(session, partner), profile)
    for item in session.scalars(select(WorkingHours).where(WorkingHours.partner_id == partner.id)):
        session.delete(item)
    for day, start, end in plan.intervals:
        session.add(WorkingHours(partner_id=partner.id, weekday=day, start_minute=start, end_minute=end))
    profile.home_address = plan.home_address
    profile.home_lat, profile.home_lon = plan.home
    profile.min_notice_hours = plan.min_notice_hours
    profile.horizon_days = plan.horizon_days
    session.flush()
    record(session, actor=actor, entity=profile, action="working_hours", before=before,
           after=_plan_snapshot(plan.intervals, profile), entity_label=f"Arbeitszeiten {partner.name}")
    return profile


# ---------------------------------------------------------------- absences


def _typed_day(raw: str | date | None) -> date | None:
    return raw if isinstance(raw, date) else parse_day(raw)


def _absence_days(raw_first, raw_last, problems: list[Problem]) -> tuple[date | None, date | None]:
    """The first and last day (a missing end means one day); errors name start_date or end_date."""
    first = _typed_day(raw_first)
    if first is None:
        problems.append(Problem("start_date", "absence.date_invalid"))
    last = _typed_day(raw_last) if raw_last else first
    if raw_last and last is None:
        problems.append(Problem("end_date", "absence.date_invalid"))
    if first is not None and last is not None:
        if last < first:
            problems.append(Problem("end_date", "absence.end_before_start"))
        elif (last - first).days > MAX_ABSENCE_DAYS:
            problems.append(Problem("end_date", "absence.too_long"))
    return first, last


def _overlapping(session: Session, partner: Partner, first: date, last: date) -> Absence | None:
    return session.scalar(select(Absence).where(
        Absence.partner_id == partner.id, Absence.start_date <= last, Absence.end_date >= first)
        .order_by(Absence.start_date).limit(1))


def _absence_snapshot(absence: Absence) -> dict:
    return {"start_date": absence.start_date.isoformat(), "end_date": absence.end_date.isoformat(),
            "reason": absence.reason}


def add_absence(session: Session, partner: Partner, *, start_date: str | date, end_date: str | date | None,
                reason: str, note: str, actor) -> Absence:
    """Record whole days away (dates ISO or dd.mm.yyyy, inclusive); refuses a range that overlaps another one."""
    problems: list[Problem] = []
    first, last = _absence_days(start_date, end_date, problems)
    if reason not in ABSENCE_REASONS:
        problems.append(Problem("reason", "absence.reason_unknown"))
    note = (note or "").strip()
    if len(note) > 200:
        problems.append(Problem("note", "absence.note_too_long", {"max": 200}))
    if not problems or all(p.field not in ("start_date", "end_date") for p in problems):
        existing = _overlapping(session, partner, first, last)
        if existing is not None:
            problems.append(Problem("start_date", "absence.overlap", {
                "first": f"{existing.start_date:%d.%m.%Y}", "last": f"{existing.end_date:%d.%m.%Y}"}))
    if problems:
        raise Invalid(problems)
    ensure_profile(session, partner)
    absence = Absence(partner_id=partner.id, start_date=first, end_date=last, reason=reason, note=note)
    session.add(absence)
    session.flush()
    record(session, actor=actor, entity=absence, action="create", before=None, after=_absence_snapshot(absence),
           entity_label=f"Abwesenheit {partner.name}")
    return absence


def delete_absence(session: Session, partner: Partner, absence_id: int, *, actor) -> Absence | None:
    """Delete one of the coach's absences (audited); None when there is none, NotAllowed for someone else's."""
    absence = session.get(Absence, absence_id)
    if absence is None:
        return None
    if absence.partner_id != partner.id:
        raise NotAllowed("absence")
    record(session, actor=actor, entity=absence, action="delete", before=_absence_snapshot(absence), after=None,
           entity_label=f"Abwesenheit {partner.name}")
    session.delete(absence)
    session.flush()
    return absence
