"""Slot rules without a database: hours across DST, absences, notice, horizon, travel time, a brute-force reference."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from geopy.distance import great_circle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import berlin
from network.problems import Invalid
from network.scheduling.localtime import local_day_bounds, local_to_utc, to_local
from network.scheduling.slots import (
    SAME_PLACE_KM,
    Busy,
    Schedule,
    Slot,
    SlotRejected,
    TravelRules,
    check_visit,
    free_slots,
    working_intervals,
)

SLOT_CODES = {f"slot.{reason}" for reason in ("overlap", "travel_before", "travel_after", "travel_from_home",
                                              "outside_hours", "absent", "too_soon", "too_late", "in_past")}
H = timedelta(hours=1)
M = timedelta(minutes=1)
EVERY_DAY = tuple((weekday, 9 * 60, 17 * 60) for weekday in range(7))
MON_FRI = tuple((weekday, 8 * 60, 17 * 60) for weekday in range(5))
DORTMUND = (51.5136, 7.4653)
HAGEN = (51.3671, 7.4633)
BOCHUM = (51.4818, 7.2162)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
RULES = TravelRules()


def starts(slots: list[Slot]) -> list[str]:
    return [to_local(s.start).strftime("%H:%M%z") for s in slots]


def schedule(**kw) -> Schedule:
    kw.setdefault("working_hours", EVERY_DAY)
    return Schedule(**kw)


# --- travel formula ---------------------------------------------------------------------------------

def test_travel_minutes_follow_the_documented_formula():
    km = great_circle(DORTMUND, HAGEN).km  # geopy as the independent reference
    assert 16 < km < 17
    assert RULES.minutes(DORTMUND, HAGEN) == pytest.approx(km * 1.3 / 50 * 60 + 15, abs=1e-9)
    assert RULES.minutes(HAGEN, DORTMUND) == pytest.approx(RULES.minutes(DORTMUND, HAGEN))
    custom = TravelRules(road_factor=1.5, speed_kmh=30, buffer_min=5)
    assert custom.minutes(DORTMUND, HAGEN) == pytest.approx(km * 1.5 / 30 * 60 + 5, abs=1e-9)
    assert TravelRules().road_factor == 1.3 and TravelRules().speed_kmh == 50 and TravelRules().buffer_min == 15


def test_unknown_places_cost_the_buffer_and_the_same_place_costs_nothing():
    assert RULES.minutes(None, DORTMUND) == 15 and RULES.minutes(DORTMUND, None) == 15
    assert RULES.minutes(None, None) == 15
    assert RULES.minutes(DORTMUND, DORTMUND) == 0
    assert SAME_PLACE_KM == 0.05
    # ~40 m apart: one place (back-to-back at one firm); ~60 m apart: a trip with its buffer.
    near = (DORTMUND[0] + 0.00036, DORTMUND[1])
    apart = (DORTMUND[0] + 0.00054, DORTMUND[1])
    assert great_circle(DORTMUND, near).km < 0.05 < great_circle(DORTMUND, apart).km
    assert RULES.minutes(DORTMUND, near) == 0
    assert 15 < RULES.minutes(DORTMUND, apart) < 15.2


# --- working hours on DST days ---------------------------------------------------------------------

@pytest.mark.parametrize("day, utc_hour", [
    (date(2026, 3, 28), 8), (date(2026, 3, 29), 7), (date(2026, 3, 30), 7),
    (date(2026, 10, 24), 7), (date(2026, 10, 25), 8), (date(2026, 10, 26), 8),
    (date(2027, 3, 27), 8), (date(2027, 3, 28), 7), (date(2027, 10, 30), 7), (date(2027, 10, 31), 8),
])
def test_nine_oclock_local_is_the_right_utc_instant_around_every_change(day, utc_hour):
    slots = free_slots(schedule(), day, 1, H, local_day_bounds(day)[0] - timedelta(days=7))
    assert slots[0].start == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
    assert to_local(slots[0].start).strftime("%H:%M") == "09:00"
    assert to_local(slots[-1].end).strftime("%H:%M") == "17:00"
    assert len(slots) == 15  # 09:00 ... 16:00 every 30 minutes


@pytest.mark.parametrize("day, hours", [(date(2026, 3, 29), 5), (date(2027, 3, 28), 5),
                                        (date(2026, 10, 25), 7), (date(2027, 10, 31), 7)])
def test_working_hours_across_the_change_are_23_and_25_hour_days(day, hours):
    night = Schedule(working_hours=[(6, 0, 6 * 60)])  # Sunday 00:00-06:00 local
    (interval,) = working_intervals(night, day)
    assert interval.end - interval.start == timedelta(hours=hours)
    slots = free_slots(night, day, 1, H, local_day_bounds(day)[0] - timedelta(days=7))
    assert len(slots) == 2 * hours - 1
    assert all(b.start - a.start == timedelta(minutes=30) for a, b in pairwise(slots))
    labels = [to_local(s.start).isoformat()[11:] for s in slots]
    if day.month == 10:
        # The repeated hour is offered twice, each instant with its own offset.
        assert "02:00:00+02:00" in labels and "02:00:00+01:00" in labels
        assert "02:30:00+02:00" in labels and "02:30:00+01:00" in labels
    else:
        assert not any(label.startswith("02:") for label in labels)
        assert "01:30:00+01:00" in labels and "03:00:00+02:00" in labels


def test_working_hours_starting_in_the_skipped_hour_begin_when_the_clock_resumes():
    gap = Schedule(working_hours=[(6, 2 * 60 + 30, 5 * 60)])  # 02:30-05:00 on a Sunday
    (interval,) = working_intervals(gap, date(2026, 3, 29))
    assert interval.start == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00+02:00
    assert interval.end == datetime(2026, 3, 29, 3, tzinfo=UTC)
    (interval,) = working_intervals(gap, date(2026, 10, 25))
    assert interval.start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # first 02:30 (+02:00)
    assert interval.end == datetime(2026, 10, 25, 4, tzinfo=UTC)


def test_check_visit_accepts_the_second_occurrence_of_the_repeated_hour():
    night = Schedule(working_hours=[(6, 0, 6 * 60)], min_notice=timedelta(0))
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30+01:00
    check_visit(night, second, second + H, datetime(2026, 10, 1, tzinfo=UTC))
    assert any(s.start == second for s in free_slots(night, date(2026, 10, 25), 1, H,
                                                     datetime(2026, 10, 1, tzinfo=UTC)))


# --- durations, absences, notice, horizon ---------------------------------------------------------

@pytest.mark.parametrize("minutes, count, last", [(60, 17, "16:00"), (90, 16, "15:30"), (120, 15, "15:00")])
def test_durations(minutes, count, last):
    slots = free_slots(Schedule(working_hours=MON_FRI), date(2026, 12, 1), 1, timedelta(minutes=minutes), NOW)
    assert len(slots) == count
    assert starts(slots)[0] == "08:00+0100" and starts(slots)[-1] == f"{last}+0100"
    assert all(s.end - s.start == timedelta(minutes=minutes) for s in slots)


def test_weekends_and_absences_have_no_slots():
    sched = Schedule(working_hours=MON_FRI, absences=[(date(2026, 12, 2), date(2026, 12, 3))])
    slots = free_slots(sched, date(2026, 11, 30), 7, H, NOW)  # Mon 30.11. .. Sun 6.12.
    days = sorted({to_local(s.start).date() for s in slots})
    assert days == [date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 4)]
    with pytest.raises(SlotRejected) as info:
        check_visit(sched, berlin(2026, 12, 3, 10), berlin(2026, 12, 3, 11), NOW)
    assert info.value.code == "slot.absent" and info.value.problem.field == "start"
    with pytest.raises(SlotRejected) as info:
        check_visit(sched, berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 11), NOW)
    assert info.value.code == "slot.outside_hours"


def test_minimum_notice_and_horizon():
    now = berlin(2026, 12, 1, 10, 15)
    sched = Schedule(working_hours=MON_FRI, min_notice=timedelta(hours=24), horizon=timedelta(days=7))
    slots = free_slots(sched, date(2026, 12, 1), 10, H, now)
    assert slots[0].start == berlin(2026, 12, 2, 10, 30)  # first grid start at least 24 h ahead
    assert slots[-1].start <= now + timedelta(days=7)
    assert slots[-1].start == berlin(2026, 12, 8, 10)
    with pytest.raises(SlotRejected) as info:
        check_visit(sched, berlin(2026, 12, 2, 10), berlin(2026, 12, 2, 11), now)
    assert info.value.code == "slot.too_soon"
    with pytest.raises(SlotRejected) as info:
        check_visit(sched, berlin(2026, 12, 8, 11), berlin(2026, 12, 8, 12), now)
    assert info.value.code == "slot.too_late"
    with pytest.raises(SlotRejected) as info:
        check_visit(sched, berlin(2026, 12, 1, 9), berlin(2026, 12, 1, 10), now)
    assert info.value.code == "slot.in_past"
    check_visit(sched, berlin(2026, 12, 2, 10, 15), berlin(2026, 12, 2, 11, 15), now)  # exactly 24 h: fine


def test_a_coach_may_book_outside_the_offer_rules_but_never_into_the_past_or_an_overlap():
    now = berlin(2026, 12, 1, 10)
    busy = [Busy(berlin(2026, 12, 5, 10), berlin(2026, 12, 5, 11), None)]
    sched = Schedule(working_hours=MON_FRI, busy=busy, absences=[(date(2026, 12, 3), date(2026, 12, 3))])
    for start in (berlin(2026, 12, 1, 11), berlin(2026, 12, 5, 7), berlin(2026, 12, 3, 10), berlin(2027, 6, 1, 10)):
        check_visit(sched, start, start + H, now, require_offered=False)
    for start, code in ((berlin(2026, 12, 1, 9), "in_past"), (berlin(2026, 12, 5, 10, 30), "overlap"),
                        (berlin(2026, 12, 5, 9, 30), "overlap"), (berlin(2026, 12, 5, 11), "travel_before")):
        with pytest.raises(SlotRejected) as info:
            check_visit(sched, start, start + H, now, require_offered=False)
        assert info.value.code == f"slot.{code}"


# --- travel rules -----------------------------------------------------------------------------------

def test_from_home_at_the_start_of_the_working_interval():
    sched = Schedule(working_hours=MON_FRI, home=DORTMUND)
    trip = RULES.minutes(DORTMUND, HAGEN)  # ~40 min
    slots = free_slots(sched, date(2026, 12, 1), 1, H, NOW, place=HAGEN)
    assert slots[0].start == berlin(2026, 12, 1, 9)  # 08:00 + 40 min -> the 09:00 grid start
    assert 30 < trip < 60
    with pytest.raises(SlotRejected) as info:
        check_visit(sched, berlin(2026, 12, 1, 8, 30), berlin(2026, 12, 1, 9, 30), NOW, HAGEN)
    assert info.value.code == "slot.travel_from_home"
    # A firm next door to the home base can be visited at 08:00; unknown places cost the buffer.
    assert free_slots(sched, date(2026, 12, 1), 1, H, NOW, place=DORTMUND)[0].start == berlin(2026, 12, 1, 8)
    assert free_slots(sched, date(2026, 12, 1), 1, H, NOW, place=None)[0].start == berlin(2026, 12, 1, 8, 30)
    # Without a home base, nothing to travel from.
    assert free_slots(Schedule(working_hours=MON_FRI), date(2026, 12, 1), 1, H, NOW,
                      place=HAGEN)[0].start == berlin(2026, 12, 1, 8)


def test_home_rule_applies_per_working_interval():
    split = Schedule(working_hours=[(1, 8 * 60, 12 * 60), (1, 13 * 60, 17 * 60)], home=DORTMUND)
    slots = free_slots(split, date(2026, 12, 1), 1, H, NOW, place=HAGEN)
    assert starts(slots)[:4] == ["09:00+0100", "09:30+0100", "10:00+0100", "10:30+0100"]
    assert "13:00+0100" not in starts(slots) and "13:30+0100" not in starts(slots)
    assert "14:00+0100" in starts(slots)


def test_travel_between_visits_of_the_same_day():
    busy = [Busy(berlin(2026, 12, 1, 10), berlin(2026, 12, 1, 11), DORTMUND, 1),
            Busy(berlin(2026, 12, 1, 14), berlin(2026, 12, 1, 15), DORTMUND, 2)]
    sched = Schedule(working_hours=MON_FRI, busy=busy)
    got = starts(free_slots(sched, date(2026, 12, 1), 1, H, NOW, place=HAGEN))
    # Before 10:00 the visit must end 40 min before: start <= 08:20 -> 08:00. After 11:00 the trip takes
    # 40 min: 11:30 is too early, 12:00 fits; 12:00-13:00 leaves 60 min to reach Dortmund by 14:00.
    # 12:30 would arrive at 14:10: refused. After 15:00: 16:00 is the first start.
    assert got == ["08:00+0100", "12:00+0100", "16:00+0100"]
    for start, code in ((berlin(2026, 12, 1, 11, 30), "travel_before"), (berlin(2026, 12, 1, 12, 30), "travel_after"),
                        (berlin(2026, 12, 1, 8, 30), "travel_after"), (berlin(2026, 12, 1, 10, 30), "overlap")):
        with pytest.raises(SlotRejected) as info:
            check_visit(sched, start, start + H, NOW, HAGEN)
        assert info.value.code == f"slot.{code}", start


def test_adjacent_visits_only_when_travel_fits_same_place_rule():
    firm = (51.4500, 7.3000)
    door = (firm[0] + 0.0003, firm[1])  # ~33 m: the same place
    street = (firm[0] + 0.0009, firm[1])  # ~100 m: another place, 15+ min
    busy = [Busy(berlin(2026, 12, 1, 10), berlin(2026, 12, 1, 11), firm, 1)]
    sched = Schedule(working_hours=MON_FRI, busy=busy)
    # Same place: 11:00-12:00 right after, and 09:00-10:00 right before, are both fine.
    check_visit(sched, berlin(2026, 12, 1, 11), berlin(2026, 12, 1, 12), NOW, door)
    check_visit(sched, berlin(2026, 12, 1, 9), berlin(2026, 12, 1, 10), NOW, door)
    assert "11:00+0100" in starts(free_slots(sched, date(2026, 12, 1), 1, H, NOW, place=firm))
    # 100 m away: the buffer alone makes back-to-back impossible.
    for start, code in ((berlin(2026, 12, 1, 11), "travel_before"), (berlin(2026, 12, 1, 9), "travel_after")):
        with pytest.raises(SlotRejected) as info:
            check_visit(sched, start, start + H, NOW, street)
        assert info.value.code == f"slot.{code}"
    got = starts(free_slots(sched, date(2026, 12, 1), 1, H, NOW, place=street))
    assert "11:00+0100" not in got and "11:30+0100" in got and "09:00+0100" not in got and "08:30+0100" in got


def test_zero_buffer_and_unknown_places_allow_adjacency():
    busy = [Busy(berlin(2026, 12, 1, 10), berlin(2026, 12, 1, 11), None, 1)]
    sched = Schedule(working_hours=MON_FRI, busy=busy)
    with pytest.raises(SlotRejected):
        check_visit(sched, berlin(2026, 12, 1, 11), berlin(2026, 12, 1, 12), NOW, HAGEN)
    check_visit(sched, berlin(2026, 12, 1, 11), berlin(2026, 12, 1, 12), NOW, HAGEN, TravelRules(buffer_min=0))


def test_travel_rule_does_not_reach_across_days():
    # A visit ending late yesterday does not constrain the morning: the day starts from home.
    busy = [Busy(berlin(2026, 12, 1, 16), berlin(2026, 12, 1, 17), BOCHUM, 1),
            Busy(berlin(2026, 12, 3, 8), berlin(2026, 12, 3, 9), BOCHUM, 2)]
    sched = Schedule(working_hours=MON_FRI, busy=busy, home=HAGEN)
    first = free_slots(sched, date(2026, 12, 2), 1, H, NOW, place=HAGEN)[0]
    assert first.start == berlin(2026, 12, 2, 8)
    last = free_slots(sched, date(2026, 12, 2), 1, H, NOW, place=DORTMUND)[-1]
    assert last.start == berlin(2026, 12, 2, 16)


# --- brute-force reference ---------------------------------------------------------------------------

def _interval_edge(day: date, minute: int) -> datetime:
    """The documented rule for a working-hours edge: skipped minutes start when the clock resumes (03:00)."""
    naive = datetime.combine(day, time(0)) + timedelta(minutes=minute)
    try:
        return local_to_utc(naive)
    except Invalid:
        return local_to_utc(datetime.combine(day, time(3)))


def reference_intervals(sched: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """A day's working time as UTC intervals: the union of its entries; none on absence days."""
    if any(a <= day <= b for a, b in sched.absences):
        return []
    pieces = sorted((_interval_edge(day, a), _interval_edge(day, b))
                    for weekday, a, b in sched.working_hours if weekday == day.weekday() and b > a)
    union: list[tuple[datetime, datetime]] = []
    for a, b in pieces:
        if b <= a:
            continue
        if union and a <= union[-1][1]:
            union[-1] = (union[-1][0], max(b, union[-1][1]))
        else:
            union.append((a, b))
    return union


