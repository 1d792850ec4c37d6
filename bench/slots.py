"""Benchmark: slots.free_slots over 8 weeks with 300 visits against a naive scan minute by minute, same slots."""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# Run as a script (`python bench/slots.py`), so the repository root is not on sys.path by itself.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from network.scheduling.localtime import LocalTimeError, local_day_bounds, local_to_utc, to_local  # noqa: E402
from network.scheduling.slots import (  # noqa: E402
    Busy,
    Schedule,
    Slot,
    SlotRejected,
    TravelRules,
    check_visit,
    free_slots,
    working_intervals,
)

HOME = (51.4818, 7.2162)  # Bochum
# Mon-Fri 07:00-21:00, Sat 08:00-18:00 (Berlin wall-clock minutes): 300 visits in 8 weeks fill about
# three quarters of that, so free slots remain between and after the visits
HOURS = [(d, 7 * 60, 21 * 60) for d in range(5)] + [(5, 8 * 60, 18 * 60)]
FIRST_DAY = date(2026, 10, 5)  # a Monday; the 8 weeks cross the clock change of 2026-10-25
DAYS = 56
NOW = datetime(2026, 10, 4, 6, tzinfo=UTC)
QUERY_PLACE = (51.5386, 7.2257)  # Herne: a new firm asking for a visit
RULES = TravelRules()


def firm_places(rng: random.Random, count: int) -> list[tuple[float, float]]:
    """Firms scattered over Bochum and its neighbours: 0-15 km apart."""
    return [(rng.uniform(51.44, 51.54), rng.uniform(7.12, 7.32)) for _ in range(count)]


def _ceil_quarter(moment: datetime) -> datetime:
    minutes = math.ceil((moment - moment.replace(minute=0, second=0, microsecond=0)).total_seconds() / 900) * 15
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=minutes)


def generate_visits(seed: int, count: int) -> list[Busy]:
    """count visits on the working days of the 8 weeks, chained so that working hours and travel time hold."""
    rng = random.Random(seed)
    places = firm_places(rng, 60)
    base = Schedule(working_hours=HOURS, home=HOME, min_notice=timedelta(0), horizon=timedelta(days=DAYS + 2))
    days = [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]
    intervals = [(day, iv) for day in days for iv in working_intervals(base, day)]
    busy: list[Busy] = []
    state = {i: (iv.start, HOME) for i, (_day, iv) in enumerate(intervals)}  # where each day's chain ends

    def append(i: int) -> bool:
        cursor, prev_place = state[i]
        interval = intervals[i][1]
        place = rng.choice(places)
        duration = timedelta(minutes=rng.choice([60, 60, 60, 60, 90, 120]))
        slack = rng.choice([0, 0, 0, 15, 30])
        start = _ceil_quarter(cursor + timedelta(minutes=RULES.minutes(prev_place, place) + slack))
        if start + duration > interval.end:
            return False
        busy.append(Busy(start, start + duration, place))
        state[i] = (start + duration, place)
        return True

    lengths = [iv.end - iv.start for _day, iv in intervals]
    for i in range(len(intervals)):
        # In proportion to the interval's length, catching up on days that took fewer.
        wanted = math.ceil((count - len(busy)) * (lengths[i] / sum(lengths[i:], timedelta(0))))
        placed = attempts = 0
        while placed < wanted and attempts < 50:
            attempts += 1
            placed += append(i)
    for _ in range(20):  # top up where a day still has room
        for i in range(len(intervals)):
            if len(busy) < count:
                append(i)
    busy.sort(key=lambda v: v.start)
    busy = [Busy(v.start, v.end, v.place, n) for n, v in enumerate(busy, 1)]
    if len(busy) != count:
        raise SystemExit(f"generated only {len(busy)} of {count} visits; loosen the parameters")
    # Every generated visit keeps every rule against all the others (as if each had been booked).
    for visit in busy:
        others = Schedule(working_hours=HOURS, home=HOME, busy=[b for b in busy if b is not visit],
                          min_notice=timedelta(0), horizon=timedelta(days=DAYS + 2))
        check_visit(others, visit.start, visit.end, NOW, visit.place, RULES)
    return busy


# --- the naive scan -----------------------------------------------------------------------------------

def _edge(day: date, minute: int) -> datetime:
    naive = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
    try:
        return local_to_utc(naive)
    except LocalTimeError:  # begins or ends in the skipped spring hour: when the clock resumes
        return local_to_utc(datetime.combine(day, datetime.min.time()) + timedelta(hours=3))


