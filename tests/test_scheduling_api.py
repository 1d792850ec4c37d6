"""Scheduler JSON API: free slots, anonymous visit requests, the private .ics/cancel/reschedule URLs, DST, limits."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from conftest import visit_count
from network.extensions import db, limiter
from network.scheduling.models import Visit
from test_scheduling_public import (
    FIRM_ADDRESS,
    TRICKY_FIRM,
    calendar_part,
    components,
    parse_ics,
    path_of,
    post_request,
)

pytestmark = pytest.mark.usefixtures("lifted_rate_limits")


def body(partner_id: int, start: str = "2026-12-01T10:00", **overrides) -> dict:
    data = {
        "partner_id": partner_id,
        "start": start,
        "duration_min": 60,
        "firm": {"name": "Beispiel GmbH", "address": FIRM_ADDRESS, "contact": "Erika Muster",
                 "email": "erika@example.org", "phone": "+49 2336 12345"},
        "topic": "prozessoptimierung",
        "message": "Digitalisierung der Fertigung",
    }
    firm = overrides.pop("firm", None)
    if firm:
        data["firm"] = {**data["firm"], **firm}
    data.update(overrides)
    return data


def stored(visit_id: int) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit_id)


# --- GET /api/partners/<id>/slots -----------------------------------------------------------------


def test_slots_answer_iso_8601_with_the_berlin_offset(client, coach):
    response = client.get(f"/api/partners/{coach.id}/slots?from=2026-12-01&days=1&duration=60")
    assert response.status_code == 200
    data = response.get_json()
    assert data["slots"][0] == {"start": "2026-12-01T08:30:00+01:00", "end": "2026-12-01T09:30:00+01:00"}
    assert data["slots"][-1] == {"start": "2026-12-01T16:00:00+01:00", "end": "2026-12-01T17:00:00+01:00"}
    assert len(data["slots"]) == 16
    assert data["travel_checked"] is False and data["near"] is None
    starts = [s["start"] for s in client.get(f"/api/partners/{coach.id}/slots?from=2026-12-01&days=1&near=Dortmund")
              .get_json()["slots"]]
    assert starts[0] == "2026-12-01T09:00:00+01:00"  # the trip from Schwelm counts now
    two_weeks = client.get(f"/api/partners/{coach.id}/slots?from=2026-11-30").get_json()
    assert two_weeks["to"] == "2026-12-13" and len({s["start"][:10] for s in two_weeks["slots"]}) == 10


def test_booked_time_disappears_from_the_slots(client, coach):
    assert client.post("/api/visits", json=body(coach.id)).status_code == 201
    starts = [s["start"] for s in client.get(f"/api/partners/{coach.id}/slots?from=2026-12-01&days=1&near=58332")
              .get_json()["slots"]]
    # 10:00–11:00 is taken; at the same place visits may touch (travel 0), overlapping ones are gone.
    assert "2026-12-01T09:00:00+01:00" in starts and "2026-12-01T11:00:00+01:00" in starts
    assert not {"2026-12-01T09:30:00+01:00", "2026-12-01T10:00:00+01:00", "2026-12-01T10:30:00+01:00"} & set(starts)
    # Somewhere unknown, the 15-minute buffer separates them.
    unknown = [s["start"] for s in client.get(f"/api/partners/{coach.id}/slots?from=2026-12-01&days=1")
               .get_json()["slots"]]
    assert "2026-12-01T08:30:00+01:00" in unknown and "2026-12-01T09:00:00+01:00" not in unknown
    assert "2026-12-01T11:00:00+01:00" not in unknown and "2026-12-01T11:30:00+01:00" in unknown


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-13-01", "from"),
    ("from=morgen", "from"),
    ("days=0", "days"),
    ("days=57", "days"),
    ("days=zwei", "days"),
    ("duration=45", "duration"),
    ("duration=abc", "duration"),
    ("near=Schwelmm", "near"),
])
def test_bad_slot_parameters_answer_400_naming_the_field(client, coach, query, field):
    response = client.get(f"/api/partners/{coach.id}/slots?{query}")
    assert response.status_code == 400
    data = response.get_json()
    assert data["field"] == field and data["error"]
    if field == "near":
        assert "Schwelm, Nordrhein-Westfalen" in data["suggestions"]


def test_slots_of_unknown_or_unbookable_partners(client, make_partner, now):
    assert client.get("/api/partners/999999/slots").status_code == 404
    plain = make_partner()
    response = client.get(f"/api/partners/{plain.id}/slots")
    assert response.status_code == 404 and "keine Arbeitszeiten" in response.get_json()["error"]
    response = client.post("/api/visits", json=body(plain.id))
    assert response.status_code == 409 and response.get_json()["field"] == "partner_id"
    assert client.post("/api/visits", json=body(999999)).status_code == 404


SUNDAY_NIGHT = ((6, 0, 360),)  # Sundays 00:00–06:00 Berlin time, to look at the hours the clocks change


@pytest.mark.parametrize(("clock", "day", "hours", "twice"), [
    (datetime(2026, 3, 20, 12, tzinfo=UTC), "2026-03-29", 5, False),
    (datetime(2026, 10, 16, 12, tzinfo=UTC), "2026-10-25", 7, True),
    (datetime(2027, 3, 19, 12, tzinfo=UTC), "2027-03-28", 5, False),
    (datetime(2027, 10, 22, 12, tzinfo=UTC), "2027-10-31", 7, True),
])
def test_slots_on_clock_change_days(client, make_coach, set_clock, clock, day, hours, twice):
    set_clock(clock)
    partner, _ = make_coach(hours=SUNDAY_NIGHT)
    slots = client.get(f"/api/partners/{partner.id}/slots?from={day}&days=1").get_json()["slots"]
    starts = [datetime.fromisoformat(s["start"]) for s in slots]
    # 00:00–06:00 local is 5 real hours in spring and 7 in autumn; slots step 30 real minutes after
    # the 15-minute start buffer, the last one ends at 06:00.
    assert len(starts) == hours * 2 - 2  # first at 00:30, last at 05:00 local
    assert all(b - a == timedelta(minutes=30) for a, b in pairwise(starts))
    at_two = [s["start"] for s in slots if s["start"][11:13] == "02"]
    if twice:
        assert at_two == [f"{day}T02:00:00+02:00", f"{day}T02:30:00+02:00",
                          f"{day}T02:00:00+01:00", f"{day}T02:30:00+01:00"]
    else:
        assert at_two == []  # 02:00–03:00 does not exist
        assert f"{day}T01:30:00+01:00" in [s["start"] for s in slots]
        assert f"{day}T03:00:00+02:00" in [s["start"] for s in slots]


# --- POST /api/visits ------------------------------------------------------------------------------


def test_request_answers_201_with_absolute_private_urls(client, coach, smtp):
    response = client.post("/api/visits", json=body(coach.id))
    assert response.status_code == 201
    data = response.get_json()
    assert set(data) >= {"id", "status", "start", "end", "manage_url", "ics_url"}
    assert data["status"] == "requested"
    assert data["start"] == "2026-12-01T10:00:00+01:00" and data["end"] == "2026-12-01T11:00:00+01:00"
    assert data["manage_url"].startswith("http://localhost/termin/")
    assert data["ics_url"] == data["manage_url"] + ".ics"
    assert response.headers["Location"] == data["manage_url"]
    assert data["mail_sent"] is True and len(smtp.messages) == 2
    visit = stored(data["id"])
    assert visit.start_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert client.get(path_of(data["manage_url"])).status_code == 200


def test_a_mail_failure_keeps_the_booking_and_says_so(client, coach, broken_smtp):
    response = client.post("/api/visits", json=body(coach.id))
    assert response.status_code == 201
    assert response.get_json()["mail_sent"] is False
    assert stored(response.get_json()["id"]).status == "requested"


def test_an_offset_in_start_is_an_instant(client, coach):
    response = client.post("/api/visits", json=body(coach.id, start="2026-12-01T09:00:00Z"))
    assert response.status_code == 201
    assert response.get_json()["start"] == "2026-12-01T10:00:00+01:00"


def test_conflict_answers_409_with_the_next_free_slots(client, coach):
    assert client.post("/api/visits", json=body(coach.id)).status_code == 201
    response = client.post("/api/visits", json=body(coach.id, start="2026-12-01T10:30"))
    assert response.status_code == 409
    data = response.get_json()
    assert data["error"] == "Der Termin überschneidet sich mit einem anderen Termin."
    assert (data["field"], data["code"]) == ("start", "slot.overlap")
    assert data["next_free"][0] == {"start": "2026-12-01T11:00:00+01:00", "end": "2026-12-01T12:00:00+01:00"}
    assert len(data["next_free"]) == 5
    # Outside working hours, too soon, and unreachable are conflicts with reasons as well.
    for start, code in (("2026-12-01T17:00", "slot.outside_hours"), ("2026-11-27T09:00", "slot.too_soon"),
                        ("2026-12-05T10:00", "slot.outside_hours")):
        answer = client.post("/api/visits", json=body(coach.id, start=start))
        assert answer.status_code == 409 and answer.get_json()["code"] == code
    far = client.post("/api/visits", json=body(coach.id, start="2026-12-02T08:30", firm={"address": "Dortmund"}))
    assert far.status_code == 409 and far.get_json()["code"] == "slot.travel_from_home"
    assert far.get_json()["next_free"][0]["start"] == "2026-12-02T09:00:00+01:00"
    assert visit_count() == 1


@pytest.mark.parametrize(("payload", "status", "field", "code"), [
    (lambda pid: body(pid, firm={"email": "keine-adresse"}), 422, "firm.email", "email.invalid"),
    (lambda pid: body(pid, firm={"name": ""}), 422, "firm.name", "firm.name_missing"),
    (lambda pid: body(pid, firm={"contact": " "}), 422, "firm.contact", "firm.contact_missing"),
    (lambda pid: body(pid, firm={"address": "Industriestraße 3, Schwelmm"}), 422, "firm.address",
     "firm.address_unknown"),
    (lambda pid: body(pid, firm={"phone": 123}), 400, "firm.phone", "json.not_text"),
    (lambda pid: body(pid, duration_min=45), 422, "duration_min", "duration.not_allowed"),
    (lambda pid: body(pid, duration_min="60"), 400, "duration_min", "duration.not_an_integer"),
    (lambda pid: body(pid, topic="gibt-es-nicht"), 422, "topic", "topic.unknown"),
    (lambda pid: body(pid, message="x" * 2001), 422, "message", "message.too_long"),
    (lambda pid: body(pid, start="morgen früh"), 400, "start", "start.invalid"),
    (lambda pid: body(pid, start=None), 400, "start", "start.not_text"),
    (lambda pid: {**body(pid), "partner_id": str(pid)}, 400, "partner_id", "json.not_an_integer"),
    (lambda pid: {**body(pid), "firm": "Beispiel GmbH"}, 400, "firm", "firm.not_an_object"),
])
def test_bad_requests_name_the_field_and_store_nothing(client, coach, payload, status, field, code):
    response = client.post("/api/visits", json=payload(coach.id))
    assert response.status_code == status, response.get_json()
    data = response.get_json()
    assert data["field"] == field and data["code"] == code and data["error"]
    assert visit_count() == 0


def test_several_field_errors_come_together(client, coach):
    data = client.post("/api/visits", json=body(coach.id, firm={"name": "", "email": "x"})).get_json()
    assert set(data["errors"]) == {"firm.name", "firm.email"}


def test_not_json_is_400(client, coach):
    response = client.post("/api/visits", data="partner_id=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.get_json()["error"]
    assert client.post("/api/visits", json=[1, 2]).status_code == 400


def test_non_existent_local_time_is_400_with_a_clear_message(client, coach):
    response = client.post("/api/visits", json=body(coach.id, start="2026-03-29T02:30"))
    assert response.status_code == 400
    data = response.get_json()
    assert data["field"] == "start"
    assert data["error"] == "Die Uhrzeit 29.03.2026 02:30 gibt es in Deutschland nicht (Umstellung auf Sommerzeit)."


def test_ambiguous_local_time_is_the_first_occurrence_and_both_hours_can_be_booked(client, make_coach, set_clock):
    set_clock(datetime(2026, 10, 16, 12, tzinfo=UTC))
    partner, _ = make_coach(hours=SUNDAY_NIGHT)
    first = client.post("/api/visits", json=body(partner.id, start="2026-10-25T02:30"))
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["start"] == "2026-10-25T02:30:00+02:00"
    assert stored(first.get_json()["id"]).start_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # The repeated hour is reachable with an explicit offset; same firm, so back-to-back fits.
    second = client.post("/api/visits", json=body(partner.id, start="2026-10-25T02:30:00+01:00",
                                                  firm={"name": "Zweite Schicht GmbH"}))
    assert second.status_code == 201, second.get_json()
    assert second.get_json()["start"] == "2026-10-25T02:30:00+01:00"
    assert stored(second.get_json()["id"]).start_at == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    for data in (first.get_json(), second.get_json()):
        cal, vcal = parse_ics(client.get(path_of(data["ics_url"])).data)
        event = components(cal, "VEVENT")[0]
        visit = stored(data["id"])
        assert event["dtstart"].dt == visit.start_at
        assert event["dtend"].dt == visit.end_at
        assert vcal.vevent.dtstart.value == visit.start_at
        assert vcal.vevent.dtend.value == visit.end_at


# --- the private URLs ------------------------------------------------------------------------------


def test_ics_url_serves_the_current_invite_and_parses_in_two_parsers(client, coach):
    data = client.post("/api/visits", json=body(coach.id, firm={"name": TRICKY_FIRM})).get_json()
    response = client.get(path_of(data["ics_url"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8; method=REQUEST"
    assert response.headers["Content-Disposition"] == "attachment; filename=invite.ics"
    cal, vcal = parse_ics(response.data)
    visit = stored(data["id"])
    assert str(cal["method"]) == "REQUEST"
    event = components(cal, "VEVENT")[0]
    assert len(components(cal, "VEVENT")) == 1 and len(components(cal, "VALARM")) == 1
    assert str(event["uid"]) == visit.uid and int(event["sequence"]) == visit.sequence
    assert event["dtstart"].dt == visit.start_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert vcal.vevent.dtstart.value == visit.start_at
    assert vcal.vevent.dtend.value == visit.end_at
    assert str(event["location"]) == FIRM_ADDRESS
    assert 'Müller; Söhne, "GmbH"\nBEGIN:VALARM' in vcal.vevent.summary.value


def test_cancel_by_json_sends_cancel_invites_and_the_ics_follows(client, coach, smtp):
    data = client.post("/api/visits", json=body(coach.id)).get_json()
    smtp.clear()
    response = client.post(path_of(data["manage_url"]) + "/cancel", json={})
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["status"] == "cancelled" and answer["id"] == data["id"]
    assert sorted(calendar_part(m)[0] for m in smtp.messages) == ["CANCEL", "CANCEL"]
    ics = client.get(path_of(data["ics_url"]))
    assert ics.headers["Content-Type"] == "text/calendar; charset=utf-8; method=CANCEL"
    cal, vcal = parse_ics(ics.data)
    event = components(cal, "VEVENT")[0]
    assert str(cal["method"]) == "CANCEL" and str(event["status"]) == "CANCELLED"
    assert int(event["sequence"]) == stored(data["id"]).sequence >= 1
    assert components(cal, "VALARM") == []
    again = client.post(path_of(data["manage_url"]) + "/cancel", json={})
    assert again.status_code == 409 and again.get_json()["field"] == "status"
    # The freed slot can be requested again.
    assert client.post("/api/visits", json=body(coach.id)).status_code == 201


def test_reschedule_by_json(client, coach, smtp):
    data = client.post("/api/visits", json=body(coach.id)).get_json()
    other = client.post("/api/visits", json=body(coach.id, start="2026-12-02T10:00",
                                                 firm={"name": "Andere"})).get_json()
    manage = path_of(data["manage_url"])
    smtp.clear()
    moved = client.post(manage + "/reschedule", json={"start": "2026-12-03T13:00"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["start"] == "2026-12-03T13:00:00+01:00"
    assert stored(data["id"]).start_at == datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert stored(data["id"]).sequence == 1
    assert len(smtp.messages) == 2
    cal, vcal = parse_ics(client.get(path_of(data["ics_url"])).data)
    assert int(components(cal, "VEVENT")[0]["sequence"]) == 1
    assert vcal.vevent.dtstart.value == datetime(2026, 12, 3, 12, tzinfo=UTC)

    taken = client.post(manage + "/reschedule", json={"start": "2026-12-02T10:30"})
    assert taken.status_code == 409
    assert taken.get_json()["next_free"][0]["start"] == "2026-12-02T11:00:00+01:00"
    bad = client.post(manage + "/reschedule", json={"start": "2026-03-29T02:30"})
    assert bad.status_code == 400 and "gibt es in Deutschland nicht" in bad.get_json()["error"]
    assert client.post(manage + "/reschedule", json={"beginn": "x"}).status_code == 400
    assert stored(data["id"]).start_at == datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert stored(other["id"]).start_at == datetime(2026, 12, 2, 9, tzinfo=UTC)


def test_a_token_never_acts_on_another_visit(client, coach, make_coach):
    partner_b, _ = make_coach()
    a = client.post("/api/visits", json=body(coach.id)).get_json()
    b = client.post("/api/visits", json=body(partner_b.id, firm={"name": "Firma B"})).get_json()
    assert client.post(path_of(a["manage_url"]) + "/cancel", json={}).get_json()["id"] == a["id"]
    assert stored(b["id"]).status == "requested"
    assert client.post(path_of(a["manage_url"]) + "/reschedule", json={"start": "2026-12-02T10:00"}).status_code == 409
    assert stored(b["id"]).start_at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    for path in ("/termin/unbekannt/cancel", "/termin/unbekannt/reschedule"):
        response = client.post(path, json={"start": "2026-12-02T10:00"})
        assert response.status_code == 404 and response.get_json()["field"] == "token"
    assert client.get("/termin/unbekannt.ics").status_code == 404


# --- CSRF exemption and rate limit ------------------------------------------------------------------


def test_api_and_private_json_posts_are_csrf_exempt_and_documented(app):
    from network.extensions import csrf

    assert "scheduling_api" in {bp.name for bp in csrf._exempt_blueprints}
    assert {"network.scheduling.public_routes.firm_cancel_visit",
            "network.scheduling.public_routes.firm_reschedule_visit"} <= csrf._exempt_views
    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = doc.split("## CSRF exemptions", 1)[1].split("\n## ", 1)[0]
    assert "`scheduling_api`" in section and "VISIT_REQUEST_RATE_LIMIT" in section
    assert "/termin/<token>/cancel" in section


def test_requests_share_one_rate_limit_per_address_across_api_and_form(client, app, coach):
    app.config["VISIT_REQUEST_RATE_LIMIT"] = "2 per hour"
    limiter.reset()
    assert client.post("/api/visits", json=body(coach.id)).status_code == 201
    assert post_request(client, coach, start="2026-12-02T10:00:00+01:00").status_code == 303
    limited = client.post("/api/visits", json=body(coach.id, start="2026-12-03T10:00"))
    assert limited.status_code == 429 and limited.get_json()["error"]
    assert visit_count() == 2
    assert client.get(f"/api/partners/{coach.id}/slots").status_code == 200
    # Another address has its own budget.
    other = client.post("/api/visits", json=body(coach.id, start="2026-12-03T10:00"),
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 201
    # Moving a visit mails the coach: it spends the same budget; cancelling always works.
    manage = path_of(other.get_json()["manage_url"])
    assert client.post(manage + "/reschedule", json={"start": "2026-12-04T10:00"}).status_code == 429
    assert client.post(manage + "/cancel", json={}).status_code == 200
