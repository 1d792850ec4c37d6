"""find_partners checked against a brute-force geopy reference: demo data, 50,000 generated partners, borders."""
from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from flask import Flask
from geopy.distance import great_circle
from sqlalchemy import func, select

from bench.generate import BORDER_RADII_KM, TOWNS, generate_partners, search_fields
from network.directory.models import Kind, Organisation, Partner, Region, Topic, partner_topics
from network.directory.search import SearchQuery, find_partners
from network.directory.taxonomy import KINDS, REGIONS, TOPICS
from network.extensions import db
from network.geo.distance import bounding_box
from network.geo.gazetteer import normalize

# --- the reference -------------------------------------------------------------------------------
#
# Semantics, defined here independently of search.py (it never reads search_text or sort_name):
#   * archived partners are left out unless include_archived;
#   * kind / region: the partner's kind / region slug equals the given slug; topic: the slug is
#     among the partner's topic slugs; an empty or missing slug is no filter;
#   * text: normalize(q) is a substring of normalize(name), normalize(organisation name),
#     normalize(city) or normalize(description); an empty normalize(q) is no filter;
#   * with a place: distance = geopy great_circle((lat, lon), (partner lat, lon)).km, kept when
#     distance <= radius (no radius: all kept), ordered by (distance, id), and the partner
#     "reaches" the place when distance <= its service radius;
#   * without a place: ordered by (normalize(name), id), distance and reaches are None and a
#     radius alone is ignored (a radius needs a centre).


@dataclass(frozen=True)
class RefPartner:
    id: int
    lat: float
    lon: float
    service_radius_km: float
    is_archived: bool
    kind: str
    region: str
    topics: frozenset[str]
    texts: tuple[str, ...]  # normalised name, organisation, city, description
    name_key: str
    raw_texts: tuple[str, ...]  # the same, unnormalised: material for random text queries


def load_reference(session) -> list[RefPartner]:
    """Every partner row with its slugs and texts, read with plain queries."""
    kinds = dict(session.execute(select(Kind.id, Kind.slug)).all())
    regions = dict(session.execute(select(Region.id, Region.slug)).all())
    orgs = dict(session.execute(select(Organisation.id, Organisation.name)).all())
    topics: dict[int, set[str]] = defaultdict(set)
    for pid, slug in session.execute(
        select(partner_topics.c.partner_id, Topic.slug).join(Topic, Topic.id == partner_topics.c.topic_id)
    ):
        topics[pid].add(slug)
    out = []
    rows = session.execute(
        select(Partner.id, Partner.name, Partner.organisation_id, Partner.city, Partner.description,
               Partner.latitude, Partner.longitude, Partner.service_radius_km, Partner.is_archived,
               Partner.kind_id, Partner.region_id)
    )
    for pid, name, org_id, city, description, lat, lon, service, archived, kind_id, region_id in rows:
        raw = (name, orgs.get(org_id) or "", city or "", description or "")
        out.append(RefPartner(
            id=pid, lat=lat, lon=lon, service_radius_km=service, is_archived=bool(archived),
            kind=kinds[kind_id], region=regions[region_id], topics=frozenset(topics[pid]),
            texts=tuple(normalize(t) for t in raw), name_key=normalize(name), raw_texts=raw,
        ))
    return out


