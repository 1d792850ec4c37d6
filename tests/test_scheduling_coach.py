"""Coach's side of the scheduler: permissions on each route, visit states, direct booking, hours, absences, demo."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from conftest import berlin, csrf_from
from conftest import post_form as post
from network.directory.models import Partner
from network.extensions import db
from network.scheduling.booking import (
    FirmDetails,
    available_slots,
    book_visit,
    load_schedule,
    request_visit,
    settings_from_config,
)
from network.scheduling.localtime import BERLIN, local_to_utc
from network.scheduling.locking import booking_transaction
from network.scheduling.models import Absence, SchedulingProfile, Visit, WorkingHours
from network.scheduling.slots import SlotRejected, check_visit

# Monday 2026-11-30, 09:00 in Berlin.
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SCHWELM = (51.2863, 7.2939)  # the test coach's listing (make_partner default) and the firm's postcode
SIEGEN = (50.8734, 8.0104)  # about 80 km away


@pytest.fixture(autouse=True)
def _clock(set_clock):
    set_clock(NOW)


@pytest.fixture()
def cfg(app):
    return settings_from_config(app.config)


@pytest.fixture()
def people(make_coach, make_user):
    """Two coaches (Mon–Fri 08:00–17:00) with their listings, a regional editor (of coach A's region) and an admin."""
    result = {}
    for key, name in (("a", "Coach Anna"), ("b", "Coach Bernd")):
        result[f"partner_{key}"], result[f"coach_{key}"] = make_coach(name=name)
    result["editor"] = make_user("editor", regions=["ennepe-ruhr-kreis"])
    result["admin"] = make_user("admin")
    return result


def firm(name="Schwelmer Federnwerk GmbH", place=SCHWELM, email="m.becker@federnwerk.example.org") -> FirmDetails:
    return FirmDetails(name=name, address="Ruhrstraße 55, 58332 Schwelm", contact="Michael Becker", email=email,
                       phone="+49 2336 123456", lat=place[0], lon=place[1])


def make_request(partner, start, cfg, *, duration=60, place=SCHWELM, name="Schwelmer Federnwerk GmbH",
                 now=NOW) -> Visit:
    with booking_transaction(db.session, partner.id):
        visit, _token = request_visit(db.session, partner, start, duration, firm(name, place), None,
                                      "Bitte kommen Sie vorbei.", now, cfg)
    return db.session.get(Visit, visit.id)


def make_booking(partner, user, start, cfg, *, duration=60, place=SCHWELM, name="Ennepe Schmiede GmbH",
                 now=NOW) -> Visit:
    with booking_transaction(db.session, partner.id):
        visit = book_visit(db.session, partner, user, start, duration, firm(name, place), None, "", now, cfg)
    return db.session.get(Visit, visit.id)


def token_for(client, path="/") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def fresh(visit: Visit) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit.id)


# ---------------------------------------------------------------------------------------------- permissions

VISIT_GETS = ["/kalender/termine/{visit}", "/kalender/termine/{visit}/termin.ics"]
PARTNER_GETS = ["/kalender?partner={partner}", "/kalender/neu?partner={partner}",
                "/kalender/arbeitszeiten?partner={partner}", "/kalender/abwesenheiten?partner={partner}",
                "/kalender/abo?partner={partner}"]
VISIT_POSTS = [
    ("/kalender/termine/{visit}/bestaetigen", {}),
    ("/kalender/termine/{visit}/ablehnen", {"reason": "Keine Zeit"}),
    ("/kalender/termine/{visit}/verschieben", {"date": "2026-12-03", "time": "10:00"}),
    ("/kalender/termine/{visit}/absagen", {}),
    ("/kalender/termine/{visit}/ergebnis", {"took_place": "ja", "notes": "gut"}),
]
PARTNER_POSTS = [
    ("/kalender/neu?partner={partner}", {"date": "2026-12-04", "time": "10:00", "duration": "60",
                                         "firm_name": "Neue Firma", "firm_address": "58332 Schwelm"}),
    ("/kalender/arbeitszeiten?partner={partner}", {"h0-0-start": "09:00", "h0-0-end": "12:00",
                                                   "home_address": "58332 Schwelm", "min_notice_hours": "24",
                                                   "horizon_weeks": "8"}),
    ("/kalender/abwesenheiten?partner={partner}", {"start_date": "2026-12-07", "end_date": "2026-12-08",
                                                   "reason": "vacation"}),
    ("/kalender/abwesenheiten/{absence}/loeschen?partner={partner}", {}),
    ("/kalender/abo/neu?partner={partner}", {}),
]
ROLES = ["owner", "other_coach", "editor", "admin", "anonymous"]


