"""Scheduling models: a coach's profile (home base, rules), working hours, absences, visits, calendar feed tokens."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from network import clock
from network.dbutil import UTCDateTime
from network.extensions import db

ACTIVE_STATES = ("requested", "confirmed")
VISIT_STATES = ("requested", "confirmed", "declined", "cancelled", "expired")
DURATIONS_MIN = (60, 90, 120)


class SchedulingProfile(db.Model):
    """Per coach/scout: where travel starts, notice and horizon, the calendar feed token, a row to lock on."""

    __tablename__ = "scheduling_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), unique=True)
    home_address: Mapped[str] = mapped_column(String(300), default="")
    home_lat: Mapped[Optional[float]] = mapped_column(Float)
    home_lon: Mapped[Optional[float]] = mapped_column(Float)
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=24)
    horizon_days: Mapped[int] = mapped_column(Integer, default=56)
    # Hash of the secret in the personal webcal:// feed URL; rotating replaces it.
    feed_token_hash: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
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
    reason: Mapped[str] = mapped_column(String(20), default="vacation")  # vacation, sick, other
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
    status: Mapped[str] = mapped_column(String(20), default="requested", index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)

    firm_name: Mapped[str] = mapped_column(String(200), default="")
    firm_address: Mapped[str] = mapped_column(String(300), default="")
    firm_lat: Mapped[Optional[float]] = mapped_column(Float)
    firm_lon: Mapped[Optional[float]] = mapped_column(Float)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(60), default="")
    topic_id: Mapped[Optional[int]] = mapped_column(ForeignKey("topics.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")

    requested_by: Mapped[str] = mapped_column(String(20), default="firm")  # firm or coach
    manage_token_hash: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    cancelled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    took_place: Mapped[Optional[bool]] = mapped_column(Boolean)
    outcome_notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    partner = relationship("Partner")
    topic = relationship("Topic")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATES

    @property
    def duration_min(self) -> int:
        return int((self.end_at - self.start_at).total_seconds() // 60)

    def __repr__(self) -> str:
        return f"<Visit {self.id} {self.status} {self.start_at}>"
