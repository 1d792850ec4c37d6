"""Free visit slots and the booking rules behind them: working hours, absences, notice, horizon and travel time.

Pure functions: no Flask, no database. Instants are timezone-aware UTC datetimes;
working hours and absences are Berlin wall-clock values.

Travel rule (documented in docs/scheduling.md):
  travel(a, b) = 0 when a and b are the same place (closer than 50 m: back-to-back at one firm);
               = buffer when either place is unknown;
               = great-circle km × road_factor / speed_kmh (in minutes) + buffer otherwise.
A visit [s, e) at firm F fits when
  - it overlaps no active visit,
  - the previous active visit P of the same Berlin day ends early enough: P.end + travel(P, F) <= s,
    or, with no earlier visit that day, the coach leaves home at the start of the working
    interval: interval.start + travel(home, F) <= s,
  - the next active visit N of the same day can still be reached: e + travel(F, N) <= N.start.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from network.geo.distance import great_circle_km
from network.problems import Problem
from network.scheduling.localtime import BERLIN, exists_locally, to_local

Point = tuple[float, float]
SAME_PLACE_KM = 0.05


@dataclass(frozen=True)
class TravelRules:
    """How travel time is estimated; all configurable (SCHEDULING_* settings)."""

    road_factor: float = 1.3
    speed_kmh: float = 50.0
    buffer_min: float = 15.0

    def minutes(self, a: Point | None, b: Point | None) -> float:
        if a is None or b is None:
            return self.buffer_min
        km = great_circle_km(a[0], a[1], b[0], b[1])
        if km < SAME_PLACE_KM:
            return 0.0
        return km * self.road_factor / self.speed_kmh * 60.0 + self.buffer_min


@dataclass(frozen=True)
class Busy:
    """An active visit that blocks time: [start, end) and where it happens."""

    start: datetime
    end: datetime
    place: Point | None = None
    visit_id: int | None = None


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Schedule:
    """Everything the rules need about one coach."""

    working_hours: Sequence[tuple[int, int, int]]  # (weekday 0=Mon, start minute, end minute), Berlin time
    absences: Sequence[tuple[date, date]] = ()  # inclusive local days
    busy: Sequence[Busy] = ()
    home: Point | None = None
    min_notice: timedelta = timedelta(hours=24)
    horizon: timedelta = timedelta(days=56)


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


class SlotRejected(Exception):
    """Why a requested time does not fit: .problem (field "start", a "slot.*" code), .code for short.

    Not Invalid: the input is well-formed, the calendar refuses it (booking turns this into BookingConflict).
    """

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem
        self.code = problem.code


def _local_minute_to_utc(day: date, minute: int) -> datetime | None:
    """The UTC instant of a wall-clock minute on a Berlin day, None if that minute does not exist."""
    naive = datetime.combine(day, time(0)) + timedelta(minutes=minute)
    if not exists_locally(naive):
        return None
    return naive.replace(tzinfo=BERLIN, fold=0).astimezone(UTC)


def working_intervals(schedule: Schedule, day: date) -> list[Interval]:
    """The day's working intervals as UTC instants (none on absence days)."""
    for first, last in schedule.absences:
        if first <= day <= last:
            return []
    intervals = []
    for weekday, start_min, end_min in schedule.working_hours:
        if weekday != day.weekday() or end_min <= start_min:
            continue
        start = _local_minute_to_utc(day, start_min)
        end = _local_minute_to_utc(day, end_min)
        if start is None:  # begins in the skipped spring hour: starts when the clock resumes
            start = _local_minute_to_utc(day, 180)
        if end is None:
            end = _local_minute_to_utc(day, 180)
        if start is not None and end is not None and end > start:
            intervals.append(Interval(start, end))
    intervals.sort(key=lambda i: i.start)
    # Overlapping or touching entries (08-12 and 10-14, or 08-12 and 12-17) are one working interval:
    # otherwise the same start would be offered twice and the home rule would see two day starts.
    merged: list[Interval] = []
    for interval in intervals:
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return merged


