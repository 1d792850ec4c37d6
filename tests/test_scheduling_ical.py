"""Every .ics the scheduler makes parses with icalendar and vobject, keeps its instants, its text and its structure."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st

from network.scheduling.ical import (
    InviteData,
    berlin_vtimezone,
    cancellation,
    display_name,
    feed,
    invite,
    message_for,
)
from network.scheduling.localtime import BERLIN, local_to_utc

NOW = datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
TRICKY = 'Müller; Söhne, "GmbH"\r\nBEGIN:VALARM'
TRICKY_LF = 'Müller; Söhne, "GmbH"\nBEGIN:VALARM'


def data(**kw) -> InviteData:
    values = dict(uid="visit-1@partnernetz", sequence=0, status="requested",
                  start=datetime(2026, 12, 1, 9, tzinfo=UTC), end=datetime(2026, 12, 1, 10, tzinfo=UTC),
                  summary="Vor-Ort-Termin: Muster GmbH – Erika Coach", location="Hauptstraße 5, 58332 Schwelm",
                  description="Thema: Digitalisierung\nFirma: Muster GmbH", organizer_name="Erika Coach",
                  organizer_email="coach@example.org", attendee_name="Max Muster", attendee_email="max@example.org",
                  lat=51.2857, lon=7.293, url="https://partnernetz.example/termin/abc",
                  created=datetime(2026, 11, 19, 8, tzinfo=UTC))
    values.update(kw)
    return InviteData(**values)


def parse(body: bytes):
    """Both parsers' view: (icalendar calendar, vobject calendar)."""
    assert isinstance(body, bytes)
    return icalendar.Calendar.from_ical(body), vobject.readOne(body.decode("utf-8"))


def ical_events(cal) -> list:
    return list(cal.walk("VEVENT"))


def vobject_events(vcal) -> list:
    return list(getattr(vcal, "vevent_list", []))


def instants(body: bytes) -> dict[str, list[tuple[datetime, datetime]]]:
    """The UTC instants of every event as read by each parser."""
    cal, vcal = parse(body)
    return {
        "icalendar": [(e["dtstart"].dt, e["dtend"].dt) for e in ical_events(cal)],
        "vobject": [(e.dtstart.value, e.dtend.value) for e in vobject_events(vcal)],
    }


def count_components(body: bytes) -> dict[str, int]:
    cal, vcal = parse(body)
    counts = {name: len(cal.walk(name)) for name in ("VCALENDAR", "VTIMEZONE", "VEVENT", "VALARM")}
    vcounts = {"VEVENT": len(vobject_events(vcal)),
               "VALARM": sum(len(getattr(e, "valarm_list", [])) for e in vobject_events(vcal)),
               "VTIMEZONE": len(getattr(vcal, "vtimezone_list", []))}
    for name, n in vcounts.items():
        assert counts[name] == n, (name, counts, vcounts)
    # The raw lines agree: a component starts only where the builder opened one.
    lines = body.decode().split("\r\n")
    for name, n in counts.items():
        assert lines.count(f"BEGIN:{name}") == n and lines.count(f"END:{name}") == n
    return counts


# --- structure of each variant ----------------------------------------------------------------------