class Reference:
    """Brute-force search over all partners; distances kept per centre (geopy is the slow part)."""

    def __init__(self, partners: list[RefPartner]):
        self.partners = partners
        self.by_id = {p.id: p for p in partners}
        self._position = {p.id: i for i, p in enumerate(partners)}
        self._distances: dict[tuple[float, float], list[float]] = {}
        self._orders: dict[tuple[float, float], list[int]] = {}

    def distances(self, lat: float, lon: float) -> list[float]:
        """geopy distance from (lat, lon) to every partner, in the order of self.partners."""
        key = (lat, lon)
        if key not in self._distances:
            self._distances[key] = [great_circle((lat, lon), (p.lat, p.lon)).km for p in self.partners]
        return self._distances[key]

    def by_distance(self, lat: float, lon: float) -> list[int]:
        """Positions of all partners ordered by (distance, id): a radius search is a prefix of it, filtered."""
        key = (lat, lon)
        if key not in self._orders:
            distances = self.distances(lat, lon)
            self._orders[key] = sorted(range(len(self.partners)), key=lambda i: (distances[i], self.partners[i].id))
        return self._orders[key]

    def distance(self, lat: float, lon: float, p: RefPartner) -> float:
        return self.distances(lat, lon)[self._position[p.id]]

    def matches(self, q: SearchQuery, p: RefPartner) -> bool:
        if p.is_archived and not q.include_archived:
            return False
        if q.kind and p.kind != q.kind:
            return False
        if q.region and p.region != q.region:
            return False
        if q.topic and q.topic not in p.topics:
            return False
        needle = normalize(q.text) if q.text else ""
        if needle and not any(needle in t for t in p.texts):
            return False
        return True

    def rank(self, q: SearchQuery) -> list[tuple[int, float | None, bool | None]]:
        if q.lat is None or q.lon is None:
            candidates = [p for p in self.partners if self.matches(q, p)]
            candidates.sort(key=lambda p: (p.name_key, p.id))
            return [(p.id, None, None) for p in candidates]
        distances = self.distances(q.lat, q.lon)
        out = []
        for i in self.by_distance(q.lat, q.lon):
            d, p = distances[i], self.partners[i]
            if q.radius_km is not None and d > q.radius_km:
                break
            if self.matches(q, p):
                out.append((p.id, d, d <= p.service_radius_km))
        return out


def assert_matches_reference(session, ref: Reference, query: SearchQuery) -> list:
    """find_partners gives the reference's partners, order, distances and reaches, and the right page."""
    result = find_partners(session, query)
    expected = ref.rank(query)
    got = [(r.partner_id, r.distance_km, r.reaches) for r in result.ranked]
    if got != expected:
        first = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                     min(len(got), len(expected)))
        got_ids, exp_ids = {g[0] for g in got}, {e[0] for e in expected}
        missing = sorted(exp_ids - got_ids)[:5]
        detail = [f"{query}", f"{len(got)} results, expected {len(expected)}; first difference at {first}:",
                  f"  got      {got[first:first + 3]}", f"  expected {expected[first:first + 3]}"]
        if missing and query.lat is not None:
            near = [(pid, ref.distance(query.lat, query.lon, ref.by_id[pid])) for pid in missing]
            detail.append(f"  missing (id, km) {near}")
        elif missing:
            detail.append(f"  missing {missing}")
        if got_ids - exp_ids:
            detail.append(f"  unexpected {sorted(got_ids - exp_ids)[:5]}")
        pytest.fail("\n".join(detail))
    assert result.total == len(expected)
    start = (query.page - 1) * query.per_page
    assert [(h.partner.id, h.distance_km, h.reaches) for h in result.hits] == expected[start:start + query.per_page]
    if not query.include_archived:
        assert not any(ref.by_id[pid].is_archived for pid, _, _ in got)
    return expected


# --- random queries ------------------------------------------------------------------------------

KIND_SLUGS = [k[0] for k in KINDS]
REGION_SLUGS = [r[0] for r in REGIONS]
TOPIC_SLUGS = [t[0] for t in TOPICS]


def random_text(rng: random.Random, ref: Reference) -> str:
    roll = rng.random()
    if roll < 0.6:
        # A raw slice of some partner's name/organisation/city/description, sometimes shouted:
        # normalisation (case, umlauts, ß, punctuation) has to make it match again.
        raw = rng.choice(rng.choice(ref.partners).raw_texts) or "x"
        start = rng.randrange(len(raw))
        piece = raw[start:start + rng.randint(2, 9)]
        return piece.upper() if rng.random() < 0.3 else piece
    return rng.choice(["Müller", "MUELLER", "muller", "Straße", "strasse", "Groß", "ÜBERGABE", "Lüdenscheid",
                       "ludenscheid", "dr.", "-", "  ", "%", "_", "100%", "a_b", "\\", "'", "xyzzy", "ö",
                       "Wirtschaftsförderung Dortmund", "e.V.", "GmbH", "ring"])


