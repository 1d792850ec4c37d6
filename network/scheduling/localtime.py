"""Europe/Berlin local time: conversions to and from UTC that refuse non-existent times and resolve ambiguous ones."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from network.clock import require_aware
from network.problems import Invalid

BERLIN = ZoneInfo("Europe/Berlin")
# Instants the scheduler accepts: far enough from datetime's limits that adding a visit's length,
# a horizon or a UTC offset never overflows (year 1 or 9999 would raise OverflowError: a 500).
MIN_YEAR, MAX_YEAR = 2000, 2099
_CLOCK_RE = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")
_GERMAN_DATE_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def to_local(moment: datetime) -> datetime:
    """The Berlin wall-clock view of an instant; a naive datetime is refused (it names no instant)."""
    return require_aware(moment).astimezone(BERLIN)


def exists_locally(naive: datetime) -> bool:
    """False for wall-clock times skipped by the spring change (2026-03-29 02:30)."""
    aware = naive.replace(tzinfo=BERLIN)
    return aware.astimezone(UTC).astimezone(BERLIN).replace(tzinfo=None) == naive


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
        return naive.astimezone(UTC)
    if not exists_locally(naive):
        raise Invalid.one("start", "start.nonexistent_local_time", time=f"{naive:%d.%m.%Y %H:%M}")
    return naive.replace(tzinfo=BERLIN, fold=0).astimezone(UTC)


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
    start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(UTC)
    return start, end


def isoformat_local(moment: datetime) -> str:
    """ISO 8601 with the Berlin offset, e.g. 2026-12-01T09:00:00+01:00."""
    return to_local(moment).isoformat()


def parse_day(raw: str | None) -> date | None:
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


def parse_clock(raw: str | None) -> int | None:
    """'08:30' -> 510 minutes after midnight; None when it is not a time of day."""
    match = _CLOCK_RE.match((raw or "").strip())
    if not match:
        return None
    return int(match.group(1)) * 60 + int(match.group(2))


def minutes_text(minute: int) -> str:
    """510 -> '08:30'."""
    return f"{minute // 60:02d}:{minute % 60:02d}"
