"""Availability service: working hours and absences are checked field by field, audited, and kept per coach."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from conftest import csrf_from
from network.accounts.models import User
from network.audit import AuditEntry
from network.extensions import db
from network.problems import Invalid
from network.scheduling import availability
from network.scheduling.booking import NotAllowed
from network.scheduling.locking import booking_transaction
from network.scheduling.models import Absence, SchedulingProfile, WorkingHours

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
WEEK = {0: [("08:00", "12:00"), ("13:00", "16:30")], 4: [("08:00", "13:00")]}
RULES = {"home_address": "Körnerstraße 25, 58095 Hagen", "min_notice_hours": "48", "horizon_weeks": "6"}


@pytest.fixture()
def coaches(make_partner):
    """Two coach listings (Mon–Fri 08:00–17:00), each with an account; these accounts do not log in,
    so they carry no password hash (hashing costs ~0.4 s per user)."""
    pairs = []
    for name in ("Coach Anna", "Coach Bernd"):
        partner = make_partner(name=name)
        db.session.add_all(WorkingHours(partner_id=partner.id, weekday=day, start_minute=480, end_minute=1020)
                           for day in range(5))
        user = User(email=f"{name.split()[1].lower()}@example.org", name=name, role="coach", partner=partner,
                    password_hash="!")
        db.session.add(user)
        db.session.commit()
        pairs.append((partner, user))
    return pairs


@pytest.fixture()
def geocoder(app):
    return app.extensions["partnernetz.geocoder"]


def audit_rows(action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def hours_of(partner) -> list[tuple[int, int, int]]:
    db.session.expire_all()
    return availability.weekly_hours(db.session, partner)


# ---------------------------------------------------------------------------------------------- working hours


def fields(exc: Invalid) -> set[str | None]:
    return {problem.field for problem in exc.problems}


@pytest.mark.parametrize("week,field,code", [
    ({0: [("12:00", "08:00")]}, "h0", "hours.end_before_start"),
    ({1: [("08:00", "12:00"), ("11:00", "14:00")]}, "h1", "hours.overlap"),
    ({2: [("08:00", "")]}, "h2", "hours.start_end_missing"),
    ({3: [("8 Uhr", "12:00")]}, "h3", "hours.not_a_time"),
    ({4: [("25:00", "26:00")]}, "h4", "hours.not_a_time"),
    ({6: [(f"{h:02d}:00", f"{h:02d}:30") for h in range(8, 15)]}, "h6", "hours.too_many_intervals"),
])
def test_invalid_intervals_are_refused_naming_the_weekday(coaches, geocoder, week, field, code):
    (partner, _user), _other = coaches
    with pytest.raises(Invalid) as caught:
        availability.check_working_hours(db.session, partner, {**WEEK, **week}, geocoder=geocoder, **RULES)
    assert fields(caught.value) == {field}
    assert code in caught.value.codes


@pytest.mark.parametrize("changes,field", [
    ({"min_notice_hours": "-3"}, "min_notice_hours"),
    ({"min_notice_hours": "721"}, "min_notice_hours"),
    ({"min_notice_hours": "²"}, "min_notice_hours"),
    ({"horizon_weeks": "0"}, "horizon_weeks"),
    ({"horizon_weeks": "53"}, "horizon_weeks"),
    ({"home_address": ""}, "home_address"),
    ({"home_address": "x" * 301}, "home_address"),
    ({"home_address": "Atlantis 1"}, "home_address"),
])
def test_invalid_rules_are_refused_naming_the_field(coaches, geocoder, changes, field):
    (partner, _user), _other = coaches
    with pytest.raises(Invalid) as caught:
        availability.check_working_hours(db.session, partner, WEEK, geocoder=geocoder, **{**RULES, **changes})
    assert fields(caught.value) == {field}


def test_every_problem_is_reported_in_one_round_and_nothing_is_written(coaches, geocoder):
    (partner, _user), _other = coaches
    before = hours_of(partner)
    with pytest.raises(Invalid) as caught:
        availability.check_working_hours(db.session, partner, {0: [("09:00", "08:00")], 5: [("x", "y")]},
                                         geocoder=geocoder, home_address="", min_notice_hours="", horizon_weeks="")
    assert fields(caught.value) == {"h0", "h5", "home_address", "min_notice_hours", "horizon_weeks"}
    assert hours_of(partner) == before
    assert db.session.scalar(select(func.count(SchedulingProfile.id))) == 0


def test_saving_hours_replaces_the_week_and_writes_one_audit_row(coaches, geocoder):
    (partner, user), _other = coaches
    plan = availability.check_working_hours(db.session, partner, WEEK, geocoder=geocoder, **RULES)
    with booking_transaction(db.session, partner.id):
        availability.save_working_hours(db.session, partner, plan, actor=user)
    assert hours_of(partner) == [(0, 480, 720), (0, 780, 990), (4, 480, 780)]
    profile = db.session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
    assert (profile.min_notice_hours, profile.horizon_days) == (48, 42)
    assert profile.home_lat == pytest.approx(51.36, abs=0.02)
    [entry] = audit_rows()
    assert (entry.action, entry.actor_id, entry.entity_type) == ("working_hours", user.id, "scheduling_profiles")
    assert entry.changes["hours"][0] == [[day, 480, 1020] for day in range(5)]
    assert entry.changes["hours"][1] == [[0, 480, 720], [0, 780, 990], [4, 480, 780]]
    assert entry.changes["horizon_days"] == [56, 42]


# ---------------------------------------------------------------------------------------------- absences


def add(partner, user, start, end=None, reason="vacation", note=""):
    with booking_transaction(db.session, partner.id):
        absence = availability.add_absence(db.session, partner, start_date=start, end_date=end, reason=reason,
                                           note=note, actor=user)
        return absence.id


def absences_of(partner) -> list[tuple[date, date]]:
    return [(a.start_date, a.end_date) for a in db.session.scalars(
        select(Absence).where(Absence.partner_id == partner.id).order_by(Absence.start_date))]


def test_adding_and_deleting_an_absence_writes_one_audit_row_each(coaches):
    (partner, user), _other = coaches
    absence_id = add(partner, user, "07.12.2026", "2026-12-09", reason="sick", note="Grippe")
    assert absences_of(partner) == [(date(2026, 12, 7), date(2026, 12, 9))]
    [created] = audit_rows()
    assert (created.action, created.actor_id, created.entity_id) == ("create", user.id, absence_id)
    assert created.changes["start_date"] == [None, "2026-12-07"]
    with booking_transaction(db.session, partner.id):
        deleted = availability.delete_absence(db.session, partner, absence_id, actor=user)
    assert deleted is not None and absences_of(partner) == []
    assert [e.action for e in audit_rows()] == ["create", "delete"]
    assert audit_rows("delete")[0].changes["reason"] == ["sick", None]


def test_a_single_day_needs_no_end(coaches):
    (partner, user), _other = coaches
    add(partner, user, "2026-12-24")
    assert absences_of(partner) == [(date(2026, 12, 24), date(2026, 12, 24))]


@pytest.mark.parametrize("values,field", [
    ({"start_date": ""}, "start_date"),
    ({"start_date": "31.02.2026"}, "start_date"),
    ({"end_date": "morgen"}, "end_date"),
    ({"start_date": "2026-12-09", "end_date": "2026-12-07"}, "end_date"),
    ({"start_date": "2026-12-09", "end_date": "2027-12-10"}, "end_date"),
    ({"reason": "party"}, "reason"),
    ({"note": "x" * 201}, "note"),
])
def test_invalid_absences_are_refused_naming_the_field(coaches, values, field):
    (partner, user), _other = coaches
    form = {"start_date": "2026-12-07", "end_date": "2026-12-08", "reason": "vacation", "note": "", **values}
    with pytest.raises(Invalid) as caught:
        availability.add_absence(db.session, partner, actor=user, **form)
    assert fields(caught.value) == {field}
    db.session.rollback()
    assert absences_of(partner) == [] and audit_rows() == []


@pytest.mark.parametrize("start,end", [
    ("2026-12-09", "2026-12-12"),  # starts on the last day of the other
    ("2026-12-01", "2026-12-07"),  # ends on its first day
    ("2026-12-08", None),  # inside it
    ("2026-12-01", "2026-12-31"),  # around it
])
def test_overlapping_absences_are_refused(coaches, start, end):
    (partner, user), _other = coaches
    add(partner, user, "2026-12-07", "2026-12-09")
    with pytest.raises(Invalid) as caught:
        add(partner, user, start, end)
    [problem] = caught.value.problems
    assert (problem.field, problem.code) == ("start_date", "absence.overlap")
    assert problem.params == {"first": "07.12.2026", "last": "09.12.2026"}
    assert absences_of(partner) == [(date(2026, 12, 7), date(2026, 12, 9))]
    assert len(audit_rows()) == 1


def test_adjacent_absences_and_other_coaches_absences_do_not_overlap(coaches):
    (partner, user), (other, other_user) = coaches
    add(partner, user, "2026-12-07", "2026-12-09")
    add(partner, user, "2026-12-10", "2026-12-11")
    add(other, other_user, "2026-12-08")
    assert len(absences_of(partner)) == 2 and len(absences_of(other)) == 1


def test_another_coachs_absence_cannot_be_deleted(coaches):
    (partner, user), (other, other_user) = coaches
    theirs = add(other, other_user, "2026-12-07")
    with pytest.raises(NotAllowed):
        with booking_transaction(db.session, partner.id):
            availability.delete_absence(db.session, partner, theirs, actor=user)
    assert absences_of(other) == [(date(2026, 12, 7), date(2026, 12, 7))]
    assert [e.action for e in audit_rows()] == ["create"]
    assert availability.delete_absence(db.session, partner, theirs + 1000, actor=user) is None


def test_the_absence_form_shows_an_overlap_at_the_start_date(client, make_coach, login):
    partner, user = make_coach()
    add(partner, user, "2026-12-07", "2026-12-09")
    login(user)
    token = csrf_from(client.get("/kalender/abwesenheiten").get_data(as_text=True))
    response = client.post("/kalender/abwesenheiten", data={"csrf_token": token, "start_date": "2026-12-08",
                                                              "reason": "vacation"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="f-start_date-error"' in html and "bereits als abwesend" in html
    assert len(absences_of(partner)) == 1
    english = client.post("/kalender/abwesenheiten?lang=en", data={"csrf_token": token, "start_date": "2026-12-08",
                                                                    "reason": "vacation"})
    assert "already recorded as absent" in english.get_data(as_text=True)


def test_working_hours_of_a_day_stay_within_the_interval_limit(coaches, geocoder):
    (partner, user), _other = coaches
    six = [(f"{h:02d}:00", f"{h:02d}:30") for h in range(8, 14)]
    plan = availability.check_working_hours(db.session, partner, {2: six}, geocoder=geocoder, **RULES)
    with booking_transaction(db.session, partner.id):
        availability.save_working_hours(db.session, partner, plan, actor=user)
    assert len(hours_of(partner)) == 6
    assert db.session.scalar(select(func.count(WorkingHours.id))) == 6 + 5  # the other coach keeps their week