def _world(people, cfg):
    partner = people["partner_a"]
    visit = make_request(partner, berlin(2026, 12, 2, 10), cfg)
    absence = Absence(partner_id=partner.id, start_date=date(2026, 12, 14), end_date=date(2026, 12, 14))
    db.session.add(absence)
    db.session.commit()
    return {"visit": visit.id, "partner": partner.id, "absence": absence.id}


def _snapshot(ids):
    db.session.expire_all()
    visit = db.session.get(Visit, ids["visit"])
    profile = db.session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == ids["partner"]))
    return (visit.status, visit.start_at, visit.sequence,
            db.session.scalar(select(func.count(Visit.id))),
            db.session.scalar(select(func.count(Absence.id))),
            db.session.scalar(select(func.count(WorkingHours.id))),
            profile.feed_token_hash if profile else None)


def _login_as(role, people, login):
    user = {"owner": people["coach_a"], "other_coach": people["coach_b"], "editor": people["editor"],
            "admin": people["admin"]}.get(role)
    if user is not None:
        login(user)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", VISIT_GETS + PARTNER_GETS)
def test_get_permissions(client, people, cfg, login, role, path):
    ids = _world(people, cfg)
    _login_as(role, people, login)
    response = client.get(path.format(**ids))
    if role == "anonymous":
        assert response.status_code == 302 and "/anmelden" in response.headers["Location"]
    elif role in ("owner", "admin"):
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path,data", VISIT_POSTS + PARTNER_POSTS)
def test_post_permissions_and_nothing_changes_for_outsiders(client, people, cfg, login, role, path, data):
    ids = _world(people, cfg)
    _login_as(role, people, login)
    before = _snapshot(ids)
    response = post(client, path.format(**ids), data)
    if role == "anonymous":
        assert response.status_code == 302 and "/anmelden" in response.headers["Location"]
        assert _snapshot(ids) == before
    elif role in ("other_coach", "editor"):
        assert response.status_code == 403
        assert _snapshot(ids) == before
    else:
        # Allowed: the action runs (or is refused for its state, e.g. an outcome before the start) — never 403.
        assert response.status_code in (200, 302, 409), response.get_data(as_text=True)[:300]


def test_coach_sees_own_calendar_without_parameter_and_never_someone_elses(client, people, cfg, login):
    make_request(people["partner_a"], berlin(2026, 12, 2, 10), cfg, name="Firma für Anna")
    make_request(people["partner_b"], berlin(2026, 12, 2, 10), cfg, name="Firma für Bernd")
    login(people["coach_b"])
    html = client.get("/kalender").get_data(as_text=True)
    assert "Firma für Bernd" in html and "Firma für Anna" not in html
    assert client.get(f"/kalender?partner={people['partner_a'].id}").status_code == 403
    assert client.get("/kalender?partner=999999").status_code == 403  # no hint which ids exist
    assert client.get("/kalender?partner=abc").status_code == 404


