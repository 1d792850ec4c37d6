"""When a coach can be booked: weekly working hours, home base, notice and horizon, absences — validated and audited.

Write paths flush only; the caller wraps them in locking.booking_transaction (the slot
checks of concurrent bookings read what is written here). Invalid input raises
BookingInvalid with the form field as key; the messages are translated here because
the coach's pages showed them translated before these rules left the views.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from network.audit import record
from network.directory.models import Partner
from network.geo.geocoding import GeocodeNotFound
from network.scheduling.booking import BookingInvalid, NotAllowed, ensure_profile
from network.scheduling.localtime import local_day_bounds, minutes_text, parse_clock, parse_day, to_local
from network.scheduling.models import AbsenceReason, ACTIVE_STATES, Absence, SchedulingProfile, Visit, WorkingHours

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


def _day_intervals(pairs: Sequence[tuple[str, str]]) -> tuple[list[tuple[int, int]], list[str]]:
    """One weekday's typed pairs -> (sorted intervals in minutes, problems)."""
    intervals, problems = [], []
    if len(pairs) > MAX_INTERVALS_PER_DAY:
        problems.append(_("Höchstens %(n)d Zeiträume pro Tag.", n=MAX_INTERVALS_PER_DAY))
    for raw_start, raw_end in pairs[:MAX_INTERVALS_PER_DAY]:
        raw_start, raw_end = (raw_start or "").strip(), (raw_end or "").strip()
        if not raw_start or not raw_end:
            problems.append(_("Bitte geben Sie Beginn und Ende an."))
            continue
        start, end = parse_clock(raw_start), parse_clock(raw_end)
        if start is None or end is None:
            problems.append(_("„%(value)s“ ist keine Uhrzeit (z. B. 08:30).",
                              value=raw_start if start is None else raw_end))
        elif end <= start:
            problems.append(_("Das Ende (%(end)s) muss nach dem Beginn (%(start)s) liegen.",
                              start=raw_start, end=raw_end))
        else:
            intervals.append((start, end))
    intervals.sort()
    for previous, current in zip(intervals, intervals[1:]):
        if current[0] < previous[1]:
            problems.append(_("Die Zeiten %(a)s und %(b)s überschneiden sich.",
                              a=f"{minutes_text(previous[0])}–{minutes_text(previous[1])}",
                              b=f"{minutes_text(current[0])}–{minutes_text(current[1])}"))
    return intervals, problems


def _whole_number(raw: str | int, low: int, high: int) -> int | None:
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()):  # "²".isdigit() is True, int("²") is not
        return None
    value = int(text)
    return value if low <= value <= high else None


def with_suggestions(message: str, exc: GeocodeNotFound) -> str:
    """A not-found message followed by the geocoder's suggestions, if it has any."""
    if exc.suggestions:
        message += " " + _("Meinten Sie: %(s)s?", s=", ".join(exc.suggestions[:5]))
    return message


def _home(session: Session, partner: Partner, address: str, geocoder, errors: dict[str, str]):
    """The home base's coordinates: the stored ones while the address is unchanged, else geocoded."""
    current = profile_or_defaults(session, partner)
    if len(address) > 300:
        errors["home_address"] = _("Die Adresse ist zu lang (höchstens 300 Zeichen).")
    elif not address:
        errors["home_address"] = _("Bitte geben Sie die Adresse Ihres Dienstorts an; dort beginnen die Fahrten.")
    elif address != current.home_address or current.home_lat is None:
        try:
            place = geocoder.geocode(address)
        except GeocodeNotFound as exc:
            errors["home_address"] = with_suggestions(
                _("Die Adresse wurde nicht gefunden. Bitte mit Postleitzahl angeben."), exc)
        else:
            return place.lat, place.lon
    return current.home_lat, current.home_lon


def check_working_hours(session: Session, partner: Partner, hours: TypedHours, *, home_address: str,
                        min_notice_hours: str | int, horizon_weeks: str | int, geocoder) -> WeeklyPlan:
    """Check what the coach typed (errors keyed h<weekday> and by field); geocodes a changed home address.

    Runs before the booking transaction, so the geocoder is not asked while the coach's bookings wait.
    """
    errors: dict[str, str] = {}
    intervals: list[tuple[int, int, int]] = []
    for day in range(7):
        day_intervals, problems = _day_intervals(hours.get(day, ()))
        if problems:
            errors[f"h{day}"] = " ".join(problems)
        intervals.extend((day, start, end) for start, end in day_intervals)
    notice = _whole_number(min_notice_hours, 0, 720)
    if notice is None:
        errors["min_notice_hours"] = _("Bitte eine ganze Zahl von 0 bis 720 Stunden angeben.")
    weeks = _whole_number(horizon_weeks, 1, 52)
    if weeks is None:
        errors["horizon_weeks"] = _("Bitte eine ganze Zahl von 1 bis 52 Wochen angeben.")
    home_address = home_address.strip()
    home = _home(session, partner, home_address, geocoder, errors)
    if errors:
        raise BookingInvalid(errors)
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


def _absence_days(raw_first, raw_last, errors: dict[str, str]) -> tuple[date | None, date | None]:
    """The first and last day (a missing end means one day); errors name start_date or end_date."""
    first = _typed_day(raw_first)
    if first is None:
        errors["start_date"] = _("Bitte geben Sie ein gültiges Datum an (z. B. 01.12.2026).")
    last = _typed_day(raw_last) if raw_last else first
    if raw_last and last is None:
        errors["end_date"] = _("Bitte geben Sie ein gültiges Datum an (z. B. 01.12.2026).")
    if first is not None and last is not None:
        if last < first:
            errors["end_date"] = _("Das Ende darf nicht vor dem Beginn liegen.")
        elif (last - first).days > MAX_ABSENCE_DAYS:
            errors["end_date"] = _("Eine Abwesenheit darf höchstens ein Jahr lang sein.")
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
    errors: dict[str, str] = {}
    first, last = _absence_days(start_date, end_date, errors)
    if reason not in ABSENCE_REASONS:
        errors["reason"] = _("Bitte wählen Sie einen Grund aus der Liste.")
    note = (note or "").strip()
    if len(note) > 200:
        errors["note"] = _("Die Notiz ist zu lang (höchstens 200 Zeichen).")
    if "start_date" not in errors and "end_date" not in errors:
        existing = _overlapping(session, partner, first, last)
        if existing is not None:
            errors["start_date"] = _("Vom %(first)s bis %(last)s sind Sie bereits als abwesend eingetragen.",
                                     first=f"{existing.start_date:%d.%m.%Y}", last=f"{existing.end_date:%d.%m.%Y}")
    if errors:
        raise BookingInvalid(errors)
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