def test_invite_structure():
    body = invite(data(), NOW)
    assert b"\r\n" in body and all(len(line) <= 75 for line in body.split(b"\r\n"))
    assert count_components(body) == {"VCALENDAR": 1, "VTIMEZONE": 1, "VEVENT": 1, "VALARM": 1}
    cal, vcal = parse(body)
    assert str(cal["method"]) == "REQUEST" and vcal.method.value == "REQUEST"
    assert str(cal["version"]) == "2.0" and str(cal["prodid"]).startswith("-//Partnernetz//")
    (event,) = ical_events(cal)
    assert str(event["uid"]) == "visit-1@partnernetz" and int(event["sequence"]) == 0
    assert str(event["status"]) == "TENTATIVE"
    assert event["dtstamp"].dt == NOW and event["dtstamp"].dt.tzinfo is not None
    assert b"DTSTAMP:20261120T101530Z" in body
    assert b"CREATED:20261119T080000Z" in body
    assert str(event["location"]) == "Hauptstraße 5, 58332 Schwelm"
    assert event["geo"].latitude == pytest.approx(51.2857) and event["geo"].longitude == pytest.approx(7.293)
    assert str(event["url"]) == "https://partnernetz.example/termin/abc"
    organizer = event["organizer"]
    assert str(organizer) == "mailto:coach@example.org" and organizer.params["CN"] == "Erika Coach"
    attendee = event["attendee"]
    assert str(attendee) == "mailto:max@example.org"
    assert dict(attendee.params) == {"CN": "Max Muster", "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION",
                                     "RSVP": "TRUE"}
    (alarm,) = event.walk("VALARM")
    assert str(alarm["action"]) == "DISPLAY" and alarm["trigger"].dt == timedelta(hours=-1)
    assert str(alarm["description"]) == str(event["summary"])
    vevent = vobject_events(vcal)[0]
    assert vevent.organizer.params["CN"] == ["Erika Coach"]
    assert vevent.attendee.params["ROLE"] == ["REQ-PARTICIPANT"] and vevent.attendee.params["RSVP"] == ["TRUE"]
    assert vevent.attendee.params["PARTSTAT"] == ["NEEDS-ACTION"] and vevent.attendee.params["CN"] == ["Max Muster"]
    assert vevent.dtstamp.value == NOW
    assert vevent.valarm.trigger.value == timedelta(hours=-1)


def test_update_keeps_the_uid_and_raises_the_sequence():
    first = invite(data(), NOW)
    update = invite(data(sequence=3, status="confirmed", start=datetime(2026, 12, 2, 13, tzinfo=UTC),
                         end=datetime(2026, 12, 2, 14, 30, tzinfo=UTC)), NOW + timedelta(hours=1))
    (old,), (new,) = ical_events(parse(first)[0]), ical_events(parse(update)[0])
    assert str(old["uid"]) == str(new["uid"])
    assert int(new["sequence"]) == 3 > int(old["sequence"])
    assert str(new["status"]) == "CONFIRMED"
    assert instants(update)["vobject"] == [(datetime(2026, 12, 2, 13, tzinfo=UTC), datetime(2026, 12, 2, 14, 30,
                                                                                           tzinfo=UTC))]
    assert count_components(update)["VALARM"] == 1


def test_cancellation_structure():
    body = cancellation(data(sequence=2, status="cancelled"), NOW)
    assert count_components(body) == {"VCALENDAR": 1, "VTIMEZONE": 1, "VEVENT": 1, "VALARM": 0}
    cal, vcal = parse(body)
    assert str(cal["method"]) == "CANCEL" and vcal.method.value == "CANCEL"
    (event,) = ical_events(cal)
    assert str(event["status"]) == "CANCELLED" and vobject_events(vcal)[0].status.value == "CANCELLED"
    assert str(event["uid"]) == "visit-1@partnernetz" and int(event["sequence"]) == 2
    assert event["organizer"].params["CN"] == "Erika Coach" and event["attendee"].params["CN"] == "Max Muster"


@pytest.mark.parametrize("status, method, ical_status, alarms", [
    ("requested", "REQUEST", "TENTATIVE", 1),
    ("confirmed", "REQUEST", "CONFIRMED", 1),
    ("declined", "CANCEL", "CANCELLED", 0),
    ("cancelled", "CANCEL", "CANCELLED", 0),
    ("expired", "CANCEL", "CANCELLED", 0),
])
def test_message_for_each_state(status, method, ical_status, alarms):
    got_method, body = message_for(data(status=status, sequence=1), NOW)
    assert got_method == method
    cal, vcal = parse(body)
    assert str(cal["method"]) == method and vcal.method.value == method
    assert str(ical_events(cal)[0]["status"]) == ical_status
    assert count_components(body)["VALARM"] == alarms


