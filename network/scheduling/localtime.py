"""Europe/Berlin local time: conversions to and from UTC that refuse non-existent times and resolve ambiguous ones."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from network.clock import require_aware

BERLIN = ZoneInfo("Europe/Berlin")
# Instants the scheduler accepts: far enough from datetime's limits that adding a visit's length,
# a horizon or a UTC offset never overflows (year 1 or 9999 would raise OverflowError: a 500).
MIN_YEAR, MAX_YEAR = 2000, 2099
OUT_OF_RANGE = "Das Datum liegt außerhalb des planbaren Zeitraums (2000 bis 2099)."


class LocalTimeError(ValueError):
    """A local time that cannot be used; .field names the input, .message says why (German)."""

    def __init__(self, message: str, field: str = "start") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def as_utc(moment: datetime) -> datetime:
    """A timezone-aware UTC datetime; naive values are taken as UTC.

    Deprecated: only the scheduling route modules still call it; removed after the merge.
    Columns are UTCDateTime (aware UTC on every database) and network.clock.now() is aware UTC.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_local(moment: datetime) -> datetime:
    """The Berlin wall-clock view of an instant; a naive datetime is refused (it names no instant)."""
    return require_aware(moment).astimezone(BERLIN)


def exists_locally(naive: datetime) -> bool:
    """False for wall-clock times skipped by the spring change (2026-03-29 02:30)."""
    aware = naive.replace(tzinfo=BERLIN)
    return aware.astimezone(timezone.utc).astimezone(BERLIN).replace(tzinfo=None) == naive


def local_to_utc(naive: datetime) -> datetime:
    """Interpret a wall-clock time in Berlin and return the UTC instant.

    Non-existent times (the hour skipped in spring) are refused: zoneinfo would
    silently move 02:30 to 03:30. Ambiguous times (the hour repeated in autumn,
    2026-10-25 02:30) follow one documented rule: the FIRST occurrence, i.e.
    summer time (+02:00, fold=0), the earlier instant.
    """
    if not MIN_YEAR <= naive.year <= MAX_YEAR:
        raise LocalTimeError(OUT_OF_RANGE)
    if naive.tzinfo is not None:
        return naive.astimezone(timezone.utc)
    if not exists_locally(naive):
        raise LocalTimeError(
            f"Die Uhrzeit {naive:%d.%m.%Y %H:%M} gibt es in Deutschland nicht (Umstellung auf Sommerzeit)."
        )
    return naive.replace(tzinfo=BERLIN, fold=0).astimezone(timezone.utc)


def parse_instant(text: str, field: str = "start") -> datetime:
    """Parse ISO 8601; with an offset it is an instant, without one a Berlin wall-clock time."""
    raw = (text or "").strip()
    if not raw:
        raise LocalTimeError("Bitte geben Sie Datum und Uhrzeit an.", field)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise LocalTimeError(f"„{raw}“ ist kein gültiger Zeitpunkt (erwartet: 2026-12-01T09:00).", field) from None
    try:
        return local_to_utc(parsed)
    except LocalTimeError as exc:
        raise LocalTimeError(exc.message, field) from None


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where a Berlin calendar day starts and ends (23 h or 25 h on change days)."""
    start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN).astimezone(timezone.utc)
    return start, end


def isoformat_local(moment: datetime) -> str:
    """ISO 8601 with the Berlin offset, e.g. 2026-12-01T09:00:00+01:00."""
    return to_local(moment).isoformat()
