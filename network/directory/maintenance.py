"""Queries for the people who maintain listings: the filtered list an editor sees, candidates for a merge."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from network.accounts.models import User
from network.audit import AuditEntry
from network.directory.freshness import stale_clause
from network.directory.models import Kind, Partner, Region, Suggestion, Topic, partner_topics
from network.geo.distance import bounding_box, great_circle_km
from network.geo.gazetteer import normalize

ARCHIVED_CHOICES = ("", "include", "only")  # "" = active listings only
# Duplicates are usually the same person entered twice by two agencies: close by, similar name.
MERGE_RADIUS_KM = 25.0
MERGE_NAME_SIMILARITY = 0.6
MERGE_CANDIDATE_LIMIT = 8


@dataclass(frozen=True)
class ListingFilter:
    """The admin list's filters; slugs as in the public search."""

    region: str = ""
    kind: str = ""
    topic: str = ""
    q: str = ""
    stale: bool = False
    archived: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ListingFilter:
        archived = args.get("archived", "")
        try:
            page = max(1, int(args.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            region=args.get("region", "").strip(),
            kind=args.get("kind", "").strip(),
            topic=args.get("topic", "").strip(),
            q=args.get("q", "").strip()[:200],
            stale=args.get("stale", "") in ("1", "on", "ja"),
            archived=archived if archived in ARCHIVED_CHOICES else "",
            page=page,
        )

    def args(self, **overrides: Any) -> dict[str, Any]:
        """Non-empty filters as query arguments (for links, pagination and exports)."""
        values: dict[str, Any] = {"region": self.region, "kind": self.kind, "topic": self.topic, "q": self.q,
                                  "stale": "1" if self.stale else "", "archived": self.archived,
                                  "page": self.page if self.page > 1 else ""}
        values.update(overrides)
        return {key: value for key, value in values.items() if value not in ("", None)}

    @property
    def is_active(self) -> bool:
        return bool(self.region or self.kind or self.topic or self.q or self.stale or self.archived)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def listing_query(flt: ListingFilter, user: User, now: datetime) -> Select[Any]:
    """Listings the user maintains that match the filter, ordered by name."""
    stmt = select(Partner)
    if flt.archived == "only":
        stmt = stmt.where(Partner.is_archived.is_(True))
    elif flt.archived != "include":
        stmt = stmt.where(Partner.is_archived.is_(False))
    if not user.is_admin:
        # Editors maintain their regions only; an empty set must still match nothing.
        stmt = stmt.where(Partner.region_id.in_(user.region_ids or {-1}))
    if flt.region:
        stmt = stmt.join(Region, Region.id == Partner.region_id).where(Region.slug == flt.region)
    if flt.kind:
        stmt = stmt.join(Kind, Kind.id == Partner.kind_id).where(Kind.slug == flt.kind)
    if flt.topic:
        stmt = stmt.where(
            select(partner_topics.c.partner_id)
            .join(Topic, Topic.id == partner_topics.c.topic_id)
            .where(partner_topics.c.partner_id == Partner.id, Topic.slug == flt.topic)
            .exists()
        )
    if flt.q and normalize(flt.q):
        stmt = stmt.where(Partner.search_text.like(_like_pattern(normalize(flt.q)), escape="\\"))
    if flt.stale:
        stmt = stmt.where(stale_clause(now))
    return stmt.order_by(Partner.sort_name, Partner.id)


def with_relations(stmt: Select[Any]) -> Select[Any]:
    return stmt.options(selectinload(Partner.kind), selectinload(Partner.region),
                        selectinload(Partner.organisation), selectinload(Partner.topics))


@dataclass(frozen=True)
class MergeCandidate:
    partner: Partner
    distance_km: float
    similarity: float


def merge_candidates(session: Session, keep: Partner, user: User,
                     limit: int = MERGE_CANDIDATE_LIMIT) -> list[MergeCandidate]:
    """Active listings near keep with a similar name (or the same e-mail/phone) that the user may archive."""
    box = bounding_box(keep.latitude, keep.longitude, MERGE_RADIUS_KM)
    stmt = select(Partner).where(Partner.id != keep.id, Partner.is_archived.is_(False),
                                 Partner.latitude.between(box.min_lat, box.max_lat))
    if box.min_lon is not None:
        stmt = stmt.where(Partner.longitude.between(box.min_lon, box.max_lon))
    if not user.is_admin:
        stmt = stmt.where(Partner.region_id.in_(user.region_ids or {-1}))
    key = normalize(keep.name)
    found: list[MergeCandidate] = []
    for other in session.scalars(with_relations(stmt)):
        distance = great_circle_km(keep.latitude, keep.longitude, other.latitude, other.longitude)
        if distance > MERGE_RADIUS_KM:
            continue
        similarity = SequenceMatcher(None, key, other.sort_name or normalize(other.name)).ratio()
        same_contact = bool((keep.email and keep.email.lower() == other.email.lower())
                            or (keep.phone and normalize(keep.phone) == normalize(other.phone)))
        if similarity >= MERGE_NAME_SIMILARITY or same_contact:
            found.append(MergeCandidate(other, distance, max(similarity, 1.0 if same_contact else 0.0)))
    found.sort(key=lambda c: (-c.similarity, c.distance_km, c.partner.id))
    return found[:limit]


def merge_preview(keep: Partner, duplicate: Partner) -> dict[str, Any]:
    """What a merge would bring into keep: the fields it fills and the topics it adds."""
    return {
        "duplicate": duplicate,
        "filled": [field for field in ("email", "phone", "website", "description", "street", "postcode", "city")
                   if not getattr(keep, field) and getattr(duplicate, field)],
        "new_topics": [topic for topic in duplicate.topics if topic not in keep.topics],
    }


def audit_scope(user) -> ColumnElement[bool] | None:
    """Audit rows an editor or coach may read beyond their own actions: editors their regions' listings and
    suggestions, coaches their own listing's rows (registered with the core audit log)."""
    if user.is_editor and user.region_ids:
        regions = list(user.region_ids)
        return or_(
            and_(AuditEntry.entity_type == "partners",
                 AuditEntry.entity_id.in_(select(Partner.id).where(Partner.region_id.in_(regions)))),
            and_(AuditEntry.entity_type == "suggestions",
                 AuditEntry.entity_id.in_(select(Suggestion.id).where(Suggestion.region_id.in_(regions)))),
        )
    if user.is_coach and user.partner_id is not None:
        return and_(AuditEntry.entity_type == "partners", AuditEntry.entity_id == user.partner_id)
    return None