def test_feed_has_one_event_per_visit_and_alarms_only_for_active_ones():
    visits = [data(uid=f"v{i}@partnernetz", status=status, sequence=i,
                   start=datetime(2026, 12, 1 + i, 9, tzinfo=UTC), end=datetime(2026, 12, 1 + i, 10, tzinfo=UTC))
              for i, status in enumerate(["requested", "confirmed", "cancelled", "declined", "confirmed"])]
    body = feed(visits, NOW, "Besuche von Erika Coach; Ruhr, \"Süd\"")
    counts = count_components(body)
    assert counts == {"VCALENDAR": 1, "VTIMEZONE": 1, "VEVENT": 5, "VALARM": 3}
    cal, vcal = parse(body)
    assert str(cal["method"]) == "PUBLISH" and vcal.method.value == "PUBLISH"
    # icalendar keeps unknown X- properties raw (vUnknown); the raw value is correctly escaped TEXT.
    assert 'X-WR-CALNAME:Besuche von Erika Coach\\; Ruhr\\, "Süd"'.encode() in body
    assert vcal.contents["x-wr-calname"][0].value == "Besuche von Erika Coach; Ruhr, \"Süd\""
    events = {str(e["uid"]): e for e in ical_events(cal)}
    assert [str(events[f"v{i}@partnernetz"]["status"]) for i in range(5)] == [
        "TENTATIVE", "CONFIRMED", "CANCELLED", "CANCELLED", "CONFIRMED"]
    assert [len(events[f"v{i}@partnernetz"].walk("VALARM")) for i in range(5)] == [1, 1, 0, 0, 1]
    assert instants(body)["icalendar"] == instants(body)["vobject"] == [(v.start, v.end) for v in visits]
    assert count_components(feed([], NOW, "leer")) == {"VCALENDAR": 1, "VTIMEZONE": 1, "VEVENT": 0, "VALARM": 0}


# --- time zone --------------------------------------------------------------------------------------

def test_vtimezone_is_rule_based():
    body = invite(data(), NOW)
    assert b"RDATE" not in body
    (tz,) = parse(body)[0].walk("VTIMEZONE")
    assert str(tz["tzid"]) == "Europe/Berlin"
    daylight, standard = tz.walk("DAYLIGHT")[0], tz.walk("STANDARD")[0]
    assert daylight["rrule"] == {"FREQ": ["YEARLY"], "BYMONTH": [3], "BYDAY": ["-1SU"]}
    assert standard["rrule"] == {"FREQ": ["YEARLY"], "BYMONTH": [10], "BYDAY": ["-1SU"]}
    assert daylight["tzoffsetfrom"].td == timedelta(hours=1) and daylight["tzoffsetto"].td == timedelta(hours=2)
    assert standard["tzoffsetfrom"].td == timedelta(hours=2) and standard["tzoffsetto"].td == timedelta(hours=1)


def test_vtimezone_rules_agree_with_zoneinfo_for_years_to_come():
    """The rules as a client applies them (icalendar's and vobject's own readings) give Berlin's offsets."""
    body = invite(data(), NOW)
    vtz = parse(body)[0].walk("VTIMEZONE")[0].to_tz()
    vobject_tz = parse(body)[1].vtimezone.gettzinfo()
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment < datetime(2036, 1, 1, tzinfo=UTC):
        expected = moment.astimezone(BERLIN).utcoffset()
        assert moment.astimezone(vtz).utcoffset() == expected, moment
        assert moment.astimezone(vobject_tz).utcoffset() == expected, moment
        moment += timedelta(hours=1) if moment.month in (3, 10) and moment.day >= 24 else timedelta(days=1)


CHANGE_DAYS = [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)]


def change_day_events(day: date) -> list[tuple[datetime, datetime]]:
    """Events every 30 minutes across the change night and during the day (UTC instants)."""
    night = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=2)
    events = [(night + timedelta(minutes=30 * i), night + timedelta(minutes=30 * i + 60)) for i in range(14)]
    events.append((local_to_utc(datetime(day.year, day.month, day.day, 9)),
                   local_to_utc(datetime(day.year, day.month, day.day, 10, 30))))
    return events


