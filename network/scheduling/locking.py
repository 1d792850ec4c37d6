"""One coach's bookings one at a time: BEGIN IMMEDIATE on SQLite, row lock (+ exclusion constraint) on PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from network.directory.models import Partner
from network.scheduling.booking import ensure_profile
from network.scheduling.models import SchedulingProfile


def _lock_profile_row(session: Session, partner_id: int) -> None:
    """SELECT … FOR UPDATE on the coach's profile row, creating the row first if the coach has none yet.

    Without the row there would be nothing to lock: the first concurrent bookings would all
    run unserialised and all but one fail on the profile's unique partner_id (a 500). A
    concurrent creation waits on that unique index until the creator's booking commits, then
    fails inside its savepoint and simply locks the row the winner made.
    """
    lock = select(SchedulingProfile.id).where(SchedulingProfile.partner_id == partner_id).with_for_update()
    if session.execute(lock).scalar() is not None:
        return
    partner = session.get(Partner, partner_id)
    if partner is None:
        return  # the service reports the unknown partner
    try:
        with session.begin_nested():
            ensure_profile(session, partner)
    except IntegrityError:
        pass  # created by a concurrent booking, which has committed by now
    session.execute(lock)


@contextmanager
def booking_transaction(session: Session, partner_id: int) -> Iterator[None]:
    """Run the check-and-write of a booking as one serialised transaction, committed on success.

    This is the request boundary's transaction for write paths (the services inside
    only flush). Reads done before it are committed first so that the check sees the
    latest state: on SQLite the transaction must begin IMMEDIATE (taking the write lock
    before reading), otherwise two requests read the same free slot and both insert.
    On PostgreSQL (READ COMMITTED) the coach's profile row is locked FOR UPDATE first,
    so every later statement of the transaction sees what the previous booking committed.
    """
    inner = session.registry() if hasattr(session, "registry") else session  # scoped_session proxies
    if inner.in_transaction():
        session.commit()
    dialect = session.get_bind().dialect.name
    try:
        if dialect == "sqlite":
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        else:
            # The profile row is the per-coach mutex; the exclusion constraint is the backstop.
            _lock_profile_row(session, partner_id)
        session.execute(update(SchedulingProfile).where(SchedulingProfile.partner_id == partner_id)
                        .values(lock_version=SchedulingProfile.lock_version + 1))
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
