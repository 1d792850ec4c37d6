"""Visit.effective_status: a request past its expiry counts as expired, the same in Python and in SQL."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from network.extensions import db
from network.scheduling.models import Visit, VisitStatus

EXPIRY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JUST_BEFORE = EXPIRY - timedelta(microseconds=1)


@pytest.fixture()
def visits(app_ctx, make_partner):
    """A request expiring at EXPIRY, a request without expiry, a confirmed visit and an expired one."""
    partner = make_partner()
    start = EXPIRY + timedelta(days=3)

    def visit(status: str, expires_at: datetime | None, hour: int) -> Visit:
        row = Visit(partner_id=partner.id, status=status, expires_at=expires_at, firm_name=status,
                    start_at=start + timedelta(hours=hour), end_at=start + timedelta(hours=hour + 1))
        db.session.add(row)
        return row

    rows = {
        "expiring": visit("requested", EXPIRY, 0),
        "open": visit("requested", None, 2),
        "confirmed": visit("confirmed", EXPIRY - timedelta(days=1), 4),
        "expired": visit("expired", EXPIRY - timedelta(days=1), 6),
    }
    db.session.commit()
    return {name: row.id for name, row in rows.items()}


@pytest.mark.parametrize("moment, expiring", [
    (EXPIRY - timedelta(days=1), VisitStatus.REQUESTED),
    (JUST_BEFORE, VisitStatus.REQUESTED),
    (EXPIRY, VisitStatus.EXPIRED),  # the expiry instant itself: expired
    (EXPIRY + timedelta(microseconds=1), VisitStatus.EXPIRED),
    (EXPIRY + timedelta(days=30), VisitStatus.EXPIRED),
])
def test_python_and_sql_agree_around_the_expiry_instant(visits, set_clock, moment, expiring):
    set_clock(moment)
    expected = {"expiring": expiring, "open": VisitStatus.REQUESTED, "confirmed": VisitStatus.CONFIRMED,
                "expired": VisitStatus.EXPIRED}
    db.session.expire_all()
    in_python = {name: db.session.get(Visit, vid).effective_status for name, vid in visits.items()}
    in_sql = {name: db.session.scalar(select(Visit.effective_status).where(Visit.id == vid))
              for name, vid in visits.items()}
    assert in_python == expected
    assert in_sql == expected
    assert all(isinstance(value, VisitStatus) for value in in_sql.values())
    # As a filter, too: the rows SQL calls expired are those Python calls expired.
    ids = set(db.session.scalars(select(Visit.id).where(Visit.effective_status == VisitStatus.EXPIRED)))
    assert ids == {vid for name, vid in visits.items() if expected[name] == VisitStatus.EXPIRED}


def test_status_at_takes_an_explicit_moment(visits):
    visit = db.session.get(Visit, visits["expiring"])
    assert visit.status_at(JUST_BEFORE) == VisitStatus.REQUESTED
    assert visit.status_at(EXPIRY) == VisitStatus.EXPIRED
    stmt = select(Visit.status_at(EXPIRY)).where(Visit.id == visit.id)
    assert db.session.scalar(stmt) == VisitStatus.EXPIRED
    # In another zone the same instant is the same answer (the bound parameter is taken as UTC).
    berlin = timezone(timedelta(hours=1))
    assert db.session.scalar(select(Visit.status_at(JUST_BEFORE.astimezone(berlin))).where(Visit.id == visit.id)) \
        == VisitStatus.REQUESTED


def test_the_sql_expression_reads_the_clock_when_it_is_built(visits, set_clock):
    set_clock(JUST_BEFORE)
    stmt = select(Visit.id).where(Visit.effective_status == VisitStatus.EXPIRED, Visit.id == visits["expiring"])
    set_clock(EXPIRY + timedelta(days=1))
    assert db.session.scalar(stmt) is None  # built before the expiry: still a request


def test_loaded_states_are_enum_members(visits):
    visit = db.session.get(Visit, visits["confirmed"])
    assert visit.status is VisitStatus.CONFIRMED and visit.status == "confirmed"