@pytest.mark.parametrize("day", CHANGE_DAYS)
@pytest.mark.parametrize("builder", ["invite", "cancellation", "feed"])
def test_instants_on_change_days_read_back_exactly(day, builder):
    events = change_day_events(day)
    if builder == "feed":
        bodies = [feed([data(uid=f"e{i}@p", start=s, end=e) for i, (s, e) in enumerate(events)], NOW, "Feed")]
        expected = [events]
    else:
        build = invite if builder == "invite" else cancellation
        bodies = [build(data(start=s, end=e), NOW) for s, e in events]
        expected = [[event] for event in events]
    for body, want in zip(bodies, expected, strict=True):
        got = instants(body)
        assert got["icalendar"] == want
        assert got["vobject"] == want
        assert b"RDATE" not in body


def test_the_repeated_hour_is_written_unambiguously():
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30+02:00
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30+01:00
    for start in (first, second):
        body = invite(data(start=start, end=start + timedelta(hours=1)), NOW)
        assert instants(body)["icalendar"] == instants(body)["vobject"] == [(start, start + timedelta(hours=1))]
    # An ordinary day keeps Berlin wall-clock time with the TZID.
    assert b"DTSTART;TZID=Europe/Berlin:20261201T100000" in invite(data(), NOW)


# --- text ---------------------------------------------------------------------------------------------

def text_fields(body: bytes) -> list[dict[str, str]]:
    """SUMMARY, LOCATION, DESCRIPTION and the alarm's text of every event; both parsers must agree."""
    cal, vcal = parse(body)
    out = []
    for event in ical_events(cal):
        alarms = event.walk("VALARM")
        out.append({"summary": str(event.get("summary", "")), "location": str(event.get("location", "")),
                    "description": str(event.get("description", "")),
                    "alarm": str(alarms[0]["description"]) if alarms else None})
    vevents = vobject_events(vcal)
    assert len(vevents) == len(out)
    for fields, vevent in zip(out, vevents, strict=True):
        for name in ("summary", "location", "description"):
            node = getattr(vevent, name, None)
            assert (node.value if node is not None else "") == fields[name], name
        if fields["alarm"] is not None:
            assert vevent.valarm.description.value == fields["alarm"]
    return out


HOSTILE = [
    TRICKY,
    "Backslash \\ am Ende \\",
    "C:\\Neu\\nicht umgebrochen\\N auch nicht",
    "Komma, Semikolon; Doppelpunkt: und \"Zitat\"",
    "Zeile 1\r\nZeile 2\rZeile 3\nEND:VEVENT\nEND:VCALENDAR\nBEGIN:VEVENT",
    "Ä" * 100 + "ß€𝄞" * 30,
    "Straße 1\n\n\n58332 Schwelm",
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("builder", [invite, cancellation, lambda d, now: feed([d, d], now, "Feed")])
def test_hostile_text_round_trips_exactly_and_adds_no_component(text, builder):
    body = builder(data(summary=text, location=text, description=text, organizer_name=text, attendee_name=text),
                   NOW)
    counts = count_components(body)
    assert counts["VTIMEZONE"] == 1 and counts["VEVENT"] in (1, 2)
    assert counts["VALARM"] == (0 if builder is cancellation else counts["VEVENT"])
    want = text.replace("\r\n", "\n").replace("\r", "\n")
    for fields in text_fields(body):
        assert fields["summary"] == fields["location"] == fields["description"] == want
        assert fields["alarm"] in (None, want)


def test_names_in_cn_are_one_line_without_double_quotes():
    assert display_name(TRICKY) == "Müller; Söhne, 'GmbH' BEGIN:VALARM"
    assert display_name("  Erika\t Coach ") == "Erika Coach"
    body = invite(data(organizer_name=TRICKY, attendee_name="Jörg \"Joe\"\nÖzdemir"), NOW)
    cal, vcal = parse(body)
    event, vevent = ical_events(cal)[0], vobject_events(vcal)[0]
    assert event["organizer"].params["CN"] == vevent.organizer.params["CN"][0] == display_name(TRICKY)
    assert event["attendee"].params["CN"] == vevent.attendee.params["CN"][0] == "Jörg 'Joe' Özdemir"
    assert vevent.attendee.params["PARTSTAT"] == ["NEEDS-ACTION"]
    assert count_components(body)["VALARM"] == 1
    # Without a name, no empty CN.
    assert "CN" not in ical_events(parse(invite(data(attendee_name=""), NOW))[0])[0]["attendee"].params


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=120),
       st.sampled_from(["invite", "cancellation", "feed"]))