def naive_free_slots(schedule: Schedule, first_day: date, days: int, duration: timedelta, now: datetime,
                     place, rules: TravelRules, step: timedelta = timedelta(minutes=30)) -> list[Slot]:
    """For every minute of the horizon: does a visit starting then keep all rules? Scans all visits each time."""
    intervals = []  # (day, start, end) of every working interval, entries of one day merged
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if any(a <= day <= b for a, b in schedule.absences):
            continue
        pieces = sorted((_edge(day, a), _edge(day, b)) for wd, a, b in schedule.working_hours
                        if wd == day.weekday() and b > a)
        for a, b in pieces:
            if intervals and intervals[-1][0] == day and a <= intervals[-1][2]:
                intervals[-1] = (day, intervals[-1][1], max(b, intervals[-1][2]))
            elif b > a:
                intervals.append((day, a, b))
    out = []
    s, stop = local_day_bounds(first_day)[0], local_day_bounds(first_day + timedelta(days=days))[0]
    while s < stop:
        e = s + duration
        inside = [a for _day, a, b in intervals if a <= s and e <= b]
        ok = bool(inside) and now + schedule.min_notice <= s <= now + schedule.horizon
        if ok:
            ok = not any(v.start < e and s < v.end for v in schedule.busy)
        if ok:
            before = [v for v in schedule.busy if v.end <= s]
            prev = max(before, key=lambda v: v.end) if before else None
            if prev is not None and to_local(prev.end).date() == to_local(s).date():
                ok = prev.end + timedelta(minutes=rules.minutes(prev.place, place)) <= s
            elif schedule.home is not None:
                ok = inside[0] + timedelta(minutes=rules.minutes(schedule.home, place)) <= s
        if ok:
            after = [v for v in schedule.busy if v.start >= e]
            nxt = min(after, key=lambda v: v.start) if after else None
            if nxt is not None and to_local(nxt.start).date() == to_local(e).date():
                ok = e + timedelta(minutes=rules.minutes(place, nxt.place)) <= nxt.start
        if ok and (s - inside[0]) % step == timedelta(0):  # the grid the fast path offers
            out.append(Slot(s, e))
        s += timedelta(minutes=1)
    return out


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visits", type=int, default=300)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeat-fast", type=int, default=21)
    parser.add_argument("--repeat-naive", type=int, default=3)
    args = parser.parse_args()

    busy = generate_visits(args.seed, args.visits)
    schedule = Schedule(working_hours=HOURS, absences=[(date(2026, 11, 16), date(2026, 11, 18))], busy=busy,
                        home=HOME, min_notice=timedelta(hours=24), horizon=timedelta(days=DAYS))
    print(f"coach: {len(busy)} visits from {to_local(busy[0].start):%d.%m.%Y} to {to_local(busy[-1].end):%d.%m.%Y}, "
          f"Mon-Fri 07-21, Sat 08-18, 3 days absent, home Bochum, travel {RULES}")
    print(f"query: {DAYS} days from {FIRST_DAY}, now {NOW:%Y-%m-%d %H:%M}Z, firm in Herne")

    for minutes in (90, 120):  # correctness for the other lengths, once
        d = timedelta(minutes=minutes)
        fast = free_slots(schedule, FIRST_DAY, DAYS, d, NOW, QUERY_PLACE, RULES)
        naive = naive_free_slots(schedule, FIRST_DAY, DAYS, d, NOW, QUERY_PLACE, RULES)
        assert fast == naive, f"{minutes} min: {len(fast)} fast vs {len(naive)} naive slots"
        print(f"{minutes:>3} min: {len(fast)} slots, identical in both")

    duration = timedelta(minutes=60)
    fast_s, fast = timed(lambda: free_slots(schedule, FIRST_DAY, DAYS, duration, NOW, QUERY_PLACE, RULES),
                         args.repeat_fast)
    naive_s, naive = timed(lambda: naive_free_slots(schedule, FIRST_DAY, DAYS, duration, NOW, QUERY_PLACE, RULES),
                           args.repeat_naive)
    assert fast == naive, f"{len(fast)} fast vs {len(naive)} naive slots"
    # Each offered slot passes the booking check too.
    for slot in fast:
        try:
            check_visit(schedule, slot.start, slot.end, NOW, QUERY_PLACE, RULES)
        except SlotRejected as exc:  # pragma: no cover - would be a bug
            raise AssertionError(f"offered {slot} is refused: {exc.code}") from None
    ratio = naive_s / fast_s
    print(f" 60 min: {len(fast)} slots, identical in both")
    print(f"free_slots  median {fast_s * 1000:9.2f} ms  ({args.repeat_fast} runs)")
    print(f"naive scan  median {naive_s * 1000:9.2f} ms  ({args.repeat_naive} runs)")
    print(f"ratio {ratio:.0f}x (target >= 20x): {'OK' if ratio >= 20 else 'BELOW TARGET'}")
    if ratio < 20:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
