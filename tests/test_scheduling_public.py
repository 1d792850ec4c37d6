"""The firm's pages: request a visit with no account, then view, download, reschedule or cancel it by private link."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import icalendar
import pytest
import vobject
from sqlalchemy import select

from conftest import csrf_from, visit_count
from network.extensions import db, limiter
from network.scheduling.models import Visit

pytestmark = pytest.mark.usefixtures("lifted_rate_limits")

FIRM_ADDRESS = "Hauptstraße 5, 58332 Schwelm"
TRICKY_FIRM = 'Müller; Söhne, "GmbH"\r\nBEGIN:VALARM'


# --- helpers (imported by the API tests too; the fixtures now, coach, smtp are in conftest) -----------


def calendar_part(message) -> tuple[str, bytes]:
    """(method parameter, body) of the text/calendar alternative of an iMIP mail."""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return part.get_param("method"), part.get_payload(decode=True)
    raise AssertionError("no text/calendar part")


def parse_ics(body: bytes):
    """Parse with both icalendar and vobject; returns (icalendar calendar, vobject calendar)."""
    cal = icalendar.Calendar.from_ical(body)
    vcal = vobject.readOne(body.decode("utf-8"))
    return cal, vcal


def components(cal, name: str) -> list:
    return [c for c in cal.walk() if c.name == name]


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def request_page(client, partner, **params) -> str:
    response = client.get(f"/partner/{partner.id}/termin", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    return response.get_data(as_text=True)


def slot_values(html: str) -> list[str]:
    return re.findall(r'name="start" value="([^"]+)"', html)


def post_request(client, partner, *, page_params=None, **fields):
    """Fill the request form like a browser: GET the page (CSRF token), then POST it."""
    html = request_page(client, partner, **(page_params or {}))
    data = {
        "csrf_token": csrf_from(html),
        "duration": "60",
        "start": "2026-12-01T10:00:00+01:00",
        "firm_name": "Beispiel GmbH",
        "firm_address": FIRM_ADDRESS,
        "contact": "Erika Muster",
        "email": "erika@example.org",
        "phone": "+49 2336 12345",
        "topic": "prozessoptimierung",
        "message": "Wir möchten unsere Fertigung digitalisieren.",
    }
    data.update(fields)
    return client.post(f"/partner/{partner.id}/termin", data=data)


def request_and_follow(client, partner, **fields) -> tuple[str, str]:
    """Request a visit through the form; returns (manage path, manage page html)."""
    response = post_request(client, partner, **fields)
    assert response.status_code == 303, response.get_data(as_text=True)[:1500]
    manage = response.headers["Location"]
    page = client.get(manage)
    assert page.status_code == 200
    return path_of(manage), page.get_data(as_text=True)


# --- the profile link --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "linked"), [
    ("innovationscoach", True), ("technologiescout", True), ("hochschulinstitut", False),
    ("innoscheck-fachberater", False),
])
def test_profile_links_to_the_request_page_for_coaches_and_scouts(client, make_partner, kind, linked):
    partner = make_partner(kind=kind)
    html = client.get(f"/partner/{partner.id}").get_data(as_text=True)
    link = f'href="/partner/{partner.id}/termin"'
    assert (link in html) is linked
    assert ("Vor-Ort-Termin anfragen" in html) is linked


# --- the request page ---------------------------------------------------------------------------------


def test_request_page_lists_free_slots_grouped_by_berlin_day(client, coach):
    html = request_page(client, coach, **{"from": "2026-11-30"})
    values = slot_values(html)
    # Two weeks from Monday 30 November, weekdays only, 08:00–17:00 Berlin time, offset +01:00.
    days = sorted({v[:10] for v in values})
    assert days == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04",
                    "2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11"]
    assert all(v.endswith("+01:00") for v in values)
    assert "2026-12-01T16:00:00+01:00" in values and "2026-12-01T16:30:00+01:00" not in values
    # Without the firm's place the trip from the home base counts only the buffer: 08:00 + 15 min.
    assert "2026-12-01T08:00:00+01:00" not in values and "2026-12-01T08:30:00+01:00" in values
    assert html.index("Montag, 30. November 2026") < html.index("Dienstag, 1. Dezember 2026")
    assert "Samstag" not in html
    assert "beim Absenden geprüft" in html
    assert 'name="firm_name"' in html and 'name="email"' in html and 'name="topic"' in html


def test_day_names_follow_the_language(client, coach):
    html = request_page(client, coach, lang="en", **{"from": "2026-12-01"})
    assert "Tuesday, December 1, 2026" in html and "Dienstag" not in html


def test_near_makes_travel_count_and_unknown_places_get_suggestions(client, coach):
    html = request_page(client, coach, near="Dortmund", **{"from": "2026-12-01"})
    values = slot_values(html)
    # Schwelm -> Dortmund: ~28 km x 1.3 at 50 km/h + 15 min buffer ≈ 59 min after 08:00.
    assert "2026-12-01T08:30:00+01:00" not in values and "2026-12-01T09:00:00+01:00" in values
    assert "Die Fahrzeit nach Dortmund" in html
    assert 'value="Dortmund"' in html  # the address field is prefilled

    response = client.get(f"/partner/{coach.id}/termin", query_string={"near": "Schwelmm"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "„Schwelmm“ wurde nicht gefunden." in html
    assert "Meinten Sie:" in html and "Schwelm, Nordrhein-Westfalen" in html


def test_duration_and_week_paging(client, coach):
    html = request_page(client, coach, duration="120", **{"from": "2026-12-01"})
    assert "08:30 – 10:30" in html
    assert "2026-12-01T15:00:00+01:00" in slot_values(html) and "2026-12-01T15:30:00+01:00" not in slot_values(html)
    assert "from=2026-12-08" in html and "from=2026-11-24" in html  # a week later / earlier
    first = request_page(client, coach)  # today: no earlier week
    assert "eine Woche früher" not in first and "from=2026-12-03" in first
    assert client.get(f"/partner/{coach.id}/termin?duration=45").status_code == 200  # falls back to 60


def test_partners_without_working_hours_or_archived_cannot_be_requested(client, make_partner, now):
    plain = make_partner(kind="innovationscoach")
    response = client.get(f"/partner/{plain.id}/termin")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "keine Arbeitszeiten" in html and "können keine Vor-Ort-Termine angefragt werden" in html
    token = csrf_from(client.get("/anmelden").get_data(as_text=True))
    response = client.post(f"/partner/{plain.id}/termin", data={"csrf_token": token, "start": "2026-12-01T10:00"})
    assert response.status_code == 409
    assert visit_count() == 0
    archived = make_partner(is_archived=True)
    assert client.get(f"/partner/{archived.id}/termin").status_code == 404
    assert client.get("/partner/999999/termin").status_code == 404


# --- sending the request --------------------------------------------------------------------------------


def test_request_stores_the_visit_redirects_to_the_private_page_and_mails_both(client, coach, smtp):
    response = post_request(client, coach)
    assert response.status_code == 303
    manage = path_of(response.headers["Location"])
    assert re.fullmatch(r"/termin/[A-Za-z0-9_-]{40,}", manage)
    visit = db.session.scalars(select(Visit)).one()
    assert visit.status == "requested" and visit.requested_by == "firm"
    assert visit.start_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert visit.firm_lat == pytest.approx(51.2863) and visit.firm_lon == pytest.approx(7.2939)
    assert visit.topic.slug == "prozessoptimierung"
    assert visit.manage_token_hash and manage.rsplit("/", 1)[1] not in visit.manage_token_hash

    page = client.get(manage)
    html = page.get_data(as_text=True)
    assert "Ihre Anfrage ist gesendet" in html
    assert "Angefragt – wartet auf die Bestätigung" in html
    assert "Dienstag, 1. Dezember 2026, 10:00 – 11:00 Uhr" in html
    assert f'href="{manage}.ics"' in html
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"

    by_rcpt = {m["To"]: m for m in smtp.messages}
    assert set(by_rcpt) == {"erika@example.org", coach.email}
    method, body = calendar_part(by_rcpt["erika@example.org"])
    assert method == "REQUEST"
    assert manage in body.decode("utf-8").replace("\r\n ", "")  # the firm's mail carries its private link
    assert manage not in calendar_part(by_rcpt[coach.email])[1].decode("utf-8").replace("\r\n ", "")


def test_bad_input_names_the_fields_and_stores_nothing(client, coach):
    response = post_request(client, coach, start="", firm_name=" ", email="keine-adresse", contact="")
    assert response.status_code == 400
    html = unescape(response.get_data(as_text=True))
    assert "Bitte wählen Sie einen Termin aus der Liste." in html
    assert "Bitte geben Sie den Namen der Firma an." in html
    assert "„keine-adresse“ ist keine gültige E-Mail-Adresse." in html
    assert "Bitte geben Sie eine Ansprechperson an." in html
    assert 'id="firm_name-error"' in html and 'id="email-error"' in html
    assert f'value="{FIRM_ADDRESS}"' in html and 'value="+49 2336 12345"' in html  # entered values stay
    assert visit_count() == 0


def test_unknown_firm_address_is_a_field_error_with_suggestions(client, coach):
    response = post_request(client, coach, firm_address="Industriestraße 3, Schwelmm")
    assert response.status_code == 400
    html = unescape(response.get_data(as_text=True))
    assert 'id="firm_address-error"' in html
    assert "Die Adresse „Industriestraße 3, Schwelmm“ wurde nicht gefunden." in html
    assert "Meinten Sie:" in html
    assert visit_count() == 0


def test_non_existent_local_time_is_refused_clearly(client, coach):
    response = post_request(client, coach, start="2026-03-29T02:30")
    assert response.status_code == 400
    assert "Die Uhrzeit 29.03.2026 02:30 gibt es in Deutschland nicht" in unescape(response.get_data(as_text=True))
    assert visit_count() == 0


def test_missing_csrf_token_is_refused(client, coach):
    response = client.post(f"/partner/{coach.id}/termin", data={"start": "2026-12-01T10:00:00+01:00",
                                                                "firm_name": "X", "firm_address": FIRM_ADDRESS})
    assert response.status_code == 400
    assert visit_count() == 0


def test_taken_slot_answers_409_with_the_next_free_slots_and_keeps_the_input(client, coach):
    request_and_follow(client, coach)
    response = post_request(client, coach, firm_name="Zweite Firma KG", start="2026-12-01T10:30:00+01:00")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Dieser Termin ist leider nicht mehr möglich." in html
    assert "überschneidet sich" in html
    offered = slot_values(html)
    assert offered[0] == "2026-12-01T11:00:00+01:00" and len(offered) == 5
    assert 'value="Zweite Firma KG"' in html
    assert visit_count() == 1


def test_travel_is_checked_on_sending_when_the_page_did_not_know_the_place(client, coach):
    # 08:30 was offered without a place; from Schwelm to Dortmund the coach needs about an hour.
    response = post_request(client, coach, start="2026-12-01T08:30:00+01:00", firm_address="Dortmund")
    assert response.status_code == 409
    html = unescape(response.get_data(as_text=True))
    assert "Vom Dienstort aus ist der Ort zu dieser Uhrzeit nicht erreichbar." in html
    assert slot_values(html)[0] == "2026-12-01T09:00:00+01:00"
    assert visit_count() == 0


def test_a_mail_failure_keeps_the_booking_and_tells_the_user(client, coach, broken_smtp, caplog):
    response = post_request(client, coach)
    assert response.status_code == 303
    assert visit_count() == 1
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "die Benachrichtigung per E-Mail konnte gerade nicht versendet werden" in html
    assert any("Notification for visit" in r.getMessage() for r in caplog.records)


def test_form_posts_are_rate_limited_per_address(client, app, coach):
    app.config["VISIT_REQUEST_RATE_LIMIT"] = "2 per hour"
    limiter.reset()
    codes = [post_request(client, coach, start=f"2026-12-0{day}T10:00:00+01:00").status_code for day in (1, 2, 3)]
    assert codes == [303, 303, 429]
    assert visit_count() == 2
    assert client.get(f"/partner/{coach.id}/termin").status_code == 200  # reading is not limited


# --- the private page: reschedule, cancel, .ics -----------------------------------------------------------


def test_reschedule_and_cancel_through_the_page(client, coach, smtp):
    manage, html = request_and_follow(client, coach)
    assert "2026-12-01T10:00:00+01:00" not in slot_values(html)  # its own time is not offered as a move
    smtp.clear()
    visit = db.session.scalars(select(Visit)).one()
    first_sequence = visit.sequence

    response = client.post(f"{manage}/reschedule", data={"csrf_token": csrf_from(html),
                                                         "start": "2026-12-02T14:00:00+01:00"})
    assert response.status_code == 303 and path_of(response.headers["Location"]) == manage
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    assert visit.start_at == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    assert visit.sequence == first_sequence + 1 and visit.status == "requested"
    assert {m["To"] for m in smtp.messages} == {"erika@example.org", coach.email}
    html = client.get(manage).get_data(as_text=True)
    assert "Der Termin ist verschoben." in html and "Mittwoch, 2. Dezember 2026, 14:00 – 15:00 Uhr" in html

    smtp.clear()
    response = client.post(f"{manage}/cancel", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).status == "cancelled"
    assert [calendar_part(m)[0] for m in smtp.messages] == ["CANCEL", "CANCEL"]
    html = client.get(manage).get_data(as_text=True)
    assert "Abgesagt" in html and "kann nicht mehr geändert werden" in html
    assert "/reschedule" not in html and "/cancel" not in html
    ics = client.get(f"{manage}.ics")
    assert ics.headers["Content-Type"] == "text/calendar; charset=utf-8; method=CANCEL"
    # A second cancel changes nothing.
    assert client.post(f"{manage}/cancel", data={"csrf_token": csrf_from(html)}).status_code == 303
    assert "bereits beendet" in client.get(manage).get_data(as_text=True)


def test_form_posts_on_the_private_page_need_the_csrf_token(client, coach):
    manage, _html = request_and_follow(client, coach)
    assert client.post(f"{manage}/cancel", data={}).status_code == 400
    assert client.post(f"{manage}/reschedule", data={"start": "2026-12-02T14:00:00+01:00"}).status_code == 400
    db.session.expire_all()
    visit = db.session.scalars(select(Visit)).one()
    assert visit.status == "requested" and visit.start_at.hour == 9


def test_reschedule_form_conflict_offers_next_free_slots(client, coach):
    manage_a, html_a = request_and_follow(client, coach)
    request_and_follow(client, coach, start="2026-12-02T10:00:00+01:00", firm_name="Andere GmbH")
    response = client.post(f"{manage_a}/reschedule", data={"csrf_token": csrf_from(html_a),
                                                           "start": "2026-12-02T10:30:00+01:00"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "überschneidet sich" in html and slot_values(html)[0] == "2026-12-02T11:00:00+01:00"
    response = client.post(f"{manage_a}/reschedule", data={"csrf_token": csrf_from(html_a), "start": ""})
    assert response.status_code == 400 and "Bitte wählen Sie einen neuen Termin" in response.get_data(as_text=True)


def test_a_private_link_acts_on_its_own_visit_only(client, coach, make_coach):
    other_partner, _ = make_coach()
    manage_a, html_a = request_and_follow(client, coach)
    manage_b, _html_b = request_and_follow(client, other_partner, firm_name="Firma B")
    visit_a = db.session.scalar(select(Visit).where(Visit.firm_name == "Beispiel GmbH"))
    visit_b = db.session.scalar(select(Visit).where(Visit.firm_name == "Firma B"))
    assert client.post(f"{manage_a}/cancel", data={"csrf_token": csrf_from(html_a)}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Visit, visit_a.id).status == "cancelled"
    assert db.session.get(Visit, visit_b.id).status == "requested"
    assert "Firma B" not in client.get(manage_a).get_data(as_text=True)

    bogus = "/termin/" + "x" * 43
    token = csrf_from(html_a)
    for response in (client.get(bogus), client.get(bogus + ".ics"),
                     client.post(bogus + "/cancel", data={"csrf_token": token}),
                     client.post(bogus + "/reschedule", data={"csrf_token": token, "start": "2026-12-02T14:00"}),
                     client.get("/termin/" + "y" * 500)):
        assert response.status_code == 404
    # The plain token works, its hash (what the database holds) does not.
    assert client.get(f"/termin/{visit_b.manage_token_hash}").status_code == 404


# --- hostile text ----------------------------------------------------------------------------------


def test_hostile_names_stay_text_in_pages_and_in_the_ics(client, make_coach, now):
    from network.directory.demo import XSS_DEMO_NAME

    partner, _ = make_coach(name=XSS_DEMO_NAME)
    html = request_page(client, partner)
    assert XSS_DEMO_NAME not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    manage, html = request_and_follow(client, partner, firm_name=TRICKY_FIRM, message="a\r\nb;c,d\\e")
    assert XSS_DEMO_NAME not in html and "<script>" not in html.split("<main", 1)[1]
    assert ("Müller; Söhne, &#34;GmbH&#34;\nBEGIN:VALARM" in html
            or "Müller; Söhne, &quot;GmbH&quot;\nBEGIN:VALARM" in html)

    response = client.get(f"{manage}.ics")
    assert response.headers["Content-Disposition"] == "attachment; filename=invite.ics"
    cal, vcal = parse_ics(response.data)
    assert len(components(cal, "VEVENT")) == 1 and len(components(cal, "VALARM")) == 1
    assert len(vcal.vevent_list) == 1 and len(vcal.vevent.valarm_list) == 1
    event = components(cal, "VEVENT")[0]
    assert "Müller; Söhne, \"GmbH\"\nBEGIN:VALARM" in str(event["summary"])
    assert XSS_DEMO_NAME in str(event["summary"])
    assert "a\nb;c,d\\e" in str(event["description"])
    assert vcal.vevent.summary.value == str(event["summary"])
    # The text "BEGIN:VALARM" stays inside escaped property values; only one line opens a component.
    lines = response.data.decode("utf-8").replace("\r\n ", "").split("\r\n")
    assert [line for line in lines if line.startswith("BEGIN:")] == ["BEGIN:VCALENDAR", "BEGIN:VTIMEZONE",
                                                                       "BEGIN:DAYLIGHT", "BEGIN:STANDARD",
                                                                       "BEGIN:VEVENT", "BEGIN:VALARM"]
