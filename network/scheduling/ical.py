"""iCalendar builders (pure: values in, bytes out): invites, cancellations and a coach's feed.

Times are written as Europe/Berlin local times with a rule-based (RRULE) VTIMEZONE,
not icalendar's generated list of RDATEs, which Outlook is reported to misread.
Updates keep the UID and raise SEQUENCE; cancellations are METHOD:CANCEL with
STATUS:CANCELLED. Text goes through icalendar's escaping, so commas, semicolons,
backslashes and line breaks in user data stay text and never start a component;
a CR LF or lone CR becomes LF (iCalendar text has no CR). Names in the CN parameter of
ORGANIZER/ATTENDEE are display names: their line breaks and runs of white space become
one space and a double quote becomes ' (parameter values cannot hold them portably:
RFC 6868's ^' and ^n are not understood by vobject or, reportedly, Outlook).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Alarm, Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress, vText

from network.scheduling.localtime import to_local

PRODID = "-//Partnernetz//Besuchsplaner//DE"

STATUS_MAP = {
    "requested": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "declined": "CANCELLED",
    "cancelled": "CANCELLED",
    "expired": "CANCELLED",
}


@dataclass(frozen=True)
class InviteData:
    """What an invite says about one visit (plain values, so the builder needs no database)."""

    uid: str
    sequence: int
    status: str  # visit status
    start: datetime  # UTC
    end: datetime  # UTC
    summary: str
    location: str
    description: str
    organizer_name: str
    organizer_email: str
    attendee_name: str
    attendee_email: str
    lat: float | None = None
    lon: float | None = None
    url: str | None = None
    created: datetime | None = None


def berlin_vtimezone() -> Timezone:
    """Europe/Berlin as two yearly rules (EU rules since 1996): last Sunday of March/October."""
    tz = Timezone()
    tz.add("tzid", "Europe/Berlin")
    tz.add("x-lic-location", "Europe/Berlin")
    daylight = TimezoneDaylight()
    daylight.add("tzname", "CEST")
    daylight.add("tzoffsetfrom", timedelta(hours=1))
    daylight.add("tzoffsetto", timedelta(hours=2))
    daylight.add("dtstart", datetime(1970, 3, 29, 2, 0, 0))
    daylight.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    standard = TimezoneStandard()
    standard.add("tzname", "CET")
    standard.add("tzoffsetfrom", timedelta(hours=2))
    standard.add("tzoffsetto", timedelta(hours=1))
    standard.add("dtstart", datetime(1970, 10, 25, 3, 0, 0))
    standard.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


def _calendar(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    cal.add_component(berlin_vtimezone())
    return cal


class Text(vText):
    """TEXT escaped by RFC 5545 alone (backslash, semicolon, comma, line break).

    icalendar's own escaping first turns a literal backslash-N into a line break, so
    "C:\\Neu" would come back as "C:" and "eu" on two lines.
    """

    def to_ical(self) -> bytes:
        text = str(self).replace("\r\n", "\n").replace("\r", "\n")
        escaped = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
        return escaped.encode(self.encoding)


def display_name(name: str) -> str:
    """A name as the CN parameter carries it: one line, no double quotes."""
    return " ".join((name or "").replace('"', "'").split())


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if display_name(name):
        address.params["cn"] = vText(display_name(name))
    for key, value in params.items():
        address.params[key.replace("_", "-")] = value
    return address


def _when(moment: datetime) -> datetime:
    """DTSTART/DTEND value: Berlin local time, but UTC inside the repeated autumn hour.

    A TZID local time 02:30 on 2026-10-25 names two instants and RFC 5545 reads it as
    the first; a visit at the second 02:30 (+01:00) would move an hour. UTC is exact.
    """
    local = to_local(moment)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def _event(data: InviteData, now: datetime, *, cancelled: bool, with_alarm: bool) -> Event:
    event = Event()
    event.add("uid", data.uid)
    event.add("sequence", data.sequence)
    # RFC 5545: DTSTAMP and CREATED are UTC.
    event.add("dtstamp", now.astimezone(UTC))
    if data.created is not None:
        event.add("created", data.created.astimezone(UTC))
    event.add("dtstart", _when(data.start))
    event.add("dtend", _when(data.end))
    event.add("summary", Text(data.summary))
    if data.location:
        event.add("location", Text(data.location))
    if data.lat is not None and data.lon is not None:
        event.add("geo", (round(data.lat, 6), round(data.lon, 6)))
    if data.description:
        event.add("description", Text(data.description))
    if data.url:
        event.add("url", data.url)
    event.add("status", "CANCELLED" if cancelled else STATUS_MAP.get(data.status, "TENTATIVE"))
    event.add("transp", "OPAQUE")
    if data.organizer_email:
        event.add("organizer", _address(data.organizer_email, data.organizer_name))
    if data.attendee_email:
        event.add("attendee", _address(
            data.attendee_email, data.attendee_name, role="REQ-PARTICIPANT",
            partstat="DECLINED" if cancelled else "NEEDS-ACTION", rsvp="TRUE",
        ))
    if with_alarm and not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", Text(data.summary))
        alarm.add("trigger", timedelta(hours=-1))
        event.add_component(alarm)
    return event


def invite(data: InviteData, now: datetime) -> bytes:
    """METHOD:REQUEST for a new or changed visit (the same UID, a higher SEQUENCE on changes)."""
    cal = _calendar("REQUEST")
    cal.add_component(_event(data, now, cancelled=False, with_alarm=True))
    return cal.to_ical()


def cancellation(data: InviteData, now: datetime) -> bytes:
    """METHOD:CANCEL with STATUS:CANCELLED and no alarm; data.sequence must already be raised."""
    cal = _calendar("CANCEL")
    cal.add_component(_event(data, now, cancelled=True, with_alarm=False))
    return cal.to_ical()


def message_for(data: InviteData, now: datetime) -> tuple[str, bytes]:
    """The iTIP method and body that fit the visit's state: CANCEL for ended visits, else REQUEST."""
    if STATUS_MAP.get(data.status) == "CANCELLED":
        return "CANCEL", cancellation(data, now)
    return "REQUEST", invite(data, now)


def feed(visits: Iterable[InviteData], now: datetime, calendar_name: str) -> bytes:
    """METHOD:PUBLISH with every visit; ended ones stay as STATUS:CANCELLED so subscribers remove them."""
    cal = _calendar("PUBLISH")
    cal.add("x-wr-calname", Text(calendar_name))
    cal.add("x-wr-timezone", "Europe/Berlin")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for data in visits:
        cancelled = STATUS_MAP.get(data.status) == "CANCELLED"
        cal.add_component(_event(data, now, cancelled=cancelled, with_alarm=not cancelled))
    return cal.to_ical()
