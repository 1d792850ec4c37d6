"""iMIP mails from the coach's actions, received by a real SMTP server on loopback (aiosmtpd) and parsed back."""
from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest
import vobject
from sqlalchemy import select

from conftest import csrf_from, log_in, post_form
from network.extensions import db
from network.mail import Mailer
from network.scheduling.booking import FirmDetails, request_visit, settings_from_config
from network.scheduling.localtime import local_to_utc
from network.scheduling.locking import booking_transaction
from network.scheduling.models import Visit

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
NASTY = 'Müller; Söhne, "GmbH"\r\nBEGIN:VALARM'


@pytest.fixture()
def coach(make_coach, set_clock):
    """A coach (Mon–Fri 08:00–17:00) with an account; the clock at NOW."""
    set_clock(NOW)
    return make_coach(name="Katrin Vollmer", email="katrin.vollmer@example.org")


def firm_request(app, partner, start_local: datetime, name="Schwelmer Federnwerk GmbH") -> Visit:
    firm = FirmDetails(name=name, address="Ruhrstraße 55, 58332 Schwelm", contact="Jürgen Weiß",
                       email="j.weiss@federnwerk.example.org", phone="+49 2336 1234", lat=51.2863, lon=7.2939)
    with booking_transaction(db.session, partner.id):
        visit, _token = request_visit(db.session, partner, local_to_utc(start_local), 60, firm, "it-sicherheit",
                                      "Bitte mit Werksführung.", NOW, settings_from_config(app.config))
    return db.session.get(Visit, visit.id)


