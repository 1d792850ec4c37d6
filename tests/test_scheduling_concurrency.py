"""Concurrent visit requests through the HTTP layer: one winner per slot, 409 for the rest, never a 500 or a lock error.

A real threaded werkzeug server on loopback serves the app; real HTTP clients in
threads race for the same time. SQLite: 50 threads (BEGIN IMMEDIATE serialises the
check-and-insert). PostgreSQL (TEST_DATABASE_URL): 200 requests from 50 workers (row
lock on the coach's profile, exclusion constraint as the backstop). Afterwards a SQL
self-join must find no two active visits of one coach that overlap.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from conftest import ON_POSTGRES, overlapping_active_pairs
from network.extensions import db
from network.scheduling.models import Visit
from test_scheduling_public import FIRM_ADDRESS

pytestmark = pytest.mark.usefixtures("lifted_rate_limits")

REQUESTS = 200 if ON_POSTGRES else 50
WORKERS = 50
HTTP_TIMEOUT = 60

ACTIVE_SQL = text("SELECT COUNT(*) FROM visits WHERE status IN ('requested', 'confirmed') AND partner_id = :pid")


@pytest.fixture()
def coach_id(make_coach, now) -> int:
    partner, _user = make_coach()
    partner_id = partner.id
    # The test thread holds no transaction while the server's threads work.
    db.session.remove()
    return partner_id


def payload(partner_id: int, start: str, n: int, address: str = FIRM_ADDRESS) -> dict:
    return {
        "partner_id": partner_id,
        "start": start,
        "duration_min": 60,
        "firm": {"name": f"Firma {n}", "address": address, "contact": f"Kontakt {n}",
                 "email": f"firma{n}@example.org", "phone": ""},
        "topic": None,
        "message": f"Anfrage {n}",
    }


def post_json(url: str, body: dict) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def race(url: str, bodies: list[dict], workers: int) -> tuple[list[tuple[int, str]], float]:
    """Send bodies from `workers` threads that start together; returns the answers and the wall time."""
    workers = min(workers, len(bodies))
    barrier = threading.Barrier(workers)
    results: list[tuple[int, str] | None] = [None] * len(bodies)

    def work(offset: int) -> None:
        barrier.wait(timeout=30)
        for index in range(offset, len(bodies), workers):
            try:
                results[index] = post_json(url, bodies[index])
            except Exception as exc:  # noqa: BLE001  (a dropped connection is a failure to report, not a crash)
                results[index] = (-1, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.perf_counter() - started
    assert all(r is not None for r in results), "a client thread did not finish"
    return results, elapsed  # type: ignore[return-value]


def check_outcome(results: list[tuple[int, str]], caplog, *, partner_id: int, label: str, elapsed: float) -> None:
    codes = Counter(status for status, _ in results)
    print(f"\n{label} on {'PostgreSQL' if ON_POSTGRES else 'SQLite'}: {len(results)} requests in "
          f"{elapsed:.2f} s ({len(results) / elapsed:.0f}/s), answers {dict(codes)}")
    bodies = [body for _, body in results]
    assert not any("database is locked" in body for body in bodies)
    assert not any("database is locked" in record.getMessage() for record in caplog.records)
    assert not any(record.levelno >= logging.ERROR and record.name.startswith("network") for record in caplog.records)
    assert codes[500] == 0 and codes[-1] == 0, [b for s, b in results if s in (500, -1)][:3]
    assert codes[201] == 1, dict(codes)
    assert codes[409] == len(results) - 1, dict(codes)
    for status, body in results:
        data = json.loads(body)
        if status == 409:
            assert data["error"] and isinstance(data["next_free"], list)
        else:
            assert data["status"] == "requested" and data["manage_url"]
    db.session.remove()
    with db.engine.connect() as conn:
        assert overlapping_active_pairs(conn) == 0
        assert conn.execute(ACTIVE_SQL, {"pid": partner_id}).scalar() == 1


@pytest.mark.slow
def test_same_slot_from_many_threads_exactly_one_wins(live_server, coach_id, caplog):
    bodies = [payload(coach_id, "2026-12-01T10:00", n) for n in range(REQUESTS)]
    results, elapsed = race(f"{live_server}/api/visits", bodies, WORKERS)
    check_outcome(results, caplog, partner_id=coach_id, label="same slot", elapsed=elapsed)
    winner = json.loads(next(body for status, body in results if status == 201))
    assert winner["start"] == "2026-12-01T10:00:00+01:00"
    assert elapsed < 60


@pytest.mark.slow
def test_partial_overlap_raced_from_different_threads_one_wins(live_server, coach_id, caplog):
    # 10:00–11:00 against 10:30–11:30, interleaved so both sides start at once.
    bodies = [payload(coach_id, "2026-12-01T10:00" if n % 2 else "2026-12-01T10:30", n) for n in range(REQUESTS)]
    results, elapsed = race(f"{live_server}/api/visits", bodies, WORKERS)
    check_outcome(results, caplog, partner_id=coach_id, label="partial overlap", elapsed=elapsed)
    reasons = Counter(json.loads(body).get("code") for status, body in results if status == 409)
    assert set(reasons) == {"slot.overlap"}
    assert elapsed < 60


@pytest.mark.slow
def test_adjacent_slots_at_distant_firms_raced_one_wins(live_server, coach_id, caplog):
    # 10:00–11:00 in Schwelm and 11:00–12:00 in Dortmund touch but do not overlap: only the travel
    # time (about an hour) keeps them apart, so the travel rule must hold under concurrency too.
    bodies = [payload(coach_id, "2026-12-01T10:00", n) if n % 2 else
              payload(coach_id, "2026-12-01T11:00", n, address="Dortmund") for n in range(REQUESTS)]
    results, elapsed = race(f"{live_server}/api/visits", bodies, WORKERS)
    check_outcome(results, caplog, partner_id=coach_id, label="travel time", elapsed=elapsed)
    reasons = Counter(json.loads(body).get("code") for status, body in results if status == 409)
    assert reasons.keys() <= {"slot.overlap", "slot.travel_before", "slot.travel_after"}
    assert elapsed < 60


def test_the_overlap_check_finds_overlaps(app_ctx, make_coach):
    """The SQL check above can fail: two overlapping active visits written behind the services' back."""
    partner, _ = make_coach()

    def visit(start_hour: int, minute: int = 0) -> Visit:
        start = datetime(2026, 12, 1, start_hour, minute, tzinfo=UTC)
        return Visit(partner_id=partner.id, status="requested", start_at=start,
                     end_at=start.replace(hour=start_hour + 1), firm_name="x")

    db.session.add_all([visit(9), visit(9, 30)])
    if ON_POSTGRES:
        # PostgreSQL refuses it outright: the exclusion constraint visits_no_overlap.
        with pytest.raises(IntegrityError, match="visits_no_overlap"):
            db.session.commit()
        db.session.rollback()
        return
    db.session.commit()
    with db.engine.connect() as conn:
        assert overlapping_active_pairs(conn) == 1
