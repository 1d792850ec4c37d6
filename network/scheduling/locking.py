"""One coach's bookings happen one at a time: BEGIN IMMEDIATE on SQLite, a row lock (+ exclusion constraint) on PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from network.scheduling.models import SchedulingProfile


@contextmanager
def booking_transaction(session: Session, partner_id: int) -> Iterator[None]:
    """Run the check-and-write of a booking as one serialised transaction, committed on success.

    This is the request boundary's transaction for write paths (the services inside
    only flush). Reads done before it are committed first so that the check sees the
    latest state: on SQLite the transaction must begin IMMEDIATE (taking the write lock
    before reading), otherwise two requests read the same free slot and both insert.
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
            session.execute(select(SchedulingProfile.id).where(SchedulingProfile.partner_id == partner_id)
                            .with_for_update())
        session.execute(update(SchedulingProfile).where(SchedulingProfile.partner_id == partner_id)
                        .values(lock_version=SchedulingProfile.lock_version + 1))
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
