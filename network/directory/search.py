"""Nearby search over the directory: SQL filters and a bounding-box prefilter, then exact great-circle distance."""
from __future__ import annotations

from dataclasses import dataclass, field
from math import atan2, ceil, cos, radians, sin, sqrt
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from network.dbutil import fetch_tuples
from network.directory.models import Kind, Partner, Region, Topic, partner_topics
from network.geo.distance import EARTH_RADIUS_KM, bounding_box, cells_for_box
from network.geo.gazetteer import normalize
from network.problems import Invalid


@dataclass(frozen=True)
class SearchQuery:
    """What to look for. Filters are slugs; lat/lon/radius_km are optional together."""

    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    kind: str | None = None
    topic: str | None = None
    region: str | None = None
    text: str | None = None
    page: int = 1
    per_page: int = 20
    include_archived: bool = False

    @property
    def has_location(self) -> bool:
        return self.lat is not None and self.lon is not None

    def validate(self) -> None:
        """Raises Invalid naming the parameter out of range (the codes of params.parse_search)."""
        if (self.lat is None) != (self.lon is None):
            raise Invalid.one("lat" if self.lat is None else "lon", "search.missing_pair")
        if self.lat is not None and not -90 <= self.lat <= 90:
            raise Invalid.one("lat", "search.out_of_range", value=self.lat)
        if self.lon is not None and not -180 <= self.lon <= 180:
            raise Invalid.one("lon", "search.out_of_range", value=self.lon)
        if self.radius_km is not None and not 0 < self.radius_km <= 20000:
            raise Invalid.one("radius_km", "search.out_of_range", value=self.radius_km)
        if self.page < 1:
            raise Invalid.one("page", "search.out_of_range", value=self.page)
        if not 1 <= self.per_page <= 10000:
            raise Invalid.one("per_page", "search.out_of_range", value=self.per_page)


class Ranked(NamedTuple):
    """One matching partner id with its distance (km) and whether its service radius reaches the place.

    A NamedTuple, not a dataclass: a wide search builds tens of thousands of these.
    """

    partner_id: int
    distance_km: float | None
    reaches: bool | None


@dataclass
class Hit:
    partner: Partner
    distance_km: float | None
    reaches: bool | None


@dataclass
class SearchResult:
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    ranked: list[Ranked] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_NO_MATCH = -1  # an id no row has: an unknown slug matches nothing


def _slug_id(session: Session, model, slug: str) -> int:
    found = session.execute(select(model.id).where(model.slug == slug)).scalar()
    return _NO_MATCH if found is None else found


def _filtered(session: Session, columns, query: SearchQuery):
    """A SELECT of the given columns with every non-geographic filter applied.

    Slugs are resolved to ids first: comparing partners.kind_id to a constant lets
    the planner stay on the (latitude, longitude, …) covering index instead of
    switching to a join driven by the kind or region index.
    """
    stmt = select(*columns)
    if not query.include_archived:
        stmt = stmt.where(Partner.is_archived.is_(False))
    if query.kind:
        stmt = stmt.where(Partner.kind_id == _slug_id(session, Kind, query.kind))
    if query.region:
        stmt = stmt.where(Partner.region_id == _slug_id(session, Region, query.region))
    if query.topic:
        has_topic = (
            select(partner_topics.c.partner_id)
            .where(partner_topics.c.partner_id == Partner.id,
                   partner_topics.c.topic_id == _slug_id(session, Topic, query.topic))
            .exists()
        )
        stmt = stmt.where(has_topic)
    if query.text and normalize(query.text):
        stmt = stmt.where(Partner.search_text.like(_like_pattern(normalize(query.text)), escape="\\"))
    return stmt


def rank_partners(session: Session, query: SearchQuery) -> list[Ranked]:
    """Every matching partner id, nearest first (or by name without a place)."""
    query.validate()
    if not query.has_location:
        rows = session.connection().execute(_filtered(session, (Partner.id, Partner.sort_name), query)).all()
        rows.sort(key=lambda row: (row[1], row[0]))
        return [Ranked(row[0], None, None) for row in rows]

    stmt = _filtered(session, (Partner.id, Partner.latitude, Partner.longitude, Partner.service_radius_km), query)
    if query.radius_km is not None:
        box = bounding_box(query.lat, query.lon, query.radius_km)
        cells = cells_for_box(box)
        if cells is not None:
            stmt = stmt.where(Partner.geo_cell.in_(cells))
        stmt = stmt.where(Partner.latitude.between(box.min_lat, box.max_lat))
        if box.min_lon is not None:
            stmt = stmt.where(Partner.longitude.between(box.min_lon, box.max_lon))
    radius = query.radius_km
    # great_circle_km inlined with the search centre's terms computed once: the same
    # operations in the same order, so the distances stay bit-identical to geopy's.
    phi1, lam1 = radians(query.lat), radians(query.lon)
    sin_phi1, cos_phi1 = sin(phi1), cos(phi1)
    ranked: list[tuple[float, int, float]] = []
    append = ranked.append
    for pid, plat, plon, service_radius in fetch_tuples(session, stmt):
        phi2 = radians(plat)
        sin_phi2, cos_phi2 = sin(phi2), cos(phi2)
        delta = radians(plon) - lam1
        cos_delta, sin_delta = cos(delta), sin(delta)
        distance = EARTH_RADIUS_KM * atan2(
            sqrt((cos_phi2 * sin_delta) ** 2 + (cos_phi1 * sin_phi2 - sin_phi1 * cos_phi2 * cos_delta) ** 2),
            sin_phi1 * sin_phi2 + cos_phi1 * cos_phi2 * cos_delta,
        )
        if radius is None or distance <= radius:
            append((distance, pid, service_radius))
    ranked.sort()
    # tuple.__new__ builds the NamedTuple in C; Ranked(...) would run Python code per result.
    new = tuple.__new__
    return [new(Ranked, (pid, distance, distance <= (service or 0))) for distance, pid, service in ranked]


def load_partners(session: Session, ids: list[int]) -> list[Partner]:
    """Partners with kind, region, organisation and topics loaded, in the order of ids."""
    if not ids:
        return []
    stmt = (
        select(Partner)
        .where(Partner.id.in_(ids))
        .options(
            joinedload(Partner.kind),
            joinedload(Partner.region),
            joinedload(Partner.organisation),
            selectinload(Partner.topics),
        )
    )
    by_id = {p.id: p for p in session.scalars(stmt)}
    return [by_id[i] for i in ids if i in by_id]


def find_partners(session: Session, query: SearchQuery) -> SearchResult:
    """Search and return one page of hits plus the full ranking (for the map)."""
    ranked = rank_partners(session, query)
    start = (query.page - 1) * query.per_page
    page_ranked = ranked[start : start + query.per_page]
    partners = load_partners(session, [r.partner_id for r in page_ranked])
    hits = [Hit(p, r.distance_km, r.reaches) for p, r in zip(partners, page_ranked, strict=False)]
    return SearchResult(hits=hits, total=len(ranked), page=query.page, per_page=query.per_page, ranked=ranked)