def random_query(rng: random.Random, ref: Reference, centres: list[tuple[float, float]],
                 p_place: float = 0.8, max_radius: float = 150.0) -> SearchQuery:
    """A random search; p_place and max_radius keep it cheap on big data (large results rank slowly)."""
    lat = lon = radius = None
    radii = [r for r in BORDER_RADII_KM if r <= max_radius]
    if rng.random() < p_place:
        lat, lon = rng.choice(centres)
        roll = rng.random()
        if roll < 0.05 * (max_radius >= 150):
            radius = None  # a place without a radius ranks everything by distance
        elif roll < 0.45:
            radius = rng.choice(radii)
        elif roll < 0.75:
            radius = rng.uniform(1.0, min(60.0, max_radius))
        else:
            # Exactly some partner's distance: that partner sits on the border and must be kept.
            radius = ref.distance(lat, lon, rng.choice(ref.partners)) or 0.5
            if radius > max_radius:
                radius = rng.choice(radii)
    elif rng.random() < 0.2:
        radius = rng.choice(radii)  # a radius without a place is ignored
    return SearchQuery(
        lat=lat, lon=lon, radius_km=radius,
        kind=rng.choice(KIND_SLUGS + ["unbekannt", ""]) if rng.random() < 0.3 else None,
        topic=rng.choice(TOPIC_SLUGS) if rng.random() < 0.3 else None,
        region=rng.choice(REGION_SLUGS) if rng.random() < 0.25 else None,
        text=random_text(rng, ref) if rng.random() < 0.2 else None,
        page=rng.choice([1, 1, 1, 2, 3]),
        per_page=rng.choice([1, 5, 20, 50]),
        include_archived=rng.random() < 0.1,
    )


def town_centres() -> list[tuple[float, float]]:
    return [(t[1], t[2]) for t in TOWNS]


def assert_pagination(session, query: SearchQuery) -> None:
    """Pages 1..n concatenated are exactly the full ranking; the page after the last is empty."""
    full = find_partners(session, replace(query, page=1))
    ranking = [(r.partner_id, r.distance_km, r.reaches) for r in full.ranked]
    pages: list[tuple[int, float | None, bool | None]] = []
    for page in range(1, full.pages + 1):
        result = find_partners(session, replace(query, page=page))
        assert result.total == full.total and result.pages == full.pages
        assert 0 < len(result.hits) <= query.per_page or full.total == 0
        pages.extend((h.partner.id, h.distance_km, h.reaches) for h in result.hits)
    assert pages == ranking
    assert len(set(r[0] for r in ranking)) == len(ranking)
    past = find_partners(session, replace(query, page=full.pages + 1))
    assert past.hits == [] and past.total == full.total


# --- demo data -----------------------------------------------------------------------------------


@pytest.fixture()
def demo(app_ctx: Flask) -> Reference:
    from network.directory.demo import seed_demo

    seed_demo(db.session)
    db.session.commit()
    ref = Reference(load_reference(db.session))
    assert len(ref.partners) >= 10, "the demo data should hold a few partners"
    return ref


@pytest.mark.slow
def test_random_queries_on_demo_data_match_reference(demo: Reference):
    rng = random.Random(4711)
    centres = town_centres() + [(p.lat, p.lon) for p in demo.partners]
    centres += [(rng.uniform(50.3, 52.5), rng.uniform(5.9, 9.5)) for _ in range(10)]
    nonempty = 0
    for _ in range(200):
        query = random_query(rng, demo, centres)
        nonempty += bool(assert_matches_reference(db.session, demo, query))
    assert nonempty > 60, "the random queries should mostly find something, or they test little"