def reference_fits(sched: Schedule, intervals, s: datetime, duration: timedelta, now: datetime, place,
                   rules: TravelRules, step_min: int = 30) -> bool:
    """Whether a visit [s, s+duration) at place keeps every documented rule, checked against every visit."""
    e = s + duration
    inside = [a for a, b in intervals if a <= s and e <= b and (s - a) % timedelta(minutes=step_min) == timedelta(0)]
    if not inside or not (now + sched.min_notice <= s <= now + sched.horizon):
        return False
    if any(b.start < e and s < b.end for b in sched.busy):
        return False
    before = [b for b in sched.busy if b.end <= s]
    prev = max(before, key=lambda b: b.end) if before else None
    if prev is not None and to_local(prev.end).date() == to_local(s).date():
        if prev.end + timedelta(minutes=rules.minutes(prev.place, place)) > s:
            return False
    elif sched.home is not None:
        if inside[0] + timedelta(minutes=rules.minutes(sched.home, place)) > s:
            return False
    after = [b for b in sched.busy if b.start >= e]
    nxt = min(after, key=lambda b: b.start) if after else None
    if nxt is not None and to_local(nxt.start).date() == to_local(e).date():
        if e + timedelta(minutes=rules.minutes(place, nxt.place)) > nxt.start:
            return False
    return True


