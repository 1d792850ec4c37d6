"""The coach's calendar feed: the subscribe page, token rotation, and the PUBLISH feed read back with two parsers."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import vobject
from sqlalchemy import select

from conftest import log_in, post_form
from network.extensions import db
from network.scheduling.booking import (
    FirmDetails,
    book_visit,
    cancel_visit,
    decline_visit,
    request_visit,
    rotate_feed_token,
    settings_from_config,
)
from network.scheduling.localtime import local_to_utc
from network.scheduling.locking import booking_transaction
from network.scheduling.models import SchedulingProfile, Visit, WorkingHours

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
FEED_RE = re.compile(r'value="(webcal://[^"]+/feed/([A-Za-z0-9_-]+)\.ics)"')


@pytest.fixture()
def coach(make_coach, set_clock):
    """A coach (Mon–Fri 08:00–17:00) with an account; the clock at NOW."""
    set_clock(NOW)
    return make_coach(name="Thomas Berghoff")


@pytest.fixture()
def cfg(app):
    return settings_from_config(app.config)


def firm(name: str) -> FirmDetails:
    return FirmDetails(name=name, address="Heedfelder Straße 90, 58507 Lüdenscheid", contact="Claudia Pohl",
                       email="c.pohl@example.org", phone="", lat=51.2258, lon=7.6342)


def book(partner, user, start, cfg, name, now=NOW) -> Visit:
    with booking_transaction(db.session, partner.id):
        visit = book_visit(db.session, partner, user, start, 60, firm(name), None, "", now, cfg)
    return db.session.get(Visit, visit.id)


def ask(partner, start, cfg, name, now=NOW) -> Visit:
    with booking_transaction(db.session, partner.id):
        visit, _token = request_visit(db.session, partner, start, 60, firm(name), None, "", now, cfg)
    return db.session.get(Visit, visit.id)


def feed_token(partner) -> str:
    token = rotate_feed_token(db.session, partner)
    db.session.commit()
    return token


def read_feed(body: bytes):
    """{uid: (STATUS, start, end)} from icalendar, and the same from vobject."""
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["METHOD"]) == "PUBLISH"
    by_icalendar = {str(e["UID"]): (str(e["STATUS"]), e.decoded("DTSTART").astimezone(UTC),
                                    e.decoded("DTEND").astimezone(UTC)) for e in cal.walk("VEVENT")}
    vcal = vobject.readOne(body.decode("utf-8"))
    assert vcal.method.value == "PUBLISH"
    by_vobject = {e.uid.value: (e.status.value, e.dtstart.value.astimezone(UTC), e.dtend.value.astimezone(UTC))
                  for e in getattr(vcal, "vevent_list", [])}
    return by_icalendar, by_vobject


def test_feed_shows_active_visits_and_recent_cancellations_only(client, coach, cfg, set_clock):
    partner, user = coach
    confirmed = book(partner, user, local_to_utc(datetime(2026, 12, 2, 10)), cfg, "Bestätigte Firma")
    requested = ask(partner, local_to_utc(datetime(2026, 12, 3, 10)), cfg, "Angefragte Firma")
    recent = book(partner, user, local_to_utc(datetime(2026, 12, 4, 10)), cfg, "Kürzlich abgesagt")
    declined = ask(partner, local_to_utc(datetime(2026, 12, 4, 14)), cfg, "Abgelehnte Firma")
    old_start = local_to_utc(datetime(2026, 10, 20, 10))
    old = book(partner, user, old_start, cfg, "Lange abgesagt", now=old_start - timedelta(days=5))
    with booking_transaction(db.session, partner.id):
        cancel_visit(db.session, db.session.get(Visit, recent.id), NOW - timedelta(days=3), actor=user)
        cancel_visit(db.session, db.session.get(Visit, old.id), NOW - timedelta(days=40), actor=user)
        decline_visit(db.session, db.session.get(Visit, declined.id), user, "Keine Zeit", NOW)
    token = feed_token(partner)

    response = client.get(f"/feed/{token}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    by_icalendar, by_vobject = read_feed(response.data)
    assert by_icalendar == by_vobject
    db.session.expire_all()
    expected = {}
    for visit, status in ((confirmed, "CONFIRMED"), (requested, "TENTATIVE"), (recent, "CANCELLED"),
                          (declined, "CANCELLED")):
        stored = db.session.get(Visit, visit.id)
        expected[stored.uid] = (status, stored.start_at, stored.end_at)
    assert by_icalendar == expected  # the instants read back equal the stored UTC instants
    assert db.session.get(Visit, old.id).uid not in by_icalendar
    # The feed keeps no alarms for cancelled events; the active ones remind an hour before.
    cal = icalendar.Calendar.from_ical(response.data)
    alarms = {str(e["UID"]): len(e.walk("VALARM")) for e in cal.walk("VEVENT")}
    assert alarms[db.session.get(Visit, recent.id).uid] == 0
    assert alarms[db.session.get(Visit, confirmed.id).uid] == 1

    # 31 days after its cancellation the recent one is gone as well; a request nobody answered shows as cancelled.
    set_clock(NOW + timedelta(days=34))
    later, _ = read_feed(client.get(f"/feed/{token}.ics").data)
    assert db.session.get(Visit, recent.id).uid not in later
    assert later[db.session.get(Visit, requested.id).uid][0] == "CANCELLED"
    assert later[db.session.get(Visit, confirmed.id).uid][0] == "CONFIRMED"


@pytest.mark.parametrize("day,hours", [
    ((2026, 3, 29), [(1, 0), (3, 0), (10, 0)]),  # spring change: 02:00–02:59 does not exist
    ((2026, 10, 25), [(1, 0), (2, 30), (3, 0)]),  # autumn change: 02:30 twice, the first one counts
    ((2027, 3, 28), [(1, 30), (3, 30), (16, 0)]),
    ((2027, 10, 31), [(0, 30), (2, 0), (4, 0)]),
])
def test_feed_on_dst_change_days_reads_back_the_stored_instants(client, coach, cfg, set_clock, day, hours):
    partner, user = coach
    now = local_to_utc(datetime(*day, 0, 0)) - timedelta(days=10)
    set_clock(now)
    stored = {}
    for hour, minute in hours:
        start = local_to_utc(datetime(*day, hour, minute))
        visit = book(partner, user, start, cfg, f"Firma {hour:02d}:{minute:02d}", now=now)
        stored[visit.uid] = ("CONFIRMED", visit.start_at, visit.end_at)
    token = feed_token(partner)
    by_icalendar, by_vobject = read_feed(client.get(f"/feed/{token}.ics").data)
    assert by_icalendar == stored
    assert by_vobject == stored


def test_subscribe_page_shows_the_link_once_and_rotation_kills_the_old_url(client, coach):
    partner, user = coach
    log_in(client, user)
    page = client.get("/kalender/abo").get_data(as_text=True)
    assert "noch keinen Abo-Link" in page and "webcal://" not in page

    first = post_form(client, "/kalender/abo/neu")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-store"
    html = first.get_data(as_text=True)
    webcal, token = FEED_RE.search(html).groups()
    assert webcal == f"webcal://localhost/feed/{token}.ics"
    assert f'value="http://localhost/feed/{token}.ics"' in html  # the direct (http/https) variant
    assert len(token) >= 43  # 32 random bytes = 256 bits, URL-safe base64
    profile = db.session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
    assert token not in (profile.feed_token_hash or "") and len(profile.feed_token_hash) == 64  # only the hash
    assert client.get(f"/feed/{token}.ics").status_code == 200

    again = client.get("/kalender/abo").get_data(as_text=True)
    assert token not in again and "Fingerabdruck" in again and "neuen" in again

    second = post_form(client, "/kalender/abo/neu").get_data(as_text=True)
    _webcal, new_token = FEED_RE.search(second).groups()
    assert new_token != token
    assert client.get(f"/feed/{token}.ics").status_code == 404
    assert client.get(f"/feed/{new_token}.ics").status_code == 200


def test_unknown_tokens_are_404_and_need_no_login(client, coach):
    partner, _user = coach
    token = feed_token(partner)
    assert client.get(f"/feed/{token}.ics").status_code == 200  # anonymous: the token is the key
    for wrong in (token[:-1], token + "x", "A" * 43, "x" * 300, ""):
        assert client.get(f"/feed/{wrong}.ics").status_code == 404


def test_feed_of_one_coach_never_contains_anothers_visits(client, coach, make_partner, cfg):
    partner, user = coach
    other = make_partner(name="Andere Person")
    for weekday in range(5):
        db.session.add(WorkingHours(partner_id=other.id, weekday=weekday, start_minute=480, end_minute=1020))
    db.session.commit()
    mine = book(partner, user, local_to_utc(datetime(2026, 12, 2, 10)), cfg, "Meine Firma")
    theirs = ask(other, local_to_utc(datetime(2026, 12, 2, 10)), cfg, "Fremde Firma")
    by_icalendar, _ = read_feed(client.get(f"/feed/{feed_token(partner)}.ics").data)
    assert set(by_icalendar) == {mine.uid}
    assert theirs.uid not in by_icalendar


def test_cancellation_counts_from_the_injected_clock(client, coach, cfg, set_clock):
    """The 30 days run from the cancellation instant, not from the wall clock the row was written at."""
    partner, user = coach
    future_now = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)
    set_clock(future_now)
    visit = book(partner, user, local_to_utc(datetime(2027, 6, 8, 10)), cfg, "Firma im Juni", now=future_now)
    with booking_transaction(db.session, partner.id):
        cancel_visit(db.session, db.session.get(Visit, visit.id), future_now, actor=user)
    token = feed_token(partner)
    feed_now, _ = read_feed(client.get(f"/feed/{token}.ics").data)
    assert feed_now[visit.uid][0] == "CANCELLED"
    set_clock(future_now + timedelta(days=31))
    feed_later, _ = read_feed(client.get(f"/feed/{token}.ics").data)
    assert visit.uid not in feed_later