@pytest.mark.slow
def test_pagination_on_demo_data(demo: Reference):
    dortmund = TOWNS[0][1:3]
    for per_page in (1, 3, 7, 20):
        assert_pagination(db.session, SearchQuery(per_page=per_page))
        assert_pagination(db.session, SearchQuery(lat=dortmund[0], lon=dortmund[1], radius_km=50, per_page=per_page))
        assert_pagination(db.session, SearchQuery(lat=dortmund[0], lon=dortmund[1], per_page=per_page,
                                                  include_archived=True))


# --- targeted cases ------------------------------------------------------------------------------

SCHWELM = (51.2857, 7.2930)


def test_archived_partners_never_appear(make_partner):
    live = make_partner(name="Aktiv Müller", latitude=SCHWELM[0], longitude=SCHWELM[1])
    gone = make_partner(name="Archiv Müller", latitude=SCHWELM[0], longitude=SCHWELM[1], is_archived=True)
    ref = Reference(load_reference(db.session))
    queries = [
        SearchQuery(),
        SearchQuery(text="müller"),
        SearchQuery(text="Archiv"),
        SearchQuery(lat=SCHWELM[0], lon=SCHWELM[1]),
        SearchQuery(lat=SCHWELM[0], lon=SCHWELM[1], radius_km=1, kind="innovationscoach",
                    topic="prozessoptimierung", region="ennepe-ruhr-kreis"),
    ]
    for query in queries:
        ids = [r.partner_id for r in find_partners(db.session, query).ranked]
        assert gone.id not in ids
        assert_matches_reference(db.session, ref, query)
    assert [r.partner_id for r in find_partners(db.session, SearchQuery(text="müller")).ranked] == [live.id]
    with_archived = find_partners(db.session, SearchQuery(text="müller", include_archived=True)).ranked
    assert {r.partner_id for r in with_archived} == {live.id, gone.id}


def test_reaches_is_false_when_the_service_radius_falls_short(make_partner):
    here = great_circle(kilometers=20).destination(SCHWELM, 45)
    d = great_circle(SCHWELM, (here.latitude, here.longitude)).km
    short = make_partner(name="Kurz", latitude=here.latitude, longitude=here.longitude, service_radius_km=10)
    just_short = make_partner(name="Knapp", latitude=here.latitude, longitude=here.longitude,
                              service_radius_km=math.nextafter(d, 0))
    exact = make_partner(name="Genau", latitude=here.latitude, longitude=here.longitude, service_radius_km=d)
    wide = make_partner(name="Weit", latitude=here.latitude, longitude=here.longitude, service_radius_km=100)
    ranked = find_partners(db.session, SearchQuery(lat=SCHWELM[0], lon=SCHWELM[1], radius_km=50)).ranked
    reaches = {r.partner_id: r.reaches for r in ranked}
    assert reaches == {short.id: False, just_short.id: False, exact.id: True, wide.id: True}
    # Same place, so one distance, and ties go by id.
    assert [r.partner_id for r in ranked] == sorted(reaches)
    assert {r.distance_km for r in ranked} == {d}
    hits = find_partners(db.session, SearchQuery(lat=SCHWELM[0], lon=SCHWELM[1], radius_km=50, per_page=2)).hits
    assert [(h.partner.id, h.reaches) for h in hits] == [(short.id, False), (just_short.id, False)]


def _tangent_bearing(lat: float, radius_km: float) -> float | None:
    """Bearing (deg) from the centre to the point of the circle with the largest longitude, if the circle has one."""
    delta = radius_km / 6371.009
    value = math.tan(delta) * math.tan(math.radians(lat))
    if abs(value) >= 1:
        return None
    return math.degrees(math.acos(value))