def naive_free_slots(sched: Schedule, first_day: date, days: int, duration: timedelta, now: datetime,
                     place, rules: TravelRules, step_min: int = 30) -> list[Slot]:
    """Every minute of the window checked by reference_fits; keeps the starts on each interval's grid."""
    intervals = [iv for offset in range(days) for iv in reference_intervals(sched, first_day + timedelta(days=offset))]
    window_start, _ = local_day_bounds(first_day)
    window_end, _ = local_day_bounds(first_day + timedelta(days=days))
    out = []
    s = window_start
    while s < window_end:
        if reference_fits(sched, intervals, s, duration, now, place, rules, step_min):
            out.append(Slot(s, s + duration))
        s += M
    return out


RUHR = st.tuples(st.floats(51.30, 51.60), st.floats(7.05, 7.65))
PLACES = st.one_of(st.none(), RUHR)
CHANGE_WEEKS = [date(2026, 3, 26), date(2026, 10, 22), date(2027, 3, 25), date(2027, 10, 28), date(2026, 12, 1)]


@st.composite
def scenarios(draw):
    first_day = draw(st.sampled_from(CHANGE_WEEKS)) + timedelta(days=draw(st.integers(0, 3)))
    days = draw(st.integers(1, 4))
    hours = []
    for weekday in range(7):
        for _ in range(draw(st.integers(0, 2))):
            a = draw(st.integers(0, 22 * 12)) * 5
            b = draw(st.integers(a // 5 + 1, 24 * 12)) * 5
            hours.append((weekday, a, b))
    absences = []
    if draw(st.booleans()):
        a = first_day + timedelta(days=draw(st.integers(-1, days)))
        absences.append((a, a + timedelta(days=draw(st.integers(0, 2)))))
    # Non-overlapping visits (the database guarantees that), on any minute, some at the same place.
    origin = local_day_bounds(first_day - timedelta(days=1))[0]
    busy, cursor = [], origin + timedelta(minutes=draw(st.integers(0, 600)))
    places = draw(st.lists(PLACES, min_size=1, max_size=4))
    for i in range(draw(st.integers(0, 14))):
        start = cursor + timedelta(minutes=draw(st.integers(0, 900)))
        end = start + timedelta(minutes=draw(st.sampled_from([30, 60, 90, 120, 150])))
        busy.append(Busy(start, end, draw(st.sampled_from(places)), i))
        cursor = end
    home = draw(PLACES)
    place = draw(st.one_of(PLACES, st.sampled_from(places)))
    if place is not None and draw(st.booleans()):
        place = (place[0] + draw(st.floats(-0.0006, 0.0006)), place[1])  # around the 50 m rule
    now = origin + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    sched = Schedule(working_hours=hours, absences=absences, busy=busy, home=home,
                     min_notice=timedelta(hours=draw(st.sampled_from([0, 1, 24, 48]))),
                     horizon=timedelta(hours=draw(st.sampled_from([24, 72, 24 * 56]))))
    rules = TravelRules(road_factor=draw(st.sampled_from([1.0, 1.3, 2.0])),
                        speed_kmh=draw(st.sampled_from([30.0, 50.0, 90.0])),
                        buffer_min=draw(st.sampled_from([0.0, 10.0, 15.0, 22.5])))
    duration = timedelta(minutes=draw(st.sampled_from([60, 90, 120])))
    return sched, first_day, days, duration, now, place, rules


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_free_slots_equal_the_brute_force_reference(case):
    sched, first_day, days, duration, now, place, rules = case
    fast = free_slots(sched, first_day, days, duration, now, place, rules)
    assert fast == naive_free_slots(sched, first_day, days, duration, now, place, rules)
    # Every offered slot passes the booking check, which is what the firm's request will face.
    for slot in fast:
        check_visit(sched, slot.start, slot.end, now, place, rules)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(0, 4 * 1440))
def test_check_visit_agrees_with_the_reference_on_any_minute(case, offset):
    sched, first_day, days, duration, now, place, rules = case
    start = local_day_bounds(first_day)[0] + timedelta(minutes=offset)
    # With a 1-minute grid the reference accepts exactly the starts that keep every rule.
    expected = reference_fits(sched, reference_intervals(sched, to_local(start).date()), start, duration, now,
                              place, rules, step_min=1)
    try:
        check_visit(sched, start, start + duration, now, place, rules)
        accepted = True
    except SlotRejected as exc:
        assert exc.code in SLOT_CODES
        accepted = False
    assert accepted == expected


def test_overlapping_or_touching_working_hours_are_one_interval():
    hours = [(1, 8 * 60, 12 * 60), (1, 10 * 60, 14 * 60), (1, 14 * 60, 15 * 60), (1, 9 * 60, 10 * 60)]
    sched = Schedule(working_hours=hours, home=DORTMUND)
    (interval,) = working_intervals(sched, date(2026, 12, 1))
    assert (interval.start, interval.end) == (berlin(2026, 12, 1, 8), berlin(2026, 12, 1, 15))
    slots = free_slots(sched, date(2026, 12, 1), 1, H, NOW, place=HAGEN)
    assert len(slots) == len({s.start for s in slots})  # no start offered twice
    assert starts(slots)[0] == "09:00+0100" and starts(slots)[-1] == "14:00+0100"
    check_visit(sched, berlin(2026, 12, 1, 11, 30), berlin(2026, 12, 1, 12, 30), NOW, HAGEN)
