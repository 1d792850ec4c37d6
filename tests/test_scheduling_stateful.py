"""Random booking sequences against the real database: no overlap, no travel gap, only allowed state changes."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select

from conftest import ON_POSTGRES, overlapping_active_pairs
from network.extensions import db
from network.scheduling.booking import (
    BookingConflict,
    FirmDetails,
    NotAllowed,
    Settings,
    book_visit,
    cancel_visit,
    confirm_visit,
    decline_visit,
    request_visit,
    reschedule_visit,
)
from network.scheduling.localtime import local_to_utc, to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import DURATIONS_MIN, Visit
from network.scheduling.slots import TravelRules

pytestmark = pytest.mark.slow

SETTINGS = Settings()
RULES: TravelRules = SETTINGS.rules
HOME = (51.2857, 7.2930)  # make_partner's coordinates: the coach's home base
PLACES = [
    HOME,
    (HOME[0] + 0.0003, HOME[1]),  # ~33 m from home: the same place
    (51.3671, 7.4633),  # Hagen
    (51.3671 + 0.0004, 7.4633),  # ~45 m from Hagen
    (51.3671 + 0.0008, 7.4633),  # ~90 m from Hagen, ~45 m from the previous one
    (51.4818, 7.2162),  # Bochum
    (51.5136, 7.4653),  # Dortmund
]
# Thursdays before the clock changes (and an ordinary week), so the random days cross them.
BASES = [datetime(2026, 11, 19, 7, tzinfo=UTC), datetime(2026, 10, 22, 7, tzinfo=UTC),
         datetime(2026, 3, 26, 7, tzinfo=UTC), datetime(2027, 10, 28, 7, tzinfo=UTC)]
EVERY_DAY = tuple((weekday, 8 * 60, 17 * 60) for weekday in range(7))

# (before, after) status pairs a visit may take in one step; None = the visit did not exist.
ALLOWED = {
    (None, "requested"), (None, "confirmed"),
    ("requested", "confirmed"), ("requested", "declined"), ("requested", "cancelled"), ("requested", "expired"),
    ("confirmed", "cancelled"), ("confirmed", "requested"),  # a firm's move needs the coach again
}


def travel_violations(visits: list[Visit]) -> list[tuple[int, int, float]]:
    """Consecutive active visits of one Berlin day whose gap is shorter than the travel time between them."""
    active = sorted((v for v in visits if v.status in ("requested", "confirmed")), key=lambda v: v.start_at)
    bad = []
    for prev, nxt in pairwise(active):
        if to_local(prev.end_at).date() != to_local(nxt.start_at).date():
            continue
        need = RULES.minutes((prev.firm_lat, prev.firm_lon), (nxt.firm_lat, nxt.firm_lon))
        gap = (nxt.start_at - prev.end_at).total_seconds() / 60
        if gap < need:
            bad.append((prev.id, nxt.id, gap - need))
    return bad


def make_machine(partner_id: int, user_id: int, totals: dict[str, int]):
    from network.accounts.models import User
    from network.audit import AuditEntry
    from network.directory.models import Partner

    class Scheduling(RuleBasedStateMachine):
        visits = Bundle("visits")

        def __init__(self) -> None:
            super().__init__()
            # A fresh calendar for every example: same coach, no visits.
            db.session.rollback()
            db.session.execute(delete(AuditEntry).where(AuditEntry.entity_type == "visits"))
            db.session.execute(delete(Visit))
            db.session.commit()
            self.now = BASES[0]
            self.seen: dict[int, tuple[str, int]] = {}
            self.steps = totals

        # -- helpers --
        @property
        def partner(self) -> Partner:
            return db.session.get(Partner, partner_id)

        @property
        def user(self) -> User:
            return db.session.get(User, user_id)

        def when(self, day: int, minute: int) -> datetime:
            local_day = to_local(self.now).date() + timedelta(days=day)
            return local_to_utc(datetime.combine(local_day, time(0)) + timedelta(minutes=minute))

        def effective(self, visit_id: int) -> str:
            db.session.expire_all()
            visit = db.session.get(Visit, visit_id)
            if visit.status == "requested" and visit.expires_at <= self.now:
                return "expired"
            return visit.status

        def attempt(self, action, allowed_before: set[str] | None = None, visit_id: int | None = None):
            """Run one write path in its booking transaction; check that a refusal was deserved."""
            before = self.effective(visit_id) if visit_id is not None else None
            try:
                with booking_transaction(db.session, partner_id):
                    result = action()
            except BookingConflict as exc:
                assert exc.code.startswith("slot.") and exc.problem.field == "start"
                assert before is None or before in (allowed_before or set()), (before, exc.code)
                assert all(s.start >= self.now for s in exc.next_free)
                self.steps["conflict"] += 1
                return None
            except NotAllowed as exc:
                assert str(exc) == "state" and allowed_before is not None and before not in allowed_before, before
                self.steps["refused"] += 1
                return None
            assert allowed_before is None or before in allowed_before, before
            self.steps["ok"] += 1
            return result

        # -- rules --
        @initialize(base=st.sampled_from(BASES))
        def start(self, base: datetime) -> None:
            self.now = base

        @rule(target=visits, day=st.integers(1, 3), slot=st.integers(0, 17), duration=st.sampled_from(DURATIONS_MIN),
              place=st.sampled_from(PLACES))
        def request(self, day, slot, duration, place):
            start = self.when(day, 8 * 60 + 30 * slot)
            firm = FirmDetails("Firma", "Hauptstraße 1, 58332 Schwelm", "Erika", "erika@example.org", "", *place)
            result = self.attempt(lambda: request_visit(db.session, self.partner, start, duration, firm, None, "",
                                                        self.now, SETTINGS))
            return multiple() if result is None else result[0].id

        @rule(target=visits, day=st.integers(0, 3), minute=st.integers(6 * 4, 20 * 4),
              duration=st.sampled_from(DURATIONS_MIN), place=st.sampled_from(PLACES))
        def book(self, day, minute, duration, place):
            start = self.when(day, 15 * minute)
            firm = FirmDetails("Firma", "Hauptstraße 1, 58332 Schwelm", "", "", "", *place)
            result = self.attempt(lambda: book_visit(db.session, self.partner, self.user, start, duration, firm, None,
                                                     "", self.now, SETTINGS))
            return multiple() if result is None else result.id

        @rule(visit=visits)
        def confirm(self, visit):
            self.attempt(lambda: confirm_visit(db.session, db.session.get(Visit, visit), self.user, self.now, SETTINGS),
                         {"requested"}, visit)

        @rule(visit=visits)
        def decline(self, visit):
            self.attempt(lambda: decline_visit(db.session, db.session.get(Visit, visit), self.user, "Keine Zeit",
                                               self.now), {"requested"}, visit)

        @rule(visit=visits, by_firm=st.booleans())
        def cancel(self, visit, by_firm):
            self.attempt(lambda: cancel_visit(db.session, db.session.get(Visit, visit), self.now,
                                              actor=None if by_firm else self.user, by_firm=by_firm),
                         {"requested", "confirmed"}, visit)

        @rule(visit=visits, day=st.integers(1, 3), slot=st.integers(0, 17), by_firm=st.booleans())
        def reschedule(self, visit, day, slot, by_firm):
            start = self.when(day, 8 * 60 + 30 * slot)
            self.attempt(lambda: reschedule_visit(db.session, db.session.get(Visit, visit), start, self.now, SETTINGS,
                                                  actor=None if by_firm else self.user, by_firm=by_firm),
                         {"requested", "confirmed"}, visit)

        @rule(hours=st.integers(1, 80))
        def tick(self, hours):
            self.now += timedelta(hours=hours)

        # -- invariants, after every step --
        @invariant()
        def no_overlap(self):
            db.session.rollback()
            assert overlapping_active_pairs() == 0

        @invariant()
        def travel_time_fits(self):
            visits = list(db.session.scalars(select(Visit).where(Visit.partner_id == partner_id)))
            assert travel_violations(visits) == []

        @invariant()
        def states_move_along_allowed_transitions(self):
            db.session.expire_all()
            now_seen = {v.id: (v.status, v.sequence) for v in db.session.scalars(select(Visit))}
            for visit_id, (status, sequence) in now_seen.items():
                old_status, old_sequence = self.seen.get(visit_id, (None, -1))
                if status != old_status:
                    assert (old_status, status) in ALLOWED, (visit_id, old_status, status)
                    self.steps[f"{old_status}->{status}"] = self.steps.get(f"{old_status}->{status}", 0) + 1
                    assert sequence > old_sequence
                assert sequence >= old_sequence
            assert set(self.seen) <= set(now_seen)  # nothing disappears
            self.seen = now_seen

    return Scheduling


@pytest.fixture()
def calendar(make_coach):
    partner, user = make_coach(hours=EVERY_DAY)
    return partner.id, user.id


def test_random_booking_sequences_keep_every_rule(calendar):
    totals = {"ok": 0, "conflict": 0, "refused": 0}
    machine = make_machine(*calendar, totals)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=30, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    # Not vacuous: the runs wrote visits, met conflicts and refused state changes.
    assert totals["ok"] >= 30 and totals["conflict"] >= 5 and totals["refused"] >= 3, totals
    assert sum(1 for key in totals if "->" in key) >= 5, totals


def test_the_invariant_checks_can_fail(calendar):
    """The checks above see overlaps and travel gaps when they exist (written here past the services)."""
    partner_id, _ = calendar
    start = local_to_utc(datetime(2026, 12, 1, 10))
    a = Visit(partner_id=partner_id, status="confirmed", start_at=start, end_at=start + timedelta(hours=1),
              firm_lat=PLACES[2][0], firm_lon=PLACES[2][1])
    b = Visit(partner_id=partner_id, status="requested", start_at=start + timedelta(hours=1),
              end_at=start + timedelta(hours=2), firm_lat=PLACES[5][0], firm_lon=PLACES[5][1])
    db.session.add_all([a, b])
    db.session.commit()
    assert [(x, y) for x, y, _ in travel_violations([a, b])] == [(a.id, b.id)]
    b.firm_lat, b.firm_lon = PLACES[4]  # ~90 m away: the buffer alone does not fit a 0-minute gap
    assert len(travel_violations([a, b])) == 1
    b.firm_lat, b.firm_lon = PLACES[3]  # ~45 m away: the same place
    assert travel_violations([a, b]) == []
    b.status = "cancelled"
    b.firm_lat, b.firm_lon = PLACES[5]
    assert travel_violations([a, b]) == []
    db.session.commit()
    assert overlapping_active_pairs() == 0
    if not ON_POSTGRES:  # PostgreSQL's constraint would refuse the row itself
        db.session.add(Visit(partner_id=partner_id, status="requested", start_at=start + timedelta(minutes=59),
                             end_at=start + timedelta(minutes=61)))
        db.session.commit()
        assert overlapping_active_pairs() == 1
