"""Directory models: organisations, partners and the taxonomies admins maintain (kinds, regions, topics)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from network import clock
from network.audit import register_actions
from network.dbutil import UTCDateTime, state_type
from network.extensions import db
from network.geo.distance import geo_cell
from network.geo.gazetteer import normalize

ORGANISATION_TYPES = ("agency", "university_institute", "kompetenzzentrum", "consultancy")

partner_topics = Table(
    "partner_topics",
    db.metadata,
    Column("partner_id", Integer, ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", Integer, ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Kind(db.Model):
    """A kind of partner (Innovationscoach, Technologiescout, …); data, so admins can rename it."""

    __tablename__ = "kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_de: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    color: Mapped[str] = mapped_column(String(7), default="#3366cc")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    def name(self, locale: str = "de") -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_de

    def __repr__(self) -> str:
        return f"<Kind {self.slug}>"


class Region(db.Model):
    """A region of the network (a city, a district, or NRW-wide)."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    area: Mapped[str] = mapped_column(String(40), default="Ruhr")  # Ruhr, Südwestfalen, NRW
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<Region {self.slug}>"


class Topic(db.Model):
    """A topic from the maintained taxonomy (Prozessoptimierung, IT-Sicherheit, …)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_de: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    def name(self, locale: str = "de") -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_de

    def __repr__(self) -> str:
        return f"<Topic {self.slug}>"


class Organisation(db.Model):
    """An agency, university institute, Kompetenzzentrum or consultancy that partners belong to."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    org_type: Mapped[str] = mapped_column(String(40), default="agency")
    website: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    partners: Mapped[list[Partner]] = relationship(back_populates="organisation")

    def __repr__(self) -> str:
        return f"<Organisation {self.name!r}>"


class Partner(db.Model):
    """A listing in the directory: a person or a unit with a place, topics and contact data."""

    __tablename__ = "partners"
    __table_args__ = (
        # The nearby search prefilters on the grid cells under its bounding box, then
        # on latitude/longitude; the other columns make the index covering, so the
        # ranking query never touches the table rows.
        Index("ix_partners_geo", "geo_cell", "latitude", "longitude", "is_archived", "kind_id", "region_id",
              "service_radius_km", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    is_person: Mapped[bool] = mapped_column(Boolean, default=True)
    # kind_id and region_id have no index of their own: SQLite (without statistics) would
    # prefer it over the geo index and read every partner of a kind; ix_partners_geo covers them.
    kind_id: Mapped[int] = mapped_column(ForeignKey("kinds.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    description: Mapped[str] = mapped_column(Text, default="")

    street: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # network.geo.distance.geo_cell(latitude, longitude), kept in step by the ORM events below.
    geo_cell: Mapped[int] = mapped_column(Integer, default=0)
    service_radius_km: Mapped[float] = mapped_column(Float, default=50.0)

    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    languages: Mapped[str] = mapped_column(String(100), default="de")  # comma-separated ISO codes

    # Normalised name/organisation/city/description for case- and umlaut-insensitive text search.
    search_text: Mapped[str] = mapped_column(Text, default="")
    sort_name: Mapped[str] = mapped_column(String(200), default="")

    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Not indexed on its own: SQLite would pick a boolean index over the geo index and scan every row.
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=clock.now)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when this listing was merged into another; the listing is archived then.
    # Indexed: without it every deleted partner scans the table for rows pointing at it.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"),
                                                          index=True)

    kind: Mapped[Kind] = relationship()
    region: Mapped[Region] = relationship()
    # viewonly: a writable self-reference makes the ORM insert partners one statement at a time.
    merged_into: Mapped[Partner | None] = relationship(remote_side="Partner.id", foreign_keys=[merged_into_id],
                                                           viewonly=True)
    organisation: Mapped[Organisation | None] = relationship(back_populates="partners")
    topics: Mapped[list[Topic]] = relationship(secondary=partner_topics, order_by=Topic.sort_order)

    @property
    def language_list(self) -> list[str]:
        return [code.strip() for code in self.languages.split(",") if code.strip()]

    @property
    def address(self) -> str:
        place = " ".join(part for part in (self.postcode, self.city) if part)
        return ", ".join(part for part in (self.street, place) if part)

    def refresh_search_fields(self) -> None:
        """Recompute the normalised text used by search; call after changing name, organisation, city or description."""
        org = self.organisation.name if self.organisation else ""
        self.search_text = " | ".join(normalize(part) for part in (self.name, org, self.city, self.description or ""))
        self.sort_name = normalize(self.name)[:200]

    def __repr__(self) -> str:
        return f"<Partner {self.id} {self.name!r}>"


@event.listens_for(Partner, "before_insert")
@event.listens_for(Partner, "before_update")
def _keep_geo_cell(_mapper, _connection, partner: Partner) -> None:
    # Every ORM write path (forms, API, CSV, erasure, demo) moves the point; the cell follows.
    if partner.latitude is not None and partner.longitude is not None:
        partner.geo_cell = geo_cell(partner.latitude, partner.longitude)


# The fields of a listing that the audit log records, before → after.
PARTNER_FIELDS = ("name", "is_person", "description", "street", "postcode", "city", "latitude", "longitude",
                  "service_radius_km", "email", "phone", "website", "languages", "is_archived", "is_demo")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def partner_snapshot(partner) -> dict[str, Any]:
    """The audited fields of a listing as JSON-friendly values."""
    snap = {field: _plain(getattr(partner, field)) for field in PARTNER_FIELDS}
    snap["kind"] = partner.kind.slug if partner.kind else None
    snap["region"] = partner.region.slug if partner.region else None
    snap["organisation"] = partner.organisation.name if partner.organisation else None
    snap["topics"] = sorted(topic.slug for topic in partner.topics)
    snap["confirmed_at"] = _plain(partner.confirmed_at)
    return snap


class DirectoryAction(StrEnum):
    """The directory's audit actions beyond the core's (create, update, confirm, export, erase)."""

    ARCHIVE = "archive"
    RESTORE = "restore"
    MERGE = "merge"
    IMPORT = "import"
    ACCEPT = "accept"  # a suggestion
    REJECT = "reject"


register_actions(DirectoryAction)


class SuggestionType(StrEnum):
    NEW_LISTING = "new_listing"
    OUTDATED = "outdated"
    DUPLICATE = "duplicate"


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# The values as plain strings, in order (filters, membership tests).
SUGGESTION_TYPES = tuple(member.value for member in SuggestionType)
SUGGESTION_STATES = tuple(member.value for member in SuggestionStatus)


class Suggestion(db.Model):
    """A public suggestion (new listing) or report (outdated data, possible duplicate) waiting for moderation."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    suggestion_type: Mapped[SuggestionType] = mapped_column(state_type(SuggestionType, "suggestion_type"))
    status: Mapped[SuggestionStatus] = mapped_column(state_type(SuggestionStatus, "status"),
                                                     default=SuggestionStatus.PENDING, index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"),
                                                           index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    reporter_email: Mapped[str] = mapped_column(String(200), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    region = relationship("Region")
    partner = relationship("Partner", foreign_keys=[partner_id])
    duplicate_of = relationship("Partner", foreign_keys=[duplicate_of_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])

    def __repr__(self) -> str:
        return f"<Suggestion {self.id} {self.suggestion_type} {self.status}>"
