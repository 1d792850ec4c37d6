"""Europe/Berlin local time: non-existent spring times are refused, ambiguous autumn times take the first occurrence."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from network.problems import Invalid
from network.scheduling.localtime import (
    BERLIN,
    exists_locally,
    isoformat_local,
    local_day_bounds,
    local_to_utc,
    parse_instant,
    to_local,
)

SPRING = [date(2026, 3, 29), date(2027, 3, 28)]
AUTUMN = [date(2026, 10, 25), date(2027, 10, 31)]


@pytest.mark.parametrize("day", SPRING)
@pytest.mark.parametrize("minute", [0, 1, 30, 59])
def test_skipped_spring_hour_is_refused_with_a_code_naming_the_time(day, minute):
    naive = datetime(day.year, day.month, day.day, 2, minute)
    assert not exists_locally(naive)
    with pytest.raises(Invalid) as info:
        local_to_utc(naive)
    problem = info.value.first
    assert (problem.field, problem.code) == ("start", "start.nonexistent_local_time")
    assert problem.params["time"] == f"{day:%d.%m.%Y} 02:{minute:02d}"


@pytest.mark.parametrize("day", SPRING)
def test_times_around_the_spring_gap(day):
    # 01:59 is still winter time (+01:00), 03:00 already summer time (+02:00): one minute apart.
    before = local_to_utc(datetime.combine(day, datetime.min.time()).replace(hour=1, minute=59))
    after = local_to_utc(datetime.combine(day, datetime.min.time()).replace(hour=3))
    assert before == datetime(day.year, 3, day.day, 0, 59, tzinfo=UTC)
    assert after == datetime(day.year, 3, day.day, 1, 0, tzinfo=UTC)
    assert after - before == timedelta(minutes=1)


@pytest.mark.parametrize("day", AUTUMN)
@pytest.mark.parametrize("minute", [0, 30, 59])
def test_ambiguous_autumn_hour_takes_the_first_occurrence(day, minute):
    naive = datetime(day.year, day.month, day.day, 2, minute)
    assert exists_locally(naive)
    instant = local_to_utc(naive)
    # First occurrence = still summer time: 02:30+02:00 = 00:30Z (the second would be 01:30Z).
    assert instant == datetime(day.year, 10, day.day, 0, minute, tzinfo=UTC)
    assert isoformat_local(instant) == f"{day.isoformat()}T02:{minute:02d}:00+02:00"
    # The second occurrence is reachable only as an instant with an explicit offset.
    second = parse_instant(f"{day.isoformat()}T02:{minute:02d}:00+01:00")
    assert second - instant == timedelta(hours=1)
    assert isoformat_local(second) == f"{day.isoformat()}T02:{minute:02d}:00+01:00"


@pytest.mark.parametrize("day", SPRING + AUTUMN)
def test_parse_instant_refuses_the_gap_and_names_the_field(day):
    if day.month == 3:
        with pytest.raises(Invalid) as info:
            parse_instant(f"{day.isoformat()}T02:30", field="new_start")
        assert info.value.first.field == "new_start"
        assert info.value.codes == ["start.nonexistent_local_time"]
        # With an explicit offset the same wall-clock digits are an instant and accepted as such.
        assert parse_instant(f"{day.isoformat()}T02:30+01:00") == datetime(day.year, 3, day.day, 1, 30, tzinfo=UTC)
    else:
        assert parse_instant(f"{day.isoformat()}T02:30") == datetime(day.year, 10, day.day, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("2026-12-01T09:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ("2026-07-01T09:00", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
    ("2026-12-01T09:00:00+01:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ("2026-12-01T08:00:00Z", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ("  2026-12-01T09:00  ", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
])
def test_parse_instant_accepts_wall_clock_and_offsets(text, expected):
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["", "   ", None, "morgen", "2026-13-01T09:00", "2026-12-01 25:00"])
def test_parse_instant_refuses_garbage_with_a_field(text):
    with pytest.raises(Invalid) as info:
        parse_instant(text, field="start")
    assert info.value.first.field == "start"
    assert info.value.codes == ["start.missing" if not (text or "").strip() else "start.invalid"]


@pytest.mark.parametrize("day, hours", [
    (date(2026, 3, 28), 24), (date(2026, 3, 29), 23), (date(2026, 3, 30), 24),
    (date(2026, 10, 24), 24), (date(2026, 10, 25), 25), (date(2026, 10, 26), 24),
    (date(2027, 3, 28), 23), (date(2027, 10, 31), 25), (date(2026, 12, 1), 24), (date(2026, 7, 1), 24),
])
def test_local_day_bounds_have_23_and_25_hour_days(day, hours):
    start, end = local_day_bounds(day)
    assert end - start == timedelta(hours=hours)
    assert to_local(start) == datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    assert to_local(start).date() == day and to_local(end - timedelta(microseconds=1)).date() == day
    assert to_local(end).date() == day + timedelta(days=1)
    assert start.utcoffset() == timedelta(0)


def test_local_day_bounds_of_the_change_days_in_utc():
    assert local_day_bounds(date(2026, 3, 29)) == (datetime(2026, 3, 28, 23, tzinfo=UTC),
                                                  datetime(2026, 3, 29, 22, tzinfo=UTC))
    assert local_day_bounds(date(2026, 10, 25)) == (datetime(2026, 10, 24, 22, tzinfo=UTC),
                                                   datetime(2026, 10, 25, 23, tzinfo=UTC))


def test_to_local_takes_instants_and_refuses_naive_datetimes():
    instant = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert to_local(instant).hour == 9 and to_local(instant).tzinfo is BERLIN
    # A naive value names no instant (the columns and the clock give aware ones): refused, not guessed.
    with pytest.raises(ValueError):
        to_local(datetime(2026, 12, 1, 8, 0))
    berlin = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)
    assert local_to_utc(berlin) == instant and local_to_utc(berlin).tzinfo is UTC


def test_every_minute_of_both_2026_change_days_round_trips_or_is_refused():
    for day in (date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)):
        refused = 0
        for minute in range(24 * 60):
            naive = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
            try:
                instant = local_to_utc(naive)
            except Invalid:
                refused += 1
                continue
            assert to_local(instant).replace(tzinfo=None) == naive
            assert to_local(instant).fold == 0
        assert refused == (60 if day.month == 3 else 0)


@pytest.mark.parametrize("text", ["0001-01-01T00:30:00+01:00", "0001-01-01T00:30", "9999-12-31T23:30",
                                  "9999-12-31T23:30:00+00:00", "1999-12-31T12:00", "2100-01-01T00:00+01:00"])
def test_instants_outside_the_planning_range_are_refused_not_overflowing(text):
    """Year 1 or 9999 would raise OverflowError somewhere later (a 500); they are a field error instead."""
    with pytest.raises(Invalid) as info:
        parse_instant(text, field="start")
    assert info.value.first.field == "start" and info.value.codes == ["start.out_of_range"]
    assert info.value.first.params == {"min": 2000, "max": 2099}
    with pytest.raises(Invalid):
        local_to_utc(datetime(1, 1, 1, 0, 30))


def test_the_ends_of_the_planning_range_are_usable():
    assert parse_instant("2000-01-01T00:30") == datetime(1999, 12, 31, 23, 30, tzinfo=UTC)
    assert parse_instant("2099-12-31T23:30") + timedelta(days=60) > datetime(2100, 1, 1, tzinfo=UTC)