def _border_points(lat: float, lon: float, radius_km: float) -> list[tuple[float, float]]:
    """Points on the circle: every 7.5 degrees, the four extremes of lat and lon, and their mirror images."""
    bearings = [i * 7.5 for i in range(48)]
    tangent = _tangent_bearing(lat, radius_km)
    if tangent is not None:
        bearings += [tangent, 360 - tangent]
    out = []
    for bearing in bearings:
        p = great_circle(kilometers=radius_km).destination((lat, lon), bearing)
        out.append((p.latitude, p.longitude))
    return out


def _inside(box, lat: float, lon: float) -> bool:
    if not box.min_lat <= lat <= box.max_lat:
        return False
    return box.min_lon is None or box.min_lon <= lon <= box.max_lon


BOX_CENTRES = [
    (51.5136, 7.4653),  # Dortmund
    (69.6496, 18.9560),  # Tromsø
    (78.2232, 15.6267),  # Longyearbyen
    (89.5, 0.0),  # the circle reaches over the pole
    (-77.85, 166.67),  # McMurdo
    (0.0, 179.99),  # equator, next to the antimeridian
    (65.0, 179.95),
    (65.0, -179.95),
    (-17.7, 178.0),  # Fiji
    (0.0, 0.0),
]
BOX_RADII = [0.001, 1.0, 10.0, 25.0, 50.0, 100.0, 500.0, 2000.0]


@pytest.mark.parametrize("centre", BOX_CENTRES)
def test_bounding_box_keeps_every_point_on_the_circle(centre):
    lat, lon = centre
    for radius in BOX_RADII:
        box = bounding_box(lat, lon, radius)
        for plat, plon in _border_points(lat, lon, radius):
            d = great_circle(centre, (plat, plon)).km
            # Each border point, with the radius set to exactly its own distance, must survive the box.
            assert _inside(bounding_box(lat, lon, d), plat, plon), (centre, radius, plat, plon, d)
            if d <= radius:
                assert _inside(box, plat, plon), (centre, radius, plat, plon, d)
        tangent = _tangent_bearing(lat, radius)
        if box.min_lon is not None and tangent is not None:
            # The box is also tight: its longitude edge is the circle's extreme point, plus the slack.
            p = great_circle(kilometers=radius).destination(centre, tangent)
            assert box.max_lon - p.longitude < 1e-5
            p = great_circle(kilometers=radius).destination(centre, 0)
            assert box.max_lat - p.latitude < 1e-5


@pytest.mark.slow
def test_bounding_box_drops_no_partner_on_the_border_in_the_database(make_partner):
    centres = [BOX_CENTRES[0], BOX_CENTRES[1], BOX_CENTRES[2], BOX_CENTRES[6], BOX_CENTRES[7], SCHWELM]
    radii = [10.0, 25.0, 50.0]
    template = make_partner(name="Vorlage")
    # ~900 partners: added in one go, make_partner commits each one and would take seconds.
    db.session.add_all(
        Partner(name=f"Rand {i}", kind_id=template.kind_id, region_id=template.region_id, latitude=plat,
                longitude=plon, service_radius_km=radius, search_text=f"rand {i}", sort_name=f"rand {i}")
        for i, (plat, plon, radius) in enumerate(
            (plat, plon, radius) for clat, clon in centres for radius in radii
            for plat, plon in _border_points(clat, clon, radius)
        )
    )
    db.session.commit()
    # Neighbours across the antimeridian, 1.5 km apart.
    west = make_partner(name="West", latitude=65.0, longitude=179.99)
    east = make_partner(name="Ost", latitude=65.0, longitude=-179.99)
    ref = Reference(load_reference(db.session))
    for clat, clon in centres:
        for radius in radii:
            assert_matches_reference(db.session, ref, SearchQuery(lat=clat, lon=clon, radius_km=radius, per_page=200))
        for p in ref.partners[::7]:
            # Radius exactly the distance to a border point: that point is in (<=) and nothing is lost.
            d = ref.distance(clat, clon, p)
            if 0 < d < 200:
                query = SearchQuery(lat=clat, lon=clon, radius_km=d, per_page=200)
                assert p.id in {r.partner_id for r in find_partners(db.session, query).ranked}
                assert_matches_reference(db.session, ref, query)
    ranked = find_partners(db.session, SearchQuery(lat=65.0, lon=179.99, radius_km=5)).ranked
    assert [r.partner_id for r in ranked[:2]] == [west.id, east.id]
    ranked = find_partners(db.session, SearchQuery(lat=65.0, lon=-179.999, radius_km=5)).ranked
    assert {r.partner_id for r in ranked} >= {west.id, east.id}


