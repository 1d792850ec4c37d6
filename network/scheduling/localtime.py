"""Europe/Berlin local time: conversions to and from UTC that refuse non-existent times and resolve ambiguous ones."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from network.problems import Invalid

BERLIN = ZoneInfo("Europe/Berlin")
# Instants the scheduler accepts: far enough from datetime's limits that adding a visit's length,
# a horizon or a UTC offset never overflows (year 1 or 9999 would raise OverflowError: a 500).
MIN_YEAR, MAX_YEAR = 2000, 2099


def as_utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime; naive values are taken as UTC (SQLite returns them so)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_local(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(BERLIN)


def exists_locally(naive: datetime) -> bool:
    """False for wall-clock times skipped by the spring change (2026-03-29 02:30)."""
    aware = naive.replace(tzinfo=BERLIN)
    return aware.astimezone(timezone.utc).astimezone(BERLIN).replace(tzinfo=None) == naive


def local_to_utc(naive: datetime) -> datetime:
    """Interpret a wall-clock time in Berlin and return the UTC instant.

    Non-existent times (the hour skipped in spring) are refused (Invalid, field "start"): zoneinfo
    would silently move 02:30 to 03:30. Ambiguous times (the hour repeated in autumn,
    2026-10-25 02:30) follow one documented rule: the FIRST occurrence, i.e.
    summer time (+02:00, fold=0), the earlier instant.
    """
    if not MIN_YEAR <= naive.year <= MAX_YEAR:
        raise Invalid.one("start", "start.out_of_range", min=MIN_YEAR, max=MAX_YEAR)
    if naive.tzinfo is not None:
        return as_utc(naive)
    if not exists_locally(naive):
        raise Invalid.one("start", "start.nonexistent_local_time", time=f"{naive:%d.%m.%Y %H:%M}")
    return naive.replace(tzinfo=BERLIN, fold=0).astimezone(timezone.utc)


def parse_instant(text: str, field: str = "start") -> datetime:
    """Parse ISO 8601; with an offset it is an instant, without one a Berlin wall-clock time.

    Raises Invalid naming field (start.missing, start.invalid, start.out_of_range, start.nonexistent_local_time).
    """
    raw = (text or "").strip()
    if not raw:
        raise Invalid.one(field, "start.missing")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid.one(field, "start.invalid", value=raw) from None
    try:
        return local_to_utc(parsed)
    except Invalid as exc:
        raise Invalid.one(field, exc.first.code, **exc.first.params) from None


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Berlin calendar day starts and ends (23 h or 25 h on change days)."""
    start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(timezone.utc)
    return start, end


def isoformat_local(moment: datetime) -> str:
    """ISO 8601 with the Berlin offset, e.g. 2026-12-01T09:00:00+01:00."""
    return to_local(moment).isoformat()