def parts_of(msg: email.message.EmailMessage) -> tuple[email.message.EmailMessage, ...]:
    """(text/plain, text/calendar, invite.ics) after checking the iMIP structure."""
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = list(msg.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    plain, calendar = list(alternative.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_content_charset().lower() == "utf-8"
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    return plain, calendar, attachment


def calendar_bytes(msg) -> tuple[str, bytes]:
    _plain, calendar, attachment = parts_of(msg)
    body = calendar.get_payload(decode=True)
    assert attachment.get_payload(decode=True) == body  # the attachment is the same calendar
    return calendar.get_param("method"), body


def read_both(body: bytes):
    """The single VEVENT as icalendar sees it and as vobject sees it."""
    cal = icalendar.Calendar.from_ical(body)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    vcal = vobject.readOne(body.decode("utf-8"))
    assert len(list(vcal.vevent_list)) == 1
    return cal, events[0], vcal, vcal.vevent


def test_confirm_reschedule_cancel_send_imip_mails_with_stable_uid_and_rising_sequence(app, client, coach, smtp):
    partner, user = coach
    visit = firm_request(app, partner, datetime(2026, 12, 2, 10, 0))
    log_in(client, user)
    seen = []

    for action, data in (("bestaetigen", {}), ("verschieben", {"date": "2026-12-03", "time": "14:00"}),
                         ("absagen", {})):
        assert post_form(client, f"/kalender/termine/{visit.id}/{action}", data).status_code == 302
        received = smtp.take()
        assert sorted(r[0] for r, _m in received) == ["j.weiss@federnwerk.example.org", "katrin.vollmer@example.org"]
        db.session.expire_all()
        stored = db.session.get(Visit, visit.id)
        for _rcpts, msg in received:
            method, body = calendar_bytes(msg)
            cal, event, vcal, vevent = read_both(body)
            assert str(cal["METHOD"]) == method
            assert str(event["UID"]) == stored.uid == vevent.uid.value
            assert int(event["SEQUENCE"]) == stored.sequence == int(vevent.sequence.value)
            # Instants read back (icalendar and vobject) equal the stored UTC instants.
            assert event.decoded("DTSTART").astimezone(UTC) == stored.start_at
            assert event.decoded("DTEND").astimezone(UTC) == stored.end_at
            assert vevent.dtstart.value.astimezone(UTC) == stored.start_at
            assert vevent.dtend.value.astimezone(UTC) == stored.end_at
            seen.append((action, method, int(event["SEQUENCE"]), str(event["STATUS"]),
                         len(event.walk("VALARM")), str(event["UID"])))

    assert [s[:5] for s in seen[::2]] == [
        ("bestaetigen", "REQUEST", 1, "CONFIRMED", 1),
        ("verschieben", "REQUEST", 2, "CONFIRMED", 1),
        ("absagen", "CANCEL", 3, "CANCELLED", 0),
    ]
    assert len({s[5] for s in seen}) == 1  # one UID through update and cancellation
    assert [s[2] for s in seen[::2]] == sorted({s[2] for s in seen})  # strictly increasing


def test_decline_sends_a_cancel_with_the_reason(app, client, coach, smtp):
    partner, user = coach
    visit = firm_request(app, partner, datetime(2026, 12, 2, 10, 0))
    log_in(client, user)
    assert post_form(client, f"/kalender/termine/{visit.id}/ablehnen",
                     {"reason": "In der Woche bin ich auf Messe."}).status_code == 302
    to_firm = [m for r, m in smtp.take() if r == ["j.weiss@federnwerk.example.org"]]
    assert len(to_firm) == 1
    plain, _calendar, _attachment = parts_of(to_firm[0])
    assert "In der Woche bin ich auf Messe." in plain.get_content()
    method, body = calendar_bytes(to_firm[0])
    _cal, event, _vcal, vevent = read_both(body)
    assert method == "CANCEL" and str(event["STATUS"]) == "CANCELLED" and not event.walk("VALARM")
    assert vevent.status.value == "CANCELLED"


def test_nasty_firm_name_round_trips_and_adds_no_component(app, client, coach, smtp):
    partner, user = coach
    visit = firm_request(app, partner, datetime(2026, 12, 2, 10, 0), name=NASTY)
    log_in(client, user)
    assert post_form(client, f"/kalender/termine/{visit.id}/bestaetigen").status_code == 302
    for _rcpts, msg in smtp.take():
        assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
        _method, body = calendar_bytes(msg)
        cal, event, _vcal, vevent = read_both(body)
        expected = NASTY.replace("\r\n", "\n")
        assert expected in str(event["SUMMARY"]) and expected in vevent.summary.value
        assert len(cal.walk("VALARM")) == 1  # only the real reminder
        # The name's "BEGIN:VALARM" stays escaped text inside SUMMARY; only one line really begins a component.
        assert body.split(b"\r\n").count(b"BEGIN:VALARM") == 1
        assert body.split(b"\r\n").count(b"BEGIN:VEVENT") == 1


def test_direct_booking_sends_the_firm_a_working_private_link(app, client, coach, smtp):
    partner, user = coach
    log_in(client, user)
    response = post_form(client, "/kalender/neu", {
        "date": "2026-12-02", "time": "10:00", "duration": "60", "firm_name": "Harkort Maschinenbau GmbH",
        "firm_address": "Kaiserstraße 88, 58300 Wetter", "contact": "Dirk Heitkamp",
        "email": "d.heitkamp@harkort.example.org", "phone": "", "topic": "", "message": ""})
    assert response.status_code == 302
    received = dict((r[0], m) for r, m in smtp.take())
    assert set(received) == {"d.heitkamp@harkort.example.org", "katrin.vollmer@example.org"}
    plain, _cal, _att = parts_of(received["d.heitkamp@harkort.example.org"])
    link = re.search(r"https?://\S+/termin/(\S+)", plain.get_content())
    if "scheduling.manage_visit" in app.view_functions:
        assert link, plain.get_content()
        client.post("/abmelden", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
        assert client.get(f"/termin/{link.group(1)}").status_code == 200
    # The coach's copy points to the coach's page instead.
    coach_text = parts_of(received["katrin.vollmer@example.org"])[0].get_content()
    visit = db.session.scalar(select(Visit))
    assert f"/kalender/termine/{visit.id}" in coach_text


def test_without_smtp_the_mails_land_in_the_instance_outbox(app, client, coach):
    partner, user = coach
    original = app.extensions["partnernetz.mailer"]
    app.extensions["partnernetz.mailer"] = Mailer({**app.config, "MAIL_SERVER": None}, app.instance_path)
    outbox = Path(app.instance_path) / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    try:
        visit = firm_request(app, partner, datetime(2026, 12, 2, 10, 0))
        log_in(client, user)
        assert post_form(client, f"/kalender/termine/{visit.id}/bestaetigen").status_code == 302
    finally:
        app.extensions["partnernetz.mailer"] = original
    new = sorted(set(outbox.glob("*.eml")) - before)
    assert len(new) == 2
    recipients = set()
    for path in new:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        recipients.add(msg["To"])
        method, body = calendar_bytes(msg)
        _cal, event, _vcal, _vevent = read_both(body)
        assert method == "REQUEST" and int(event["SEQUENCE"]) == 1
    assert recipients == {"j.weiss@federnwerk.example.org", "katrin.vollmer@example.org"}


def test_a_mail_failure_keeps_the_change_and_says_so(app, client, coach, broken_smtp, caplog):
    partner, user = coach
    visit = firm_request(app, partner, datetime(2026, 12, 2, 10, 0))
    log_in(client, user)
    response = post_form(client, f"/kalender/termine/{visit.id}/bestaetigen")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).status == "confirmed"
    assert "E-Mail-Benachrichtigung konnte nicht verschickt werden" in page
    assert any("Notification for visit" in r.getMessage() for r in caplog.records)