def test_text_filter_is_normalised_and_never_crosses_fields(make_partner):
    mueller = make_partner(name="Dr. Jörg Müller-Groß", city="Lüdenscheid", organisation="Büro Straße")
    make_partner(name="Anna Schmidt", city="Hagen", description="Prozesse & Qualität")
    ref = Reference(load_reference(db.session))
    for text, expected in [("MUELLER", [mueller.id]), ("groß", [mueller.id]), ("gross", [mueller.id]),
                           ("jorg", []), ("luedenscheid", [mueller.id]), ("buero strasse", [mueller.id]),
                           ("mueller gross", [mueller.id]), ("gross luedenscheid", []), ("% _", None),
                           ("qualitaet", None)]:
        query = SearchQuery(text=text)
        assert_matches_reference(db.session, ref, query)
        if expected is not None:
            assert [r.partner_id for r in find_partners(db.session, query).ranked] == expected, text


# --- 50,000 generated partners -------------------------------------------------------------------

GENERATED_N = 50_000
GENERATED_SEED = 20260611


def _wipe(application: Flask) -> None:
    """Empty every table, fast even with 50,000 partners.

    conftest's row-by-row DELETE is quadratic here: partners.merged_into_id references
    partners without an index, so each deleted partner costs a scan of the table
    (50,000 partners: over ten minutes). Without foreign-key checks the delete is
    instant, and this fixture removes every table anyway.
    """
    with application.app_context():
        db.session.remove()
        names = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{name}"' for name in names) + " CASCADE")
            return
        # On the DBAPI connection: SQLAlchemy's begin event (network.dbutil) would wrap the
        # pragma in a transaction, where SQLite ignores it.
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            try:
                cursor.execute("BEGIN")
                for name in names:
                    cursor.execute(f'DELETE FROM "{name}"')
                cursor.execute("COMMIT")
            finally:
                cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
        finally:
            raw.close()


@pytest.fixture(scope="class")
def generated(app: Flask) -> Iterator[Reference]:
    """50,000 generated partners, inserted once for the class and removed after it."""
    _wipe(app)
    try:
        with app.app_context():
            generate_partners(db.session, GENERATED_N, GENERATED_SEED)
            db.session.commit()
            ref = Reference(load_reference(db.session))
            db.session.remove()
        yield ref
    finally:
        _wipe(app)


@pytest.fixture()
def gen_session(app: Flask, generated: Reference) -> Iterator:
    with app.app_context():
        # A function-scoped app_ctx elsewhere would wipe the tables; fail loudly rather than test nothing.
        assert db.session.scalar(select(func.count(Partner.id))) == GENERATED_N
        yield db.session
        db.session.rollback()
        db.session.remove()


