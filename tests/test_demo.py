"""Demo data: coverage of regions, kinds and topics, plausible places, idempotent seeding, the XSS listing."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from network.directory.demo import DEMO_LISTINGS, XSS_DEMO_NAME, seed_demo, seed_demo_if_empty
from network.directory.models import Kind, Organisation, Partner, Region, Topic
from network.directory.taxonomy import KINDS, REGIONS, TOPICS
from network.extensions import db
from network.geo.distance import great_circle_km
from network.geo.gazetteer import Gazetteer

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# Rough centres of the regions, taken independently of the demo data.
REGION_CENTRES = {
    "hagen": (51.36, 7.47),
    "dortmund": (51.51, 7.47),
    "bochum": (51.47, 7.22),
    "herne": (51.54, 7.20),
    "ennepe-ruhr-kreis": (51.35, 7.33),
    "hochsauerlandkreis": (51.30, 8.29),
    "maerkischer-kreis": (51.25, 7.72),
    "olpe": (51.07, 7.92),
    "siegen-wittgenstein": (50.95, 8.20),
    "soest": (51.57, 8.13),
}
NRW_BOX = (50.32, 52.53, 5.86, 9.46)  # min lat, max lat, min lon, max lon
SCHWELM = (51.2857, 7.2930)


@pytest.fixture()
def seeded(app_ctx) -> int:
    created = seed_demo(db.session, now=NOW)
    db.session.commit()
    return created


def _partners() -> list[Partner]:
    return list(db.session.scalars(select(Partner).order_by(Partner.id)))


def test_seed_creates_about_eighty_demo_partners(seeded):
    assert 75 <= seeded <= 90
    partners = _partners()
    assert len(partners) == seeded == len(DEMO_LISTINGS)
    assert all(p.is_demo for p in partners)
    assert not any(p.is_archived for p in partners)


def test_every_region_kind_and_topic_is_used(seeded):
    partners = _partners()
    assert {p.region.slug for p in partners} == {slug for slug, *_ in REGIONS}
    assert {p.kind.slug for p in partners} == {slug for slug, *_ in KINDS}
    assert {t.slug for p in partners for t in p.topics} == {slug for slug, *_ in TOPICS}
    # The Südwestfalen districts and the EN district's towns are all there, not just the big cities.
    cities = {p.city for p in partners}
    for town in ("Schwelm", "Witten", "Gevelsberg", "Hattingen", "Ennepetal", "Arnsberg", "Meschede", "Brilon",
                 "Iserlohn", "Lüdenscheid", "Menden (Sauerland)", "Olpe", "Siegen", "Soest"):
        assert town in cities


def test_listing_fields_are_plausible(seeded):
    partners = _partners()
    emails = Counter(p.email for p in partners)
    assert max(emails.values()) == 1
    for p in partners:
        assert 1 <= len(p.topics) <= 4, p.name
        assert 15 <= p.service_radius_km <= 80, p.name
        assert p.languages in ("de", "de,en", "de,en,tr"), p.name
        assert p.email.endswith("@example.org"), p.name
        assert "00000" in p.phone, p.name  # never a real number
        assert p.description.strip(), p.name
        assert p.search_text and p.sort_name, p.name
        assert p.street and len(p.postcode) == 5 and p.city, p.name
    languages = Counter(p.languages for p in partners)
    assert languages["de"] > languages["de,en"] > languages["de,en,tr"] > 0
    assert any(p.is_person for p in partners) and any(not p.is_person for p in partners)


def test_confirmations_spread_over_eighteen_months_some_stale(seeded):
    ages = [NOW - p.confirmed_at for p in _partners()]
    assert all(timedelta(0) <= age <= timedelta(days=548) for age in ages)
    stale = [age for age in ages if age > timedelta(days=365)]
    assert 0.1 * len(ages) <= len(stale) <= 0.4 * len(ages)
    assert min(ages) < timedelta(days=30)


def test_coordinates_lie_in_their_region_and_town(seeded):
    gazetteer = Gazetteer.default()
    for p in _partners():
        if p.region.slug == "nrw":
            min_lat, max_lat, min_lon, max_lon = NRW_BOX
            assert min_lat <= p.latitude <= max_lat and min_lon <= p.longitude <= max_lon, p.name
        else:
            lat, lon = REGION_CENTRES[p.region.slug]
            assert abs(p.latitude - lat) <= 0.3 and abs(p.longitude - lon) <= 0.3, (p.name, p.city)
        # The coordinates belong to the postcode's town, checked against the shipped gazetteer.
        areas = gazetteer.postcode(p.postcode)
        assert areas, (p.name, p.postcode)
        assert great_circle_km(p.latitude, p.longitude, areas[0].lat, areas[0].lon) < 10, (p.name, p.city)


def test_xss_listing_is_present_once_near_schwelm(seeded):
    matches = [p for p in _partners() if p.name == XSS_DEMO_NAME]
    assert len(matches) == 1
    xss = matches[0]
    assert xss.is_demo
    assert xss.region.slug == "ennepe-ruhr-kreis"
    assert great_circle_km(xss.latitude, xss.longitude, *SCHWELM) < 3
    assert "Sicherheitstest" in xss.description
    for fragment in ("<img src=x onerror=alert(1)>", "`${alert(2)}`", "</script>"):
        assert fragment in XSS_DEMO_NAME


def test_seed_demo_runs_on_an_empty_database_and_creates_the_taxonomy(app_ctx):
    assert db.session.scalar(select(func.count(Kind.id))) == 0
    assert seed_demo(db.session, now=NOW) == len(DEMO_LISTINGS)
    assert db.session.scalar(select(func.count(Region.id))) == len(REGIONS)
    assert db.session.scalar(select(func.count(Topic.id))) == len(TOPICS)


def test_seed_demo_twice_does_not_duplicate(seeded):
    assert seed_demo(db.session, now=NOW) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count(Partner.id))) == seeded


def test_seed_demo_if_empty_is_idempotent(app_ctx):
    first = seed_demo_if_empty(db.session, now=NOW)
    db.session.commit()
    assert first == len(DEMO_LISTINGS)
    assert seed_demo_if_empty(db.session, now=NOW) == 0
    assert db.session.scalar(select(func.count(Partner.id))) == first


def test_seed_demo_if_empty_leaves_real_data_alone(make_partner):
    make_partner(name="Echter Partner")
    assert seed_demo_if_empty(db.session, now=NOW) == 0
    assert [p.name for p in _partners()] == ["Echter Partner"]


def test_seed_demo_reuses_an_existing_organisation(taxonomy):
    db.session.add(Organisation(name="TU Dortmund", org_type="university_institute"))
    db.session.commit()
    seed_demo(db.session, now=NOW)
    db.session.commit()
    orgs = list(db.session.scalars(select(Organisation).where(Organisation.name == "TU Dortmund")))
    assert len(orgs) == 1
    assert orgs[0].partners


def test_seed_is_deterministic(seeded):
    first = [(p.name, p.latitude, p.longitude, [t.slug for t in p.topics], p.confirmed_at)
             for p in _partners()]
    db.session.query(Partner).delete()
    db.session.commit()
    seed_demo(db.session, now=NOW)
    db.session.commit()
    second = [(p.name, p.latitude, p.longitude, [t.slug for t in p.topics], p.confirmed_at)
              for p in _partners()]
    assert first == second
