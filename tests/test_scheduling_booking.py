"""Booking services on the real database: each write re-checks, requests hold slots, states, the PostgreSQL backstop."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from conftest import ON_POSTGRES, overlapping_active_pairs, visit_count
from network.extensions import db
from network.problems import Invalid
from network.scheduling.booking import (
    BookingConflict,
    FirmDetails,
    NotAllowed,
    Settings,
    available_slots,
    book_visit,
    cancel_visit,
    confirm_visit,
    decline_visit,
    ensure_profile,
    expire_requests,
    record_outcome,
    request_visit,
    reschedule_visit,
    settings_from_config,
    visit_by_manage_token,
)
from network.scheduling.localtime import local_to_utc, to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import SchedulingProfile, Visit, VisitStatus
from network.scheduling.slots import TravelRules

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
WED = date(2026, 11, 25)
SCHWELM = (51.2857, 7.2930)  # the coach's home base (make_partner's default coordinates)
SCHWELM_FIRM = (51.2900, 7.2950)  # ~0.5 km from home: 15.8 min
HAGEN = (51.3671, 7.4633)  # ~14.8 km from Schwelm: ~38 min
SETTINGS = Settings()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return local_to_utc(datetime(day.year, day.month, day.day, hour, minute))


def firm(place=SCHWELM_FIRM, **kw) -> FirmDetails:
    values = dict(name="Muster GmbH", address="Hauptstraße 5, 58332 Schwelm", contact="Erika Muster",
                  email="erika@example.org", phone="02336 1234", lat=place[0] if place else None,
                  lon=place[1] if place else None)
    values.update(kw)
    return FirmDetails(**values)


def request(partner, start, *, duration=60, now=NOW, settings=SETTINGS, **firm_kw):
    with booking_transaction(db.session, partner.id):
        visit, token = request_visit(db.session, partner, start, duration, firm(**firm_kw), None,
                                     "Bitte um Rückruf.", now, settings)
    return visit, token


def book(partner, user, start, *, duration=60, now=NOW, **firm_kw):
    with booking_transaction(db.session, partner.id):
        return book_visit(db.session, partner, user, start, duration, firm(**firm_kw), None, "", now, SETTINGS)


def fresh(visit_id: int) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit_id)


def offered(partner, day=WED, *, now=NOW, place=SCHWELM_FIRM, duration=60) -> list[datetime]:
    slots = available_slots(db.session, partner, day, 1, duration, now, place, SETTINGS)
    db.session.commit()  # the read may have created the profile
    return [s.start for s in slots]


@pytest.fixture()
def coach(make_coach):
    partner, user = make_coach()
    return partner, user


# --- requests hold their slot ------------------------------------------------------------------------

def test_request_creates_a_requested_visit_that_holds_its_slot(coach):
    partner, _ = coach
    assert at(WED, 10) in offered(partner)
    visit, token = request(partner, at(WED, 10))
    visit = fresh(visit.id)
    assert visit.status == "requested" and visit.sequence == 0
    assert visit.expires_at == NOW + timedelta(days=7)
    assert visit_by_manage_token(db.session, token).id == visit.id
    assert visit_by_manage_token(db.session, token + "x") is None
    assert visit.manage_token_hash != token and len(token) >= 40
    got = offered(partner)
    assert at(WED, 10) not in got and at(WED, 9, 30) not in got
    with pytest.raises(BookingConflict) as info:
        request(partner, at(WED, 10, 30), name="Zweite GmbH")
    assert info.value.code == "slot.overlap" and info.value.problem.field == "start"
    assert visit_count() == 1


def test_conflict_offers_the_next_free_slots_after_the_wanted_time(coach):
    partner, _ = coach
    request(partner, at(WED, 10))
    with pytest.raises(BookingConflict) as info:
        request(partner, at(WED, 10), name="Zweite GmbH")
    next_free = info.value.next_free
    assert len(next_free) == 5
    assert all(s.start >= at(WED, 10) for s in next_free)
    assert [s.start for s in next_free] == sorted(s.start for s in next_free)
    free_now = offered(partner, place=SCHWELM_FIRM)
    assert next_free[0].start == min(s for s in free_now if s >= at(WED, 10))
    # The offer is real: the first suggested slot can be requested at once.
    request(partner, next_free[0].start, name="Zweite GmbH")
    assert visit_count(status="requested") == 2


def test_requests_hold_until_declined(coach):
    partner, user = coach
    visit, _ = request(partner, at(WED, 10))
    with booking_transaction(db.session, partner.id):
        decline_visit(db.session, fresh(visit.id), user, "Leider verhindert.", NOW)
    assert fresh(visit.id).status == "declined" and fresh(visit.id).sequence == 1
    assert at(WED, 10) in offered(partner)
    request(partner, at(WED, 10), name="Nächste GmbH")


def test_requests_hold_until_they_expire(coach):
    partner, _ = coach
    day = WED + timedelta(days=14)
    held, _ = request(partner, at(day, 10))
    expires = NOW + timedelta(days=7)
    assert fresh(held.id).expires_at == expires
    assert at(day, 10) not in offered(partner, day, now=expires - timedelta(minutes=1))
    with pytest.raises(BookingConflict):
        request(partner, at(day, 10), now=expires - timedelta(minutes=1), name="Zu früh GmbH")
    # A week after the request nobody answered: the slot is offered again (also before anything wrote
    # the expiry down) and can be requested.
    assert fresh(held.id).status == "requested"
    assert at(day, 10) in offered(partner, day, now=expires)
    request(partner, at(day, 10), now=expires, name="Neue GmbH")
    assert fresh(held.id).status == "expired" and fresh(held.id).sequence == 1


def test_one_expiry_rule_in_python_and_in_sql(coach):
    partner, user = coach
    held, _ = request(partner, at(WED, 10))
    booked = book(partner, user, at(WED, 14))
    expires = NOW + timedelta(days=7)

    def lapsed_in_sql(moment) -> set[int]:
        return set(db.session.scalars(select(Visit.id).where(Visit.status_at(moment) == VisitStatus.EXPIRED)))

    for moment, lapsed in ((expires - timedelta(seconds=1), False), (expires, True)):
        visit = fresh(held.id)
        assert visit.status_at(moment) == ("expired" if lapsed else "requested")
        assert lapsed_in_sql(moment) == ({held.id} if lapsed else set())
        assert fresh(booked.id).status_at(moment) == "confirmed"


def test_settings_from_config_reads_the_scheduling_keys(app):
    settings = settings_from_config({"SCHEDULING_ROAD_FACTOR": 1.5, "SCHEDULING_SPEED_KMH": 40.0,
                                     "SCHEDULING_BUFFER_MIN": 10.0, "SCHEDULING_REQUEST_TTL_DAYS": 3})
    assert settings.rules == TravelRules(1.5, 40.0, 10.0)
    assert settings.request_ttl == timedelta(days=3)
    defaults = settings_from_config(app.config)
    assert defaults.rules == TravelRules(1.3, 50.0, 15.0) and defaults.request_ttl == timedelta(days=7)


# --- travel through the services -------------------------------------------------------------------

def test_travel_time_is_checked_on_request(coach):
    partner, _ = coach
    request(partner, at(WED, 10), place=HAGEN)
    # 11:00 at the Schwelm firm: Hagen -> Schwelm takes ~38 min.
    with pytest.raises(BookingConflict) as info:
        request(partner, at(WED, 11), name="Schwelm AG")
    assert info.value.code == "slot.travel_before"
    assert info.value.next_free[0].start == at(WED, 12)  # 11:30 is 7.5 min short of the ~38 min trip
    # The same firm back-to-back is fine (same place, no travel).
    request(partner, at(WED, 11), place=HAGEN, name="Muster GmbH, zweiter Termin")
    # From home (Schwelm) to Hagen at 08:00 does not work; 09:00 does.
    thu = WED + timedelta(days=1)
    with pytest.raises(BookingConflict) as info:
        request(partner, at(thu, 8), place=HAGEN)
    assert info.value.code == "slot.travel_from_home"
    request(partner, at(thu, 9), place=HAGEN)


def test_home_base_comes_from_the_profile(coach):
    partner, _ = coach
    profile = ensure_profile(db.session, partner)
    assert (profile.home_lat, profile.home_lon) == SCHWELM
    profile.home_lat, profile.home_lon = HAGEN
    db.session.commit()
    assert at(WED, 8) in offered(partner, place=HAGEN)
    assert at(WED, 8) not in offered(partner, place=SCHWELM_FIRM)


# --- every write path re-checks --------------------------------------------------------------------

def test_coach_booking_rechecks_and_may_leave_working_hours(coach):
    partner, user = coach
    request(partner, at(WED, 10))
    with pytest.raises(BookingConflict) as info:
        book(partner, user, at(WED, 10, 30))
    assert info.value.code == "slot.overlap"
    early = book(partner, user, at(WED, 6, 30))  # before working hours, and at short notice
    assert fresh(early.id).status == "confirmed" and fresh(early.id).requested_by == "coach"
    soon = book(partner, user, NOW + timedelta(hours=2))
    assert fresh(soon.id).status == "confirmed"
    with pytest.raises(BookingConflict) as info:
        book(partner, user, NOW - timedelta(hours=1))
    assert info.value.code == "slot.in_past"


def test_confirm_rechecks_with_the_current_rules(coach):
    partner, user = coach
    first, _ = request(partner, at(WED, 10))
    second, _ = request(partner, at(WED, 11, 30), place=SCHWELM, name="Zweite GmbH")  # ~16 min away
    # The rules changed (a larger buffer) since the request: confirming re-checks and refuses.
    strict = Settings(rules=TravelRules(buffer_min=45))
    with pytest.raises(BookingConflict) as info:
        with booking_transaction(db.session, partner.id):
            confirm_visit(db.session, fresh(second.id), user, NOW, strict)
    assert info.value.code == "slot.travel_before"
    assert fresh(second.id).status == "requested" and fresh(second.id).sequence == 0
    with booking_transaction(db.session, partner.id):
        confirm_visit(db.session, fresh(second.id), user, NOW, SETTINGS)
    assert fresh(second.id).status == "confirmed" and fresh(second.id).expires_at is None
    assert fresh(second.id).sequence == 1
    assert fresh(first.id).status == "requested"


def test_confirm_rechecks_against_visits_written_past_the_service(coach):
    partner, user = coach
    visit, _ = request(partner, at(WED, 10))
    # A visit at another place written directly (import, admin fix...) right after: the constraint allows
    # touching ranges, the travel rule does not.
    db.session.add(Visit(partner_id=partner.id, status="confirmed", firm_name="Direkt", firm_lat=HAGEN[0],
                         firm_lon=HAGEN[1], start_at=at(WED, 11), end_at=at(WED, 12)))
    db.session.commit()
    with pytest.raises(BookingConflict) as info:
        with booking_transaction(db.session, partner.id):
            confirm_visit(db.session, fresh(visit.id), user, NOW, SETTINGS)
    assert info.value.code == "slot.travel_after"
    assert fresh(visit.id).status == "requested"


def test_reschedule_rechecks_and_leaves_the_visit_unchanged_on_conflict(coach):
    partner, user = coach
    a, _ = request(partner, at(WED, 10))
    b, _ = request(partner, at(WED, 14), name="Zweite GmbH")
    with pytest.raises(BookingConflict) as info:
        with booking_transaction(db.session, partner.id):
            reschedule_visit(db.session, fresh(b.id), at(WED, 10, 30), NOW, SETTINGS, actor=user)
    assert info.value.code == "slot.overlap"
    assert info.value.next_free and all(s.start >= at(WED, 10, 30) for s in info.value.next_free)
    b = fresh(b.id)
    assert to_local(b.start_at).hour == 14 and b.sequence == 0
    # Moving a visit onto (part of) its own old time is fine: it does not collide with itself.
    with booking_transaction(db.session, partner.id):
        reschedule_visit(db.session, fresh(b.id), at(WED, 14, 30), NOW, SETTINGS, actor=user)
    b = fresh(b.id)
    assert to_local(b.start_at).strftime("%H:%M") == "14:30" and b.sequence == 1
    assert b.end_at - b.start_at == timedelta(hours=1)
    assert fresh(a.id).status == "requested"


def test_firm_reschedule_of_a_confirmed_visit_makes_it_requested_again(coach):
    partner, user = coach
    visit, _ = request(partner, at(WED, 10))
    with booking_transaction(db.session, partner.id):
        confirm_visit(db.session, fresh(visit.id), user, NOW, SETTINGS)
    later = NOW + timedelta(hours=3)
    with booking_transaction(db.session, partner.id):
        reschedule_visit(db.session, fresh(visit.id), at(WED, 15), later, SETTINGS, by_firm=True)
    visit = fresh(visit.id)
    assert visit.status == "requested" and visit.sequence == 2
    assert visit.expires_at == later + timedelta(days=7)
    # A firm must stay within the offer rules (working hours); the coach need not.
    with pytest.raises(BookingConflict) as info:
        with booking_transaction(db.session, partner.id):
            reschedule_visit(db.session, fresh(visit.id), at(WED, 18), later, SETTINGS, by_firm=True)
    assert info.value.code == "slot.outside_hours"
    with booking_transaction(db.session, partner.id):
        confirm_visit(db.session, fresh(visit.id), user, later, SETTINGS)
    with booking_transaction(db.session, partner.id):
        reschedule_visit(db.session, fresh(visit.id), at(WED, 18), later, SETTINGS, actor=user)
    visit = fresh(visit.id)
    assert visit.status == "confirmed" and visit.sequence == 4 and to_local(visit.start_at).hour == 18


def test_cancel_frees_the_slot_and_raises_the_sequence(coach):
    partner, user = coach
    visit, _ = request(partner, at(WED, 10))
    with booking_transaction(db.session, partner.id):
        cancel_visit(db.session, fresh(visit.id), NOW, by_firm=True)
    visit = fresh(visit.id)
    assert visit.status == "cancelled" and visit.sequence == 1 and visit.cancelled_at is not None
    assert at(WED, 10) in offered(partner)
    booked = book(partner, user, at(WED, 10))
    with booking_transaction(db.session, partner.id):
        cancel_visit(db.session, fresh(booked.id), NOW, actor=user)
    assert fresh(booked.id).status == "cancelled"


# --- state rules and permissions ---------------------------------------------------------------------

def test_state_rules(coach):
    partner, user = coach
    visit, _ = request(partner, at(WED, 10))
    with booking_transaction(db.session, partner.id):
        cancel_visit(db.session, fresh(visit.id), NOW, actor=user)
    for action in (
        lambda v: confirm_visit(db.session, v, user, NOW, SETTINGS),
        lambda v: decline_visit(db.session, v, user, "Grund", NOW),
        lambda v: cancel_visit(db.session, v, NOW, actor=user),
        lambda v: cancel_visit(db.session, v, NOW, by_firm=True),
        lambda v: reschedule_visit(db.session, v, at(WED, 12), NOW, SETTINGS, actor=user),
        lambda v: reschedule_visit(db.session, v, at(WED, 12), NOW, SETTINGS, by_firm=True),
        lambda v: record_outcome(db.session, v, user, True, "", NOW + timedelta(days=3)),
    ):
        with pytest.raises(NotAllowed) as info:
            with booking_transaction(db.session, partner.id):
                action(fresh(visit.id))
        assert str(info.value) == "state" and info.value.code == "visit.wrong_state"
    assert fresh(visit.id).status == "cancelled" and fresh(visit.id).sequence == 1

    confirmed = book(partner, user, at(WED, 14))
    for action in (lambda v: confirm_visit(db.session, v, user, NOW, SETTINGS),
                   lambda v: decline_visit(db.session, v, user, "Grund", NOW)):
        with pytest.raises(NotAllowed):
            with booking_transaction(db.session, partner.id):
                action(fresh(confirmed.id))
    # The outcome is recorded for confirmed visits once they have started.
    with pytest.raises(NotAllowed):
        with booking_transaction(db.session, partner.id):
            record_outcome(db.session, fresh(confirmed.id), user, True, "", NOW)
    with booking_transaction(db.session, partner.id):
        record_outcome(db.session, fresh(confirmed.id), user, True, "Gutes Gespräch\r\nWeiter im Januar",
                       at(WED, 16))
    assert fresh(confirmed.id).took_place is True
    assert fresh(confirmed.id).outcome_notes == "Gutes Gespräch\nWeiter im Januar"


def test_decline_needs_a_reason(coach):
    partner, user = coach
    visit, _ = request(partner, at(WED, 10))
    with pytest.raises(Invalid) as info:
        with booking_transaction(db.session, partner.id):
            decline_visit(db.session, fresh(visit.id), user, "  ", NOW)
    assert (info.value.first.field, info.value.codes) == ("reason", ["reason.missing"])
    assert fresh(visit.id).status == "requested"


def test_expired_requests_cannot_be_confirmed_or_revived(coach):
    partner, user = coach
    visit, _ = request(partner, at(WED + timedelta(days=14), 10))
    late = NOW + timedelta(days=8)
    for action in (lambda v: confirm_visit(db.session, v, user, late, SETTINGS),
                   lambda v: decline_visit(db.session, v, user, "zu spät", late),
                   lambda v: reschedule_visit(db.session, v, at(WED + timedelta(days=14), 12), late, SETTINGS,
                                              actor=user),
                   lambda v: reschedule_visit(db.session, v, at(WED + timedelta(days=14), 12), late, SETTINGS,
                                              by_firm=True),
                   lambda v: cancel_visit(db.session, v, late, by_firm=True)):
        with pytest.raises(NotAllowed) as info:
            with booking_transaction(db.session, partner.id):
                action(fresh(visit.id))
        assert str(info.value) == "state" and info.value.code == "visit.wrong_state"
    visit = fresh(visit.id)
    # The refusals rolled back: nothing moved; writing the expiry down is the next write path's job.
    assert visit.status == "requested" and to_local(visit.start_at).hour == 10 and visit.sequence == 0
    with booking_transaction(db.session, partner.id):
        assert expire_requests(db.session, partner.id, late) == 1
    assert fresh(visit.id).status == "expired" and fresh(visit.id).sequence == 1


def test_other_coaches_may_not_touch_the_visits(coach, make_coach):
    partner, user = coach
    _other_partner, other = make_coach()
    visit, _ = request(partner, at(WED, 10))
    for action in (lambda v: confirm_visit(db.session, v, other, NOW, SETTINGS),
                   lambda v: decline_visit(db.session, v, other, "nein", NOW),
                   lambda v: cancel_visit(db.session, v, NOW, actor=other),
                   lambda v: cancel_visit(db.session, v, NOW, actor=None),
                   lambda v: reschedule_visit(db.session, v, at(WED, 12), NOW, SETTINGS, actor=other)):
        with pytest.raises(NotAllowed) as info:
            with booking_transaction(db.session, partner.id):
                action(fresh(visit.id))
        assert str(info.value) == "visit" and info.value.code == "visit.forbidden"
    with pytest.raises(NotAllowed):
        book(partner, other, at(WED, 14))
    assert fresh(visit.id).status == "requested" and visit_count() == 1


# --- input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, duration, field, code", [
    ({"name": " "}, 60, "firm.name", "firm.name_missing"),
    ({"name": "x" * 201}, 60, "firm.name", "firm.name_too_long"),
    ({"address": ""}, 60, "firm.address", "firm.address_missing"),
    ({"place": None}, 60, "firm.address", "firm.address_not_found"),
    ({"contact": ""}, 60, "firm.contact", "firm.contact_missing"),
    ({"email": ""}, 60, "firm.email", "firm.email_missing"),
    ({"email": "keine-adresse"}, 60, "firm.email", "email.invalid"),
    ({"phone": "1" * 61}, 60, "firm.phone", "firm.phone_too_long"),
    ({}, 45, "duration_min", "duration.not_allowed"),
])
def test_bad_input_names_the_field_and_stores_nothing(coach, kw, duration, field, code):
    partner, _ = coach
    with pytest.raises(Invalid) as info:
        request(partner, at(WED, 10), duration=duration, **kw)
    assert [(p.field, p.code) for p in info.value.problems] == [(field, code)]
    assert visit_count() == 0


def test_text_is_normalised_to_lf(coach):
    partner, _ = coach
    visit, _ = request(partner, at(WED, 10), name='Müller; Söhne, "GmbH"\r\nBEGIN:VALARM',
                       contact="Jörg\rÖzdemir")
    visit = fresh(visit.id)
    assert visit.firm_name == 'Müller; Söhne, "GmbH"\nBEGIN:VALARM'
    assert visit.contact_name == "Jörg\nÖzdemir"


def test_control_characters_are_dropped_not_stored(coach):
    """NUL would make PostgreSQL refuse the row (a 500); other control characters are invalid in iCalendar."""
    partner, _ = coach
    visit, _ = request(partner, at(WED, 10), name="Null\x00Firma\x1b GmbH\x7f", contact="Tab\tbleibt")
    visit = fresh(visit.id)
    assert visit.firm_name == "NullFirma GmbH" and visit.contact_name == "Tab\tbleibt"


@pytest.mark.parametrize("minutes", [60, 90, 120])
def test_durations_through_the_service(coach, minutes):
    partner, _ = coach
    visit, _ = request(partner, at(WED, 10), duration=minutes)
    visit = fresh(visit.id)
    assert visit.end_at - visit.start_at == timedelta(minutes=minutes)
    slots = offered(partner, duration=minutes)
    assert slots[-1] == at(WED, 17) - timedelta(minutes=minutes)


def test_dst_day_requests_store_the_right_instants(make_coach):
    sunday_hours = [(6, 9 * 60, 17 * 60)]
    partner, _ = make_coach(hours=sunday_hours)
    for day, utc_hour in ((date(2026, 3, 29), 7), (date(2026, 10, 25), 8), (date(2027, 3, 28), 7),
                          (date(2027, 10, 31), 8)):
        now = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=3)
        slots = offered(partner, day, now=now, place=SCHWELM)  # at the home base: no travel before 09:00
        assert slots[0] == datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC)
        visit, _ = request(partner, slots[0], now=now, place=SCHWELM)
        stored = fresh(visit.id)
        assert stored.start_at == slots[0]
        assert to_local(stored.start_at).strftime("%H:%M") == "09:00"


# --- concurrency (service level; the HTTP races live with the routes) --------------------------------

def _race(app, partner_id: int, starts: list[datetime]) -> list[str]:
    """Each thread requests its start in its own session at the same moment; returns the outcomes."""
    barrier = threading.Barrier(len(starts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(i: int, start: datetime) -> None:
        from network.directory.models import Partner

        with app.app_context():
            partner = db.session.get(Partner, partner_id)
            barrier.wait()
            try:
                with booking_transaction(db.session, partner_id):
                    request_visit(db.session, partner, start, 60, firm(name=f"Firma {i}"), None, "", NOW, SETTINGS)
                result = "ok"
            except BookingConflict:
                result = "conflict"
            except Exception as exc:  # noqa: BLE001 - the test reports any other failure
                result = f"error {type(exc).__name__}: {exc}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i, s)) for i, s in enumerate(starts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


@pytest.mark.parametrize("with_profile", [True, False])
def test_concurrent_requests_for_one_slot_one_wins(app_ctx, coach, with_profile):
    partner, _ = coach
    if with_profile:
        ensure_profile(db.session, partner)
        db.session.commit()
    starts = [at(WED, 10)] * 6 + [at(WED, 10, 30)] * 6  # the same slot, and a partial overlap
    outcomes = _race(app_ctx, partner.id, starts)
    db.session.rollback()  # end this session's read snapshot
    assert sorted(outcomes) == ["conflict"] * 11 + ["ok"], outcomes
    assert visit_count() == 1 and overlapping_active_pairs() == 0
    assert db.session.scalar(select(func.count()).select_from(SchedulingProfile)) == 1


# --- the PostgreSQL backstop --------------------------------------------------------------------------

pg_only = pytest.mark.skipif(not ON_POSTGRES, reason="the exclusion constraint exists on PostgreSQL only")


def _raw_insert(partner_id: int, start: datetime, end: datetime, status: str = "confirmed", uid: str = "") -> None:
    db.session.execute(text(
        "INSERT INTO visits (uid, sequence, partner_id, status, start_at, end_at, firm_name, firm_address, "
        "contact_name, contact_email, contact_phone, message, requested_by, decline_reason, outcome_notes, "
        "created_at, updated_at) VALUES (:uid, 0, :p, :status, :s, :e, 'Roh', '', '', '', '', '', 'coach', '', '', "
        "now(), now())"), {"uid": uid or f"raw-{start.isoformat()}-{status}", "p": partner_id, "status": status,
                           "s": start, "e": end})


@pg_only
def test_exclusion_constraint_refuses_overlaps_written_by_raw_sql(coach):
    partner, _ = coach
    _raw_insert(partner.id, at(WED, 10), at(WED, 11))
    db.session.commit()
    with pytest.raises(IntegrityError) as info:
        _raw_insert(partner.id, at(WED, 10, 30), at(WED, 11, 30), status="requested")
        db.session.commit()
    assert "visits_no_overlap" in str(info.value.orig)
    db.session.rollback()
    # [) ranges: touching is allowed by the constraint (travel time is the service's rule).
    _raw_insert(partner.id, at(WED, 11), at(WED, 12))
    _raw_insert(partner.id, at(WED, 9), at(WED, 10))
    db.session.commit()
    # Partial on active states: cancelled, declined and expired visits do not block.
    for status in ("cancelled", "declined", "expired"):
        _raw_insert(partner.id, at(WED, 10), at(WED, 11), status=status)
    db.session.commit()
    assert visit_count() == 6


@pg_only
def test_exclusion_constraint_refuses_an_orm_insert_and_an_update_past_the_service(coach, make_coach):
    partner, _ = coach
    other, _ = make_coach()
    db.session.add(Visit(partner_id=partner.id, status="requested", start_at=at(WED, 10), end_at=at(WED, 11)))
    db.session.commit()
    db.session.add(Visit(partner_id=partner.id, status="confirmed", start_at=at(WED, 9, 59), end_at=at(WED, 10, 1)))
    with pytest.raises(IntegrityError) as info:
        db.session.commit()
    assert "visits_no_overlap" in str(info.value.orig)
    db.session.rollback()
    # Another coach at the same time is no conflict.
    db.session.add(Visit(partner_id=other.id, status="confirmed", start_at=at(WED, 10), end_at=at(WED, 11)))
    cancelled = Visit(partner_id=partner.id, status="cancelled", start_at=at(WED, 10), end_at=at(WED, 11))
    db.session.add(cancelled)
    db.session.commit()
    # Reviving a cancelled visit into an occupied time is refused too.
    cancelled.status = "confirmed"
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pg_only
def test_service_turns_a_constraint_violation_into_a_conflict(app_ctx, coach):
    """A writer that bypasses the lock inserts between the service's check and its flush: the constraint answers."""
    from sqlalchemy import event

    partner, user = coach
    session = db.session()
    fired = []

    def sneak_in(flushing, _context, _instances):
        if fired or not any(isinstance(obj, Visit) for obj in flushing.new):
            return
        fired.append(True)
        with db.engine.begin() as other:  # another connection, committed at once
            other.execute(text(
                "INSERT INTO visits (uid, sequence, partner_id, status, start_at, end_at, firm_name, firm_address, "
                "contact_name, contact_email, contact_phone, message, requested_by, decline_reason, outcome_notes, "
                "created_at, updated_at) VALUES ('sneaky', 0, :p, 'confirmed', :s, :e, 'Vorbei', '', '', '', '', "
                "'', 'coach', '', '', now(), now())"), {"p": partner.id, "s": at(WED, 10), "e": at(WED, 11)})

    event.listen(session, "before_flush", sneak_in)
    try:
        with pytest.raises(BookingConflict) as info:
            book(partner, user, at(WED, 10, 30))
    finally:
        event.remove(session, "before_flush", sneak_in)
    assert fired
    assert info.value.code == "slot.overlap"
    assert info.value.next_free and all(s.start >= at(WED, 11) for s in info.value.next_free[:1])
    assert visit_count() == 1 and db.session.scalar(select(Visit.uid)) == "sneaky"