@pytest.mark.slow
def test_any_text_round_trips_through_both_parsers(text, builder):
    d = data(summary=text, location=text, description=text, attendee_name=text)
    body = {"invite": lambda: invite(d, NOW), "cancellation": lambda: cancellation(d, NOW),
            "feed": lambda: feed([d], NOW, text)}[builder]()
    counts = count_components(body)
    assert counts["VEVENT"] == 1 and counts["VALARM"] == (0 if builder == "cancellation" else 1)
    want = text.replace("\r\n", "\n").replace("\r", "\n")
    (fields,) = text_fields(body)
    assert fields["summary"] == fields["description"] == fields["location"] == want


# --- through the database: what the app stores is what the calendar reads ----------------------------

@pytest.mark.slow
def test_invites_of_stored_visits_carry_the_stored_instants_and_text(make_coach):
    from network.extensions import db
    from network.scheduling.booking import FirmDetails, Settings, cancel_visit, confirm_visit, request_visit
    from network.scheduling.locking import booking_transaction
    from network.scheduling.models import Visit
    from network.scheduling.notify import invite_data

    partner, user = make_coach(hours=[(6, 0, 24 * 60), (5, 0, 24 * 60)], name=TRICKY)
    stored = []
    for day in CHANGE_DAYS:
        now = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=3)
        for start in (datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC),
                      datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC)):
            with booking_transaction(db.session, partner.id):
                visit, _ = request_visit(
                    db.session, partner, start, 60,
                    FirmDetails(TRICKY, "Hauptstraße 5\r\n58332 Schwelm", "Jörg Özdemir", "jo@example.org",
                                "0171 1", partner.latitude, partner.longitude),
                    None, "Nachricht; mit, allem\\N\r\nzweite Zeile", now, Settings())
            stored.append((visit.id, now))
    for visit_id, now in stored:
        db.session.expire_all()
        visit = db.session.get(Visit, visit_id)
        body = invite(invite_data(visit, "https://p.example/t/x"), now)
        got = instants(body)
        assert got["icalendar"] == got["vobject"] == [(visit.start_at, visit.end_at)]
        (fields,) = text_fields(body)
        assert visit.firm_name == TRICKY_LF and TRICKY_LF in fields["summary"]
        assert fields["location"] == visit.firm_address == "Hauptstraße 5\n58332 Schwelm"
        assert "Nachricht: Nachricht; mit, allem\\N\nzweite Zeile" in fields["description"]
        assert count_components(body)["VALARM"] == 1
    # Confirm one and cancel another: the update and the cancellation carry the same instants.
    # (The latest two: each request wrote the earlier, long-expired ones down as expired.)
    first_id, now = stored[-2]
    with booking_transaction(db.session, partner.id):
        confirm_visit(db.session, db.session.get(Visit, first_id), user, now, Settings())
    second_id, _ = stored[-1]
    with booking_transaction(db.session, partner.id):
        cancel_visit(db.session, db.session.get(Visit, second_id), now, actor=user)
    for visit_id, method, sequence in ((first_id, "REQUEST", 1), (second_id, "CANCEL", 1)):
        visit = db.session.get(Visit, visit_id)
        got_method, body = message_for(invite_data(visit), now)
        assert got_method == method
        (event,) = ical_events(parse(body)[0])
        assert int(event["sequence"]) == sequence
        assert instants(body)["vobject"] == [(visit.start_at, visit.end_at)]
    everything = db.session.query(Visit).order_by(Visit.start_at).all()
    assert [v.status for v in everything] == ["expired"] * 6 + ["confirmed", "cancelled"]
    body = feed([invite_data(v) for v in everything], now, partner.name)
    assert count_components(body) == {"VCALENDAR": 1, "VTIMEZONE": 1, "VEVENT": 8, "VALARM": 1}
    assert instants(body)["icalendar"] == instants(body)["vobject"] == [
        (v.start_at, v.end_at) for v in everything]
    assert berlin_vtimezone()["tzid"] == "Europe/Berlin"