class _Index:
    """Active visits sorted by start, for neighbour look-ups by bisection (visits never overlap)."""

    def __init__(self, busy: Iterable[Busy]) -> None:
        self.items = sorted(busy, key=lambda b: b.start)
        self.starts = [b.start for b in self.items]

    def neighbours(self, start: datetime) -> tuple[Busy | None, Busy | None]:
        j = bisect_right(self.starts, start)
        prev = self.items[j - 1] if j > 0 else None
        nxt = self.items[j] if j < len(self.items) else None
        return prev, nxt


def _same_local_day(a: datetime, b: datetime) -> bool:
    return to_local(a).date() == to_local(b).date()


def _check(index: _Index, start: datetime, end: datetime, place: Point | None, day_start: datetime | None,
           schedule: Schedule, rules: TravelRules) -> Problem | None:
    """None when [start, end) at place fits between the neighbours, else why not."""
    prev, nxt = index.neighbours(start)
    if prev is not None and prev.end > start:
        return Problem("start", "slot.overlap")
    if nxt is not None and nxt.start < end:
        return Problem("start", "slot.overlap")
    if prev is not None and _same_local_day(prev.end, start):
        if prev.end + timedelta(minutes=rules.minutes(prev.place, place)) > start:
            return Problem("start", "slot.travel_before")
    elif day_start is not None and schedule.home is not None:
        if day_start + timedelta(minutes=rules.minutes(schedule.home, place)) > start:
            return Problem("start", "slot.travel_from_home")
    if nxt is not None and _same_local_day(nxt.start, end):
        if end + timedelta(minutes=rules.minutes(place, nxt.place)) > nxt.start:
            return Problem("start", "slot.travel_after")
    return None


def free_slots(schedule: Schedule, first_day: date, days: int, duration: timedelta, now: datetime,
               place: Point | None = None, rules: TravelRules = TravelRules(),
               step: timedelta = timedelta(minutes=30)) -> list[Slot]:
    """Every start (on the step grid of each working interval) where a visit of `duration` fits."""
    index = _Index(schedule.busy)
    earliest = now + schedule.min_notice
    latest = now + schedule.horizon
    slots: list[Slot] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for interval in working_intervals(schedule, day):
            start = interval.start
            while start + duration <= interval.end:
                if earliest <= start <= latest:
                    end = start + duration
                    if _check(index, start, end, place, interval.start, schedule, rules) is None:
                        slots.append(Slot(start, end))
                start += step
    return slots


def check_visit(schedule: Schedule, start: datetime, end: datetime, now: datetime, place: Point | None = None,
                rules: TravelRules = TravelRules(), *, require_offered: bool = True) -> None:
    """Raise SlotRejected unless [start, end) at place fits the rules.

    require_offered: firm requests must lie inside working hours, notice and horizon;
    a coach booking directly may go outside them, but never overlaps or breaks travel time.
    """
    day = to_local(start).date()
    interval = None
    for candidate in working_intervals(schedule, day):
        if candidate.start <= start and end <= candidate.end:
            interval = candidate
            break
    if start < now:
        raise SlotRejected(Problem("start", "slot.in_past"))
    if require_offered:
        if any(first <= day <= last for first, last in schedule.absences):
            raise SlotRejected(Problem("start", "slot.absent"))
        if interval is None:
            raise SlotRejected(Problem("start", "slot.outside_hours"))
        if start < now + schedule.min_notice:
            raise SlotRejected(Problem("start", "slot.too_soon"))
        if start > now + schedule.horizon:
            raise SlotRejected(Problem("start", "slot.too_late"))
    day_start = interval.start if interval is not None else None
    problem = _check(_Index(schedule.busy), start, end, place, day_start, schedule, rules)
    if problem is not None:
        raise SlotRejected(problem)
