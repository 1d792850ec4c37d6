"""Scheduling models: a coach's profile (home base, rules), working hours, absences, visits, calendar feed tokens."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    case,
    type_coerce,
)
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from network import clock
from network.audit import register_actions
from network.dbutil import UTCDateTime, state_type
from network.extensions import db


class VisitStatus(StrEnum):
    """A visit's stored state; a request past its expires_at counts as expired (Visit.status_at) before a
    booking run writes that down."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class RequestedBy(StrEnum):
    """Who entered a visit: a firm asked for it, or the coach booked it directly."""

    FIRM = "firm"
    COACH = "coach"


class AbsenceReason(StrEnum):
    VACATION = "vacation"
    SICK = "sick"
    OTHER = "other"


class SchedulingAction(StrEnum):
    """The scheduler's audit actions beyond the core's (create, update, delete, confirm)."""

    REQUEST = "request"
    BOOK = "book"
    DECLINE = "decline"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    OUTCOME = "outcome"
    WORKING_HOURS = "working_hours"
    FEED_ROTATE = "feed_rotate"


register_actions(SchedulingAction)

ACTIVE_STATES = (VisitStatus.REQUESTED, VisitStatus.CONFIRMED)
DURATIONS_MIN = (60, 90, 120)


class SchedulingProfile(db.Model):
    """Per coach/scout: where travel starts, notice and horizon, the calendar feed token, a row to lock on."""

    __tablename__ = "scheduling_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), unique=True)
    home_address: Mapped[str] = mapped_column(String(300), default="")
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=24)
    horizon_days: Mapped[int] = mapped_column(Integer, default=56)
    # Hash of the secret in the personal webcal:// feed URL; rotating replaces it.
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Bumped inside every booking transaction: on PostgreSQL the row lock serialises one coach's bookings.
    lock_version: Mapped[int] = mapped_column(Integer, default=0)

    partner = relationship("Partner")

    def __repr__(self) -> str:
        return f"<SchedulingProfile partner={self.partner_id}>"


class WorkingHours(db.Model):
    """A weekly working interval in Berlin wall-clock time (weekday 0 = Monday)."""

    __tablename__ = "working_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    end_minute: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<WorkingHours {self.partner_id} {self.weekday} {self.start_minute}-{self.end_minute}>"


class Absence(db.Model):
    """Whole local days a coach is away (vacation, sick days), inclusive."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[AbsenceReason] = mapped_column(state_type(AbsenceReason, "reason"), default=AbsenceReason.VACATION)
    note: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"<Absence {self.partner_id} {self.start_date}..{self.end_date}>"


def _new_uid() -> str:
    return f"{uuid.uuid4()}@partnernetz"


class Visit(db.Model):
    """An on-site visit of a coach at a firm; instants in UTC; requested and confirmed visits hold their slot."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_partner_start", "partner_id", "start_at"),
        CheckConstraint("end_at > start_at", name="end_after_start"),
        # PostgreSQL also has the exclusion constraint visits_no_overlap (migration 0003).
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(100), unique=True, default=_new_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    status: Mapped[VisitStatus] = mapped_column(state_type(VisitStatus, "status"), default=VisitStatus.REQUESTED,
                                                index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)

    firm_name: Mapped[str] = mapped_column(String(200), default="")
    firm_address: Mapped[str] = mapped_column(String(300), default="")
    firm_lat: Mapped[float | None] = mapped_column(Float)
    firm_lon: Mapped[float | None] = mapped_column(Float)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(60), default="")
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")

    requested_by: Mapped[RequestedBy] = mapped_column(state_type(RequestedBy, "requested_by"),
                                                      default=RequestedBy.FIRM)
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    took_place: Mapped[bool | None] = mapped_column(Boolean)
    outcome_notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    partner = relationship("Partner")
    topic = relationship("Topic")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATES

    # The one place of the rule "a request past its expiry counts as expired": in Python on a loaded visit,
    # and in SQL (visit lists, counts, the booking checks), so both always agree.
    @hybrid_method
    def status_at(self, moment: datetime) -> VisitStatus:
        """The state at moment: a request whose expires_at has come counts as expired."""
        if self.status == VisitStatus.REQUESTED and self.expires_at is not None and self.expires_at <= moment:
            return VisitStatus.EXPIRED
        return VisitStatus(self.status)

    @status_at.inplace.expression
    @classmethod
    def _status_at_sql(cls, moment: datetime) -> ColumnElement[VisitStatus]:
        moment = moment.astimezone(UTC)  # compared as a bound parameter, stored instants are UTC
        expired = and_(cls.status == VisitStatus.REQUESTED, cls.expires_at.is_not(None), cls.expires_at <= moment)
        return type_coerce(case((expired, VisitStatus.EXPIRED.value), else_=cls.status), cls.status.type)

    @hybrid_property
    def effective_status(self) -> VisitStatus:
        """The state now (network.clock.now(), the app's injectable clock); in SQL, now is bound when the
        expression is built."""
        return self.status_at(clock.now())

    @effective_status.inplace.expression
    @classmethod
    def _effective_status_sql(cls) -> ColumnElement[VisitStatus]:
        return cls.status_at(clock.now())

    @property
    def duration_min(self) -> int:
        return int((self.end_at - self.start_at).total_seconds() // 60)

    def __repr__(self) -> str:
        return f"<Visit {self.id} {self.status} {self.start_at}>"