def test_admin_picks_a_coach_and_helps_out(client, people, cfg, login):
    visit = make_request(people["partner_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["admin"])
    chooser = client.get("/kalender").get_data(as_text=True)
    assert "Coach Anna" in chooser and f"/kalender?partner={people['partner_a'].id}" in chooser
    page = client.get(f"/kalender?partner={people['partner_a'].id}").get_data(as_text=True)
    assert "Schwelmer Federnwerk GmbH" in page and "Sie arbeiten im Kalender von Coach Anna" in page
    assert post(client, f"/kalender/termine/{visit.id}/bestaetigen").status_code == 302
    assert fresh(visit).status == "confirmed"
    # Partner pages without a chosen listing lead the admin back to the chooser.
    assert client.get("/kalender/arbeitszeiten").headers["Location"].endswith("/kalender")


def test_editor_without_listing_gets_403_and_dashboard_links_calendar_for_coaches(client, people, login):
    login(people["editor"])
    assert client.get("/kalender").status_code == 403
    client.post("/abmelden", data={"csrf_token": token_for(client, "/admin/")})
    login(people["coach_a"])
    assert "Mein Kalender" in client.get("/admin/").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------- calendar page


def test_calendar_lists_upcoming_first_in_berlin_time_and_filters(client, people, cfg, login, set_clock):
    partner, coach = people["partner_a"], people["coach_a"]
    later = make_booking(partner, coach, berlin(2026, 12, 10, 14), cfg, name="Spätere Firma")
    sooner = make_request(partner, berlin(2026, 12, 2, 9, 30), cfg, name="Frühere Firma")
    past = make_booking(partner, coach, berlin(2026, 11, 26, 11), cfg, name="Vergangene Firma",
                        now=NOW - timedelta(days=10))
    cancelled = make_booking(partner, coach, berlin(2026, 12, 11, 10), cfg, name="Abgesagte Firma")
    with booking_transaction(db.session, partner.id):
        from network.scheduling.booking import cancel_visit

        cancel_visit(db.session, db.session.get(Visit, cancelled.id), NOW, actor=coach)
    login(coach)
    html = client.get("/kalender").get_data(as_text=True)
    assert html.index("Frühere Firma") < html.index("Spätere Firma")
    assert "09:30–10:30" in html  # 08:30 UTC shown as Berlin wall clock
    assert "Vergangene Firma" in html and "Vergangene Termine ohne Ergebnis" in html
    assert "Abgesagte Firma" not in html
    assert "1 offene Anfrage" in html
    only_requests = client.get("/kalender?status=requested").get_data(as_text=True)
    assert "Frühere Firma" in only_requests and "Spätere Firma" not in only_requests
    assert "Abgesagte Firma" in client.get("/kalender?status=cancelled").get_data(as_text=True)
    everything = client.get("/kalender?status=all").get_data(as_text=True)
    for name in ("Frühere Firma", "Spätere Firma", "Vergangene Firma", "Abgesagte Firma"):
        assert name in everything
    assert later.id and sooner.id and past.id
    # A request nobody answered for a week counts as expired, even before a booking run marks it.
    set_clock(NOW + timedelta(days=8))
    assert "Frühere Firma" in client.get("/kalender?status=expired").get_data(as_text=True)


def test_calendar_warns_without_working_hours(client, make_partner, make_user, login):
    partner = make_partner(name="Ohne Zeiten")
    login(make_user("coach", partner=partner))
    assert "noch keine Arbeitszeiten" in client.get("/kalender").get_data(as_text=True)


# ---------------------------------------------------------------------------------------------- state rules


def test_confirm_only_open_requests(client, people, cfg, login):
    visit = make_request(people["partner_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    response = post(client, f"/kalender/termine/{visit.id}/bestaetigen")
    assert response.status_code == 302
    visit = fresh(visit)
    assert visit.status == "confirmed" and visit.sequence == 1 and visit.expires_at is None
    again = post(client, f"/kalender/termine/{visit.id}/bestaetigen")
    assert again.status_code == 409
    assert "Nur offene Anfragen können bestätigt werden." in again.get_data(as_text=True)
    assert fresh(visit).sequence == 1


def test_decline_needs_a_reason_and_only_for_requests(client, people, cfg, login):
    visit = make_request(people["partner_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    missing = post(client, f"/kalender/termine/{visit.id}/ablehnen", {"reason": "   "})
    assert missing.status_code == 422
    assert "Bitte geben Sie einen Grund" in missing.get_data(as_text=True)
    assert fresh(visit).status == "requested"
    done = post(client, f"/kalender/termine/{visit.id}/ablehnen", {"reason": "Ich bin in der Woche\r\nauf Messe."})
    assert done.status_code == 302
    visit = fresh(visit)
    assert visit.status == "declined" and visit.decline_reason == "Ich bin in der Woche\nauf Messe."
    assert post(client, f"/kalender/termine/{visit.id}/ablehnen", {"reason": "x"}).status_code == 409
    confirmed = make_booking(people["partner_a"], people["coach_a"], berlin(2026, 12, 3, 10), cfg)
    assert post(client, f"/kalender/termine/{confirmed.id}/ablehnen", {"reason": "x"}).status_code == 409
    assert fresh(confirmed).status == "confirmed"


def test_reschedule_moves_and_raises_sequence(client, people, cfg, login):
    visit = make_booking(people["partner_a"], people["coach_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    response = post(client, f"/kalender/termine/{visit.id}/verschieben", {"date": "2026-12-03", "time": "14:30"})
    assert response.status_code == 302
    visit = fresh(visit)
    assert visit.start_at == datetime(2026, 12, 3, 13, 30, tzinfo=UTC)
    assert visit.end_at == datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    assert visit.sequence == 1 and visit.status == "confirmed"
    # German date input (where the browser shows a text field) works too.
    assert post(client, f"/kalender/termine/{visit.id}/verschieben",
                {"date": "04.12.2026", "time": "9.00"}).status_code == 302
    assert fresh(visit).start_at == datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("day", ["2026-03-29", "2027-03-28"])
def test_reschedule_to_a_time_that_does_not_exist_is_refused(client, people, cfg, login, day):
    visit = make_booking(people["partner_a"], people["coach_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    response = post(client, f"/kalender/termine/{visit.id}/verschieben", {"date": day, "time": "02:30"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "gibt es in Deutschland nicht" in html and "Sommerzeit" in html
    assert fresh(visit).start_at == berlin(2026, 12, 2, 10)


def test_reschedule_to_the_ambiguous_autumn_hour_takes_the_first_occurrence(client, people, cfg, login, set_clock):
    set_clock(datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
    visit = make_booking(people["partner_a"], people["coach_a"], berlin(2026, 10, 20, 10), cfg,
                         now=datetime(2026, 10, 1, 8, 0, tzinfo=UTC))
    login(people["coach_a"])
    response = post(client, f"/kalender/termine/{visit.id}/verschieben", {"date": "2026-10-25", "time": "02:30"})
    assert response.status_code == 302
    assert fresh(visit).start_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 +02:00


def test_reschedule_into_another_visit_is_a_409_with_the_next_free_slots(client, people, cfg, login):
    partner, coach = people["partner_a"], people["coach_a"]
    blocker = make_booking(partner, coach, berlin(2026, 12, 3, 10), cfg, name="Blockierende Firma")
    visit = make_booking(partner, coach, berlin(2026, 12, 2, 10), cfg)
    login(coach)
    response = post(client, f"/kalender/termine/{visit.id}/verschieben", {"date": "2026-12-03", "time": "10:30"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "überschneidet sich" in html
    offered = re.findall(r'name="slot" value="([^"]+)"', html)
    assert offered and all(value >= "2026-12-03T" for value in offered)
    assert fresh(visit).start_at == berlin(2026, 12, 2, 10)
    assert fresh(blocker).status == "confirmed"
    # One click on an offered slot moves the visit there.
    chosen = post(client, f"/kalender/termine/{visit.id}/verschieben", {"slot": offered[0]})
    assert chosen.status_code == 302
    assert fresh(visit).start_at == local_to_utc(datetime.fromisoformat(offered[0]))


def test_reschedule_that_leaves_no_travel_time_is_a_409(client, people, cfg, login):
    partner, coach = people["partner_a"], people["coach_a"]
    make_booking(partner, coach, berlin(2026, 12, 3, 10), cfg, name="Firma in Schwelm", place=SCHWELM)
    far = make_booking(partner, coach, berlin(2026, 12, 4, 13), cfg, name="Firma in Siegen", place=SIEGEN)
    login(coach)
    # 11:00 right after the Schwelm visit: 80 km to Siegen do not fit into zero minutes.
    response = post(client, f"/kalender/termine/{far.id}/verschieben", {"date": "2026-12-03", "time": "11:00"})
    assert response.status_code == 409
    assert "Fahrzeit" in response.get_data(as_text=True)
    assert fresh(far).start_at == berlin(2026, 12, 4, 13)


def test_reschedule_validation_names_the_field(client, people, cfg, login):
    visit = make_booking(people["partner_a"], people["coach_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    response = post(client, f"/kalender/termine/{visit.id}/verschieben", {"date": "morgen", "time": "25:00"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="f-date-error"' in html and 'id="f-time-error"' in html
    past = post(client, f"/kalender/termine/{visit.id}/verschieben", {"date": "2026-11-20", "time": "10:00"})
    assert past.status_code == 409 and "Vergangenheit" in past.get_data(as_text=True)


def test_cancel_active_visits_only(client, people, cfg, login):
    visit = make_booking(people["partner_a"], people["coach_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    assert post(client, f"/kalender/termine/{visit.id}/absagen").status_code == 302
    visit = fresh(visit)
    assert visit.status == "cancelled" and visit.sequence == 1 and visit.cancelled_at == NOW
    again = post(client, f"/kalender/termine/{visit.id}/absagen")
    assert again.status_code == 409 and fresh(visit).sequence == 1
    # A request can be cancelled too (the firm gets a CANCEL); the slot is free again.
    request = make_request(people["partner_a"], berlin(2026, 12, 2, 10), cfg)
    assert post(client, f"/kalender/termine/{request.id}/absagen").status_code == 302
    assert fresh(request).status == "cancelled"


def test_outcome_only_after_the_start_of_a_confirmed_visit(client, people, cfg, login, set_clock):
    partner, coach = people["partner_a"], people["coach_a"]
    visit = make_booking(partner, coach, berlin(2026, 12, 2, 10), cfg)
    login(coach)
    early = post(client, f"/kalender/termine/{visit.id}/ergebnis", {"took_place": "ja", "notes": "x"})
    assert early.status_code == 409 and "nach ihrem Beginn" in early.get_data(as_text=True)
    assert fresh(visit).took_place is None
    set_clock(berlin(2026, 12, 2, 10, 5))
    missing = post(client, f"/kalender/termine/{visit.id}/ergebnis", {"notes": "x"})
    assert missing.status_code == 422 and "stattgefunden" in missing.get_data(as_text=True)
    saved = post(client, f"/kalender/termine/{visit.id}/ergebnis",
                 {"took_place": "nein", "notes": "Firma hatte\r\nkurzfristig abgesagt."})
    assert saved.status_code == 302
    visit = fresh(visit)
    assert visit.took_place is False and visit.outcome_notes == "Firma hatte\nkurzfristig abgesagt."
    assert visit.sequence == 0  # the outcome is no change for the calendars
    cancelled = make_booking(partner, coach, berlin(2026, 12, 3, 10), cfg, now=NOW)
    with booking_transaction(db.session, partner.id):
        from network.scheduling.booking import cancel_visit

        cancel_visit(db.session, db.session.get(Visit, cancelled.id), NOW, actor=coach)
    set_clock(berlin(2026, 12, 3, 12))
    assert post(client, f"/kalender/termine/{cancelled.id}/ergebnis", {"took_place": "ja"}).status_code == 409


def test_visit_page_shows_actions_that_fit_the_state(client, people, cfg, login, set_clock):
    visit = make_request(people["partner_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    html = client.get(f"/kalender/termine/{visit.id}").get_data(as_text=True)
    for action in ("bestaetigen", "ablehnen", "verschieben", "absagen"):
        assert f"/kalender/termine/{visit.id}/{action}" in html
    assert "/ergebnis" not in html
    assert "Mi., 02.12.2026, 10:00–11:00" in html
    set_clock(berlin(2026, 12, 2, 10, 30))
    post(client, f"/kalender/termine/{visit.id}/bestaetigen")  # already started: the re-check refuses
    assert fresh(visit).status == "requested"


def test_ics_download_of_a_visit(client, people, cfg, login):
    visit = make_booking(people["partner_a"], people["coach_a"], berlin(2026, 12, 2, 10), cfg)
    login(people["coach_a"])
    response = client.get(f"/kalender/termine/{visit.id}/termin.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    import icalendar

    event = icalendar.Calendar.from_ical(response.data).walk("VEVENT")[0]
    assert str(event["UID"]) == visit.uid
    assert event.decoded("DTSTART").astimezone(UTC) == berlin(2026, 12, 2, 10)


# ---------------------------------------------------------------------------------------------- direct booking

BOOK = {"date": "2026-12-02", "time": "10:00", "duration": "90", "firm_name": "Voerder Schließsysteme GmbH",
        "firm_address": "Loher Straße 5, 58256 Ennepetal", "contact": "Anja Wolff",
        "email": "a.wolff@voerder.example.org", "phone": "+49 2333 12345", "topic": "it-sicherheit",
        "message": "Sicherheitskonzept besprechen"}


def test_book_directly(client, people, login):
    login(people["coach_a"])
    page = client.get("/kalender/neu")
    assert page.status_code == 200 and 'name="slot"' not in page.get_data(as_text=True)
    response = post(client, "/kalender/neu", BOOK)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    visit = db.session.scalar(select(Visit))
    assert visit.status == "confirmed" and visit.requested_by == "coach"
    assert visit.start_at == berlin(2026, 12, 2, 10) and visit.duration_min == 90
    assert visit.firm_lat == pytest.approx(51.2985, abs=0.01)  # geocoded by postcode (Ennepetal)
    assert visit.topic.slug == "it-sicherheit" and visit.contact_email == "a.wolff@voerder.example.org"
    assert response.headers["Location"].endswith(f"/kalender/termine/{visit.id}")


def test_book_outside_working_hours_is_allowed_for_the_coach(client, people, login):
    login(people["coach_a"])
    response = post(client, "/kalender/neu", {**BOOK, "date": "2026-12-05", "time": "10:00"})  # a Saturday
    assert response.status_code == 302


@pytest.mark.parametrize("changes,field,text", [
    ({"date": "2026-03-29", "time": "02:30"}, "time", "gibt es in Deutschland nicht"),
    ({"date": ""}, "date", "Bitte geben Sie ein Datum an"),
    ({"duration": "45"}, "duration", "60, 90 oder 120"),
    ({"firm_name": ""}, "firm_name", "Namen der Firma"),
    ({"firm_address": "Nirgendwo im Nirgendland"}, "firm_address", "nicht gefunden"),
    ({"email": "keine-adresse"}, "email", "keine gültige E-Mail-Adresse"),
    ({"topic": "erfunden"}, "topic", "Unbekanntes Thema"),
])
def test_book_validation_names_the_field_and_writes_nothing(client, people, login, changes, field, text):
    login(people["coach_a"])
    response = post(client, "/kalender/neu", {**BOOK, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="f-{field}-error"' in html and text in html
    assert db.session.scalar(select(func.count(Visit.id))) == 0
    # The form keeps what was typed.
    assert "Voerder Schließsysteme GmbH" in html or field == "firm_name"


def test_book_conflict_is_409_with_next_free_slots_and_a_slot_click_books(client, people, cfg, login):
    partner, coach = people["partner_a"], people["coach_a"]
    make_booking(partner, coach, berlin(2026, 12, 2, 10), cfg)
    login(coach)
    response = post(client, "/kalender/neu", {**BOOK, "time": "10:30"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "überschneidet sich" in html
    offered = re.findall(r'name="slot" value="([^"]+)"', html)
    assert offered
    assert db.session.scalar(select(func.count(Visit.id))) == 1
    chosen = post(client, "/kalender/neu", {**BOOK, "time": "10:30", "slot": offered[0]})
    assert chosen.status_code == 302
    assert db.session.scalar(select(func.count(Visit.id)).where(Visit.status == "confirmed")) == 2


def test_book_page_suggests_free_times_and_prefills(client, people, login):
    login(people["coach_a"])
    html = client.get("/kalender/neu").get_data(as_text=True)
    assert "/kalender/neu?date=2026-11-30&amp;time=10:00" in html  # today, from the next full hour on
    prefilled = client.get("/kalender/neu?date=2026-12-01&time=11:00").get_data(as_text=True)
    assert 'value="2026-12-01"' in prefilled and 'value="11:00"' in prefilled
    assert db.session.scalar(select(func.count(SchedulingProfile.id))) == 0  # a GET writes nothing


# ---------------------------------------------------------------------------------------------- working hours


HOURS_FORM = {"home_address": "Körnerstraße 25, 58095 Hagen", "min_notice_hours": "48", "horizon_weeks": "6",
              "h0-0-start": "08:00", "h0-0-end": "12:00", "h0-1-start": "13:00", "h0-1-end": "16:30",
              "h4-0-start": "08:00", "h4-0-end": "13:00"}


def _hours(partner):
    db.session.expire_all()
    return [(h.weekday, h.start_minute, h.end_minute) for h in db.session.scalars(
        select(WorkingHours).where(WorkingHours.partner_id == partner.id)
        .order_by(WorkingHours.weekday, WorkingHours.start_minute))]


def test_working_hours_save_with_several_intervals_and_home_base(client, people, login, cfg):
    partner = people["partner_a"]
    login(people["coach_a"])
    page = client.get("/kalender/arbeitszeiten").get_data(as_text=True)
    assert 'name="h0-0-start" value="08:00"' in page and 'name="h0-0-end" value="17:00"' in page
    response = post(client, "/kalender/arbeitszeiten", HOURS_FORM)
    assert response.status_code == 302
    assert _hours(partner) == [(0, 480, 720), (0, 780, 990), (4, 480, 780)]
    profile = db.session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
    assert profile.home_address == "Körnerstraße 25, 58095 Hagen"
    assert profile.home_lat == pytest.approx(51.36, abs=0.02) and profile.home_lon == pytest.approx(7.48, abs=0.02)
    assert profile.min_notice_hours == 48 and profile.horizon_days == 42
    page = client.get("/kalender/arbeitszeiten").get_data(as_text=True)
    assert 'name="h0-2-start" value=""' in page  # room for one more interval on Monday
    # Slots follow: Monday 2026-12-07 has the lunch break, Tuesday nothing.
    slots = available_slots(db.session, db.session.get(Partner, partner.id), date(2026, 12, 7), 2, 60, NOW,
                            None, cfg)
    starts = {s.start.astimezone(BERLIN).strftime("%a %H:%M") for s in slots}
    # 08:00 + 15 min buffer from the home base: the first slot is 08:30 (and 13:30 after the break).
    assert {"Mon 08:30", "Mon 11:00", "Mon 13:30", "Mon 15:30"} <= starts
    assert not starts & {"Mon 08:00", "Mon 11:30", "Mon 12:00", "Mon 13:00", "Mon 16:00"}
    assert not any(s.startswith("Tue") for s in starts)


@pytest.mark.parametrize("changes,field,text", [
    ({"h0-0-end": "07:00"}, "h0", "muss nach dem Beginn"),
    ({"h0-1-start": "11:00"}, "h0", "überschneiden sich"),
    ({"h0-1-end": ""}, "h0", "Beginn und Ende"),
    ({"h4-0-start": "8 Uhr"}, "h4", "keine Uhrzeit"),
    ({"min_notice_hours": "-3"}, "min_notice_hours", "0 bis 720"),
    ({"horizon_weeks": "0"}, "horizon_weeks", "1 bis 52"),
    ({"home_address": ""}, "home_address", "Dienstorts"),
    ({"home_address": "Atlantis 1"}, "home_address", "nicht gefunden"),
])
def test_working_hours_validation_leaves_everything_unchanged(client, people, login, changes, field, text):
    partner = people["partner_a"]
    login(people["coach_a"])
    before = _hours(partner)
    response = post(client, "/kalender/arbeitszeiten", {**HOURS_FORM, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="f-{field}-error"' in html and text in html
    assert _hours(partner) == before
    assert db.session.scalar(select(func.count(SchedulingProfile.id))) == 0
    # What was typed is shown again.
    assert 'value="13:00"' in html


# ---------------------------------------------------------------------------------------------- absences


def test_absence_removes_slots_and_deleting_brings_them_back(client, people, login, cfg):
    partner = people["partner_a"]
    day = date(2026, 12, 8)

    def slots_that_day():
        db.session.expire_all()
        return available_slots(db.session, db.session.get(Partner, partner.id), day, 1, 60, NOW, None, cfg)

    assert slots_that_day()
    login(people["coach_a"])
    response = post(client, "/kalender/abwesenheiten",
                    {"start_date": "2026-12-07", "end_date": "2026-12-09", "reason": "sick", "note": "Grippe"})
    assert response.status_code == 302
    assert slots_that_day() == []
    absence = db.session.scalar(select(Absence))
    assert (absence.start_date, absence.end_date, absence.reason) == (date(2026, 12, 7), date(2026, 12, 9), "sick")
    html = client.get("/kalender/abwesenheiten").get_data(as_text=True)
    assert "Krankheit" in html and "Grippe" in html
    assert post(client, f"/kalender/abwesenheiten/{absence.id}/loeschen").status_code == 302
    assert slots_that_day()


def test_absence_warns_about_visits_in_that_time(client, people, login, cfg):
    make_booking(people["partner_a"], people["coach_a"], berlin(2026, 12, 8, 10), cfg, name="Betroffene Firma")
    login(people["coach_a"])
    post(client, "/kalender/abwesenheiten", {"start_date": "08.12.2026", "reason": "vacation"})
    html = client.get("/kalender/abwesenheiten").get_data(as_text=True)
    assert "noch 1 Termine" in html or "1 Termin liegt" in html
    assert "Betroffene Firma" in html


@pytest.mark.parametrize("form,field", [
    ({"start_date": "", "reason": "vacation"}, "start_date"),
    ({"start_date": "2026-12-09", "end_date": "2026-12-07", "reason": "vacation"}, "end_date"),
    ({"start_date": "2026-12-09", "end_date": "2028-12-07", "reason": "vacation"}, "end_date"),
    ({"start_date": "2026-12-09", "reason": "party"}, "reason"),
])
def test_absence_validation(client, people, login, form, field):
    login(people["coach_a"])
    response = post(client, "/kalender/abwesenheiten", form)
    assert response.status_code == 422 and f'id="f-{field}-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Absence.id))) == 0


def test_absence_of_another_coach_cannot_be_deleted(client, people, login):
    other = Absence(partner_id=people["partner_b"].id, start_date=date(2026, 12, 7), end_date=date(2026, 12, 7))
    db.session.add(other)
    db.session.commit()
    login(people["coach_a"])
    assert post(client, f"/kalender/abwesenheiten/{other.id}/loeschen").status_code == 403
    assert db.session.scalar(select(func.count(Absence.id))) == 1


# ---------------------------------------------------------------------------------------------- demo data


@pytest.mark.slow
def test_demo_schedule_is_alive_follows_the_rules_and_is_idempotent(app_ctx, cfg):
    from network.directory.demo import seed_demo
    from network.scheduling.demo import seed_demo_schedule

    seed_demo(db.session, now=NOW)
    created = seed_demo_schedule(db.session, NOW)
    db.session.commit()
    assert created >= 100
    assert seed_demo_schedule(db.session, NOW) == 0  # a second run adds nothing
    db.session.commit()
    assert db.session.scalar(select(func.count(Visit.id))) == created
    statuses = dict(db.session.execute(select(Visit.status, func.count(Visit.id)).group_by(Visit.status)).all())
    assert statuses.get("requested") and statuses.get("confirmed")
    coaches = list(db.session.scalars(select(Partner).where(Partner.is_demo.is_(True)).join(Partner.kind)
                                      .where(Partner.kind.has(slug="innovationscoach")
                                             | Partner.kind.has(slug="technologiescout"))))
    assert coaches
    for partner in coaches:
        assert db.session.scalar(select(func.count(WorkingHours.id)).where(WorkingHours.partner_id == partner.id))
        assert db.session.scalar(select(func.count(Absence.id)).where(Absence.partner_id == partner.id))
        profile = db.session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
        assert profile.home_lat == partner.latitude and profile.home_address == partner.address
        visits = list(db.session.scalars(select(Visit).where(Visit.partner_id == partner.id,
                                                             Visit.status.in_(("requested", "confirmed")))))
        assert visits, partner.name
        for visit in visits:
            assert visit.contact_email.endswith(".example.org")
            start, end = visit.start_at, visit.end_at
            schedule = load_schedule(db.session, partner, start, end, exclude_visit_id=visit.id)
            try:
                check_visit(schedule, start, end, start - timedelta(days=3), (visit.firm_lat, visit.firm_lon),
                            cfg.rules, require_offered=True)
            except SlotRejected as exc:  # pragma: no cover - the message says which rule broke
                pytest.fail(f"{partner.name} {visit.firm_name} {start}: {exc.code}")
    # Deterministic: the same `now` gives the same calendar.
    first = sorted((v.partner.name, v.start_at, v.firm_name, v.status) for v in db.session.scalars(select(Visit)))
    db.session.execute(Visit.__table__.delete())
    db.session.commit()
    seed_demo_schedule(db.session, NOW)
    db.session.commit()
    again = sorted((v.partner.name, v.start_at, v.firm_name, v.status) for v in db.session.scalars(select(Visit)))
    assert again == first


@pytest.mark.slow
def test_seed_demo_command_gives_the_demo_coach_a_living_calendar(app_ctx, client, login):
    from network.accounts.models import User
    from network.directory.demo_accounts import DEMO_COACH_EMAIL, DEMO_PASSWORD

    runner = app_ctx.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    count = db.session.scalar(select(func.count(Visit.id)))
    assert count > 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert db.session.scalar(select(func.count(Visit.id))) == count
    coach = db.session.scalar(select(User).where(User.email == DEMO_COACH_EMAIL))
    login(coach, password=DEMO_PASSWORD)
    html = client.get("/kalender").get_data(as_text=True)
    assert html.count('href="/kalender/termine/') >= 5