@pytest.mark.slow
class TestGeneratedPartners:
    """The reference comparison at scale; the data lives for this class only."""

    def test_generated_data_has_ties_borders_and_archived(self, generated: Reference):
        coords = defaultdict(int)
        for p in generated.partners:
            coords[(p.lat, p.lon)] += 1
        assert sum(1 for c in coords.values() if c > 1) > 500
        assert sum(p.is_archived for p in generated.partners) > 500
        names = defaultdict(int)
        for p in generated.partners:
            names[p.name_key] += 1
        assert sum(1 for c in names.values() if c > 1) > 100
        dortmund = TOWNS[0][1:3]
        on_25 = [p for p in generated.partners if abs(generated.distance(*dortmund, p) - 25) < 1e-9]
        assert len(on_25) > 10

    def test_search_fields_agree_with_refresh_search_fields(self, gen_session):
        for partner in gen_session.scalars(select(Partner).order_by(Partner.id).limit(300)):
            stored = (partner.search_text, partner.sort_name)
            org = partner.organisation.name if partner.organisation else None
            assert search_fields(partner.name, org, partner.city, partner.description) == stored
            partner.refresh_search_fields()
            assert (partner.search_text, partner.sort_name) == stored

    def test_random_queries_match_reference(self, gen_session, generated: Reference):
        rng = random.Random(1234)
        # Few centres, so the geopy distances (the slow part) are computed once per centre.
        centres = town_centres()[:9]
        centres += [(p.lat, p.lon) for p in rng.sample(generated.partners, 3)]
        centres += [(rng.uniform(50.3, 52.5), rng.uniform(5.9, 9.5)) for _ in range(3)]
        nonempty = 0
        for _ in range(200):
            # Mostly with a place and a radius of at most 30 km: ranking all 50,000 (no place, no radius)
            # or tens of thousands (50 km in the Ruhr) is slow; the demo data and bench/search.py cover those.
            query = random_query(rng, generated, centres, p_place=0.95, max_radius=30.0)
            nonempty += bool(assert_matches_reference(gen_session, generated, query))
        assert nonempty > 100

    def test_every_border_radius_around_every_town(self, gen_session, generated: Reference):
        # Up to 25 km: larger radii around the big towns rank tens of thousands of rows; random queries cover them.
        for lat, lon in town_centres()[:9]:  # the random queries' centres: their distances are cached
            for radius in BORDER_RADII_KM[:5]:
                assert_matches_reference(gen_session, generated,
                                         SearchQuery(lat=lat, lon=lon, radius_km=radius, per_page=1))

    def test_pagination(self, gen_session, generated: Reference):
        bochum = TOWNS[1][1:3]
        assert_pagination(gen_session, SearchQuery(lat=bochum[0], lon=bochum[1], radius_km=5, per_page=37))
        assert_pagination(gen_session, SearchQuery(lat=bochum[0], lon=bochum[1], radius_km=50,
                                                   topic="it-sicherheit", kind="technologiescout", per_page=500))
        assert_pagination(gen_session, SearchQuery(kind="kompetenzzentrum", region="hagen", per_page=50))
        assert_pagination(gen_session, SearchQuery(topic="e-commerce", region="dortmund", per_page=300))


def test_grid_cells_cover_the_bounding_box_exactly():
    """Every point inside a bounding box lies in one of the cells the search asks for."""
    import random

    from network.geo.distance import bounding_box, cells_for_box, geo_cell

    rng = random.Random(7)
    for _ in range(300):
        lat, lon, radius = rng.uniform(47, 55), rng.uniform(5, 15), rng.uniform(0.5, 80)
        box = bounding_box(lat, lon, radius)
        cells = set(cells_for_box(box))
        for _ in range(50):
            plat = rng.uniform(box.min_lat, box.max_lat)
            plon = rng.uniform(box.min_lon, box.max_lon)
            assert geo_cell(plat, plon) in cells
        for plat, plon in ((box.min_lat, box.min_lon), (box.max_lat, box.max_lon),
                           (box.min_lat, box.max_lon), (box.max_lat, box.min_lon)):
            assert geo_cell(plat, plon) in cells
    # Huge radii fall back to the latitude band instead of thousands of cells.
    assert cells_for_box(bounding_box(51.0, 7.0, 900)) is None


def test_geo_cell_follows_every_orm_move(make_partner):
    from network.geo.distance import geo_cell

    partner = make_partner(latitude=51.2857, longitude=7.2930)
    assert partner.geo_cell == geo_cell(51.2857, 7.2930)
    partner.latitude, partner.longitude = 50.8748, 8.0243
    db.session.commit()
    db.session.refresh(partner)
    assert partner.geo_cell == geo_cell(50.8748, 8.0243)
