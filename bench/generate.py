"""Synthetic directory data for benchmarks and reference tests: many partners, inserted in bulk."""
from __future__ import annotations

import random
from datetime import UTC, datetime

from geopy.distance import great_circle
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from network.directory.models import Kind, Organisation, Partner, Region, Topic, partner_topics
from network.directory.taxonomy import ensure_taxonomy
from network.geo.distance import geo_cell
from network.geo.gazetteer import normalize

# The area the network cares about (Ruhr and Südwestfalen), as the brief fixes it.
LAT_RANGE = (50.3, 52.5)
LON_RANGE = (5.9, 9.5)

# Town centres: name, lat, lon, region slug, weight. Most partners sit in dense
# clusters around these, as real listings do; the Ruhr towns weigh most.
TOWNS = [
    ("Dortmund", 51.5136, 7.4653, "dortmund", 10),
    ("Bochum", 51.4818, 7.2162, "bochum", 8),
    ("Hagen", 51.3671, 7.4633, "hagen", 7),
    ("Herne", 51.5388, 7.2257, "herne", 5),
    ("Essen", 51.4556, 7.0116, "nrw", 6),
    ("Gelsenkirchen", 51.5177, 7.0857, "nrw", 4),
    ("Witten", 51.4436, 7.3528, "ennepe-ruhr-kreis", 4),
    ("Schwelm", 51.2857, 7.2930, "ennepe-ruhr-kreis", 3),
    ("Gevelsberg", 51.3190, 7.3390, "ennepe-ruhr-kreis", 2),
    ("Hattingen", 51.3989, 7.1858, "ennepe-ruhr-kreis", 2),
    ("Unna", 51.5347, 7.6890, "nrw", 2),
    ("Iserlohn", 51.3759, 7.6999, "maerkischer-kreis", 3),
    ("Lüdenscheid", 51.2198, 7.6273, "maerkischer-kreis", 2),
    ("Arnsberg", 51.3967, 8.0644, "hochsauerlandkreis", 2),
    ("Meschede", 51.3500, 8.2833, "hochsauerlandkreis", 1),
    ("Soest", 51.5711, 8.1059, "soest", 2),
    ("Olpe", 51.0289, 7.8514, "olpe", 1),
    ("Siegen", 50.8748, 8.0243, "siegen-wittgenstein", 3),
]

# Radii people actually search with; partners placed exactly on these circles
# around town centres probe the bounding box and the "<=" at the border.
BORDER_RADII_KM = (5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)

_FIRST = ["Jö", "Ka", "Mi", "Lu", "An", "Be", "Sö", "Ul", "Fe", "Gre", "Ha", "Ti", "Ma", "Ro", "Ü", "E"]
_MIDDLE = ["ri", "la", "ne", "ko", "be", "ßa", "rä", "ti", "lo", "mi", "", "", ""]
_LAST = ["n", "na", "ke", "lf", "rt", "s", "ja", "tte", "as", "ke", ""]
_SUR_A = ["Mül", "Schmi", "Krä", "Wer", "Hoff", "Bre", "Kö", "Schul", "Fisch", "Gro", "Wei", "Ba", "Stö", "Zim"]
_SUR_B = ["ler", "dt", "mer", "ner", "mann", "ße", "ters", "ze", "er", "ber", "ßen", "kamp", "haus", "hoff"]
_UNIT = ["Institut für", "Lehrstuhl", "Zentrum", "Labor", "Kompetenzstelle", "Büro"]
_SUFFIX = ["GmbH", "& Partner", "Beratung", "Consulting", "e.V.", "KG"]
_TITLES = ["Dr. ", "Prof. Dr. ", "Dipl.-Ing. ", "", "", "", "", "", "", ""]
_WORDS = ["Digitalisierung", "Mittelstand", "Förderung", "Fertigung", "Qualität", "Prozesse",
          "Software", "Maschinenbau", "Logistik", "Energie", "Größe", "Übergabe", "Straßenbau"]

# (kind slug, weight): coaches and consultants are the bulk of the listings.
_KIND_WEIGHTS = {"innovationscoach": 5, "technologiescout": 3, "hochschulinstitut": 2,
                 "kompetenzzentrum": 1, "innoscheck-fachberater": 6}

_ROUND_RADII = (10.0, 20.0, 25.0, 30.0, 50.0, 75.0, 100.0)


def search_fields(name: str, organisation: str | None, city: str | None, description: str | None) -> tuple[str, str]:
    """(search_text, sort_name) of a partner, computed exactly as Partner.refresh_search_fields does."""
    # Pure, so that bulk inserts need no ORM objects; models.py could call this
    # from refresh_search_fields so the two can never drift apart.
    search_text = " | ".join(normalize(part or "") for part in (name, organisation, city, description))
    return search_text, normalize(name)[:200]


def _syllable_name(rng: random.Random) -> str:
    first = rng.choice(_FIRST) + rng.choice(_MIDDLE) + rng.choice(_LAST)
    surname = rng.choice(_SUR_A) + rng.choice(_SUR_B)
    if rng.random() < 0.15:  # double-barrelled names exercise the hyphen in normalize()
        surname += "-" + rng.choice(_SUR_A) + rng.choice(_SUR_B)
    return f"{rng.choice(_TITLES)}{first} {surname}"


def _unit_name(rng: random.Random, topic_name: str) -> str:
    surname = rng.choice(_SUR_A) + rng.choice(_SUR_B)
    if rng.random() < 0.5:
        return f"{rng.choice(_UNIT)} {topic_name}"
    return f"{surname} {rng.choice(_SUFFIX)}"


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _ensure_organisations(session: Session, rng: random.Random, count: int) -> list[int]:
    """Ids of `count` organisations; reuses existing ones of the same name (the name is unique)."""
    names: list[tuple[str, str, str]] = []
    for town, *_ in TOWNS:
        names.append((f"Wirtschaftsförderung {town}", "agency", town))
    while len(names) < count:
        surname = rng.choice(_SUR_A) + rng.choice(_SUR_B)
        kind = rng.choice(("consultancy", "consultancy", "university_institute", "kompetenzzentrum"))
        town = rng.choice(TOWNS)[0]
        label = {"consultancy": f"{surname} {rng.choice(_SUFFIX)}",
                 "university_institute": f"Hochschule {town}, Fachbereich {rng.choice(_WORDS)}",
                 "kompetenzzentrum": f"Kompetenzzentrum {rng.choice(_WORDS)} {town}"}[kind]
        if label not in {n for n, _, _ in names}:
            names.append((label, kind, town))
    existing = {name: oid for oid, name in session.execute(select(Organisation.id, Organisation.name))}
    now = datetime.now(UTC)
    missing = [
        {"name": name, "org_type": kind, "website": None, "city": town, "created_at": now, "updated_at": now}
        for name, kind, town in names
        if name not in existing
    ]
    if missing:
        session.execute(insert(Organisation), missing)
        session.flush()
        existing = {name: oid for oid, name in session.execute(select(Organisation.id, Organisation.name))}
    return [existing[name] for name, _, _ in names]


def generate_partners(session: Session, n: int, seed: int) -> None:
    """Insert n synthetic partners (deterministic for a seed) with topics; flushes, the caller commits."""
    rng = random.Random(seed)
    ensure_taxonomy(session)
    kinds = dict(session.execute(select(Kind.slug, Kind.id)).all())
    regions = dict(session.execute(select(Region.slug, Region.id)).all())
    topics = session.execute(select(Topic.id, Topic.name_de)).all()
    org_ids = _ensure_organisations(session, rng, 60)
    org_names = dict(session.execute(select(Organisation.id, Organisation.name)).all())

    kind_slugs = [slug for slug in _KIND_WEIGHTS if slug in kinds] or list(kinds)
    kind_weights = [_KIND_WEIGHTS.get(slug, 1) for slug in kind_slugs]
    region_slugs = list(regions)
    town_weights = [t[4] for t in TOWNS]
    now = datetime.now(UTC)

    rows: list[dict] = []
    topic_choices: list[list[int]] = []
    names: list[str] = []
    coords: list[tuple[float, float]] = []
    for i in range(n):
        roll = rng.random()
        town = rng.choices(TOWNS, weights=town_weights)[0]
        tname, tlat, tlon, tregion, _ = town
        if roll < 0.04 and coords:
            # Same coordinates as an earlier partner (two coaches in one office): distance ties.
            lat, lon = coords[rng.randrange(len(coords))]
        elif roll < 0.06:
            lat, lon = tlat, tlon  # exactly on the town centre, where many searches start
        elif roll < 0.10:
            # Exactly on a typical search circle around the town centre (within a float's rounding).
            point = great_circle(kilometers=rng.choice(BORDER_RADII_KM)).destination((tlat, tlon), rng.uniform(0, 360))
            lat, lon = point.latitude, point.longitude
        elif roll < 0.65:
            sigma = rng.uniform(0.02, 0.08)
            lat = _clamp(rng.gauss(tlat, sigma), *LAT_RANGE)
            lon = _clamp(rng.gauss(tlon, sigma * 1.6), *LON_RANGE)  # a degree of lon is ~0.62 of a lat degree here
        else:
            lat, lon = rng.uniform(*LAT_RANGE), rng.uniform(*LON_RANGE)
            tname = min(TOWNS, key=lambda t: (t[1] - lat) ** 2 + ((t[2] - lon) * 0.62) ** 2)[0]
        coords.append((lat, lon))

        chosen = rng.sample(topics, rng.randint(1, min(4, len(topics))))
        is_person = rng.random() < 0.7
        if names and rng.random() < 0.01:
            name = rng.choice(names)  # same name twice: sort ties broken by id
        elif is_person:
            name = _syllable_name(rng)
        else:
            name = _unit_name(rng, chosen[0][1])
        names.append(name)
        org_id = rng.choice(org_ids) if rng.random() < 0.85 else None
        description = (
            f"Berät zu {', '.join(t[1] for t in chosen)} in {tname}. "
            f"{rng.choice(_WORDS)} und {rng.choice(_WORDS)}."
        )
        if rng.random() < 0.5:
            service = rng.choice(_ROUND_RADII)
        else:
            service = round(rng.uniform(10, 100), 1)
        region = tregion if rng.random() < 0.8 else rng.choice(region_slugs)
        search_text, sort_name = search_fields(name, org_names.get(org_id), tname, description)
        rows.append({
            "name": name,
            "is_person": is_person,
            "kind_id": kinds[rng.choices(kind_slugs, weights=kind_weights)[0]],
            "organisation_id": org_id,
            "region_id": regions[region] if region in regions else regions[region_slugs[0]],
            "description": description,
            "street": f"{rng.choice(_WORDS)}straße {rng.randint(1, 120)}",
            "postcode": f"{rng.randint(40000, 59999)}",
            "city": tname,
            "latitude": lat,
            "longitude": lon,
            "service_radius_km": service,
            "email": f"p{seed}-{i}@example.org",
            "phone": f"+49 231 {rng.randint(100000, 999999)}",
            "website": "",
            "languages": "de,en" if rng.random() < 0.3 else "de",
            "search_text": search_text,
            "geo_cell": geo_cell(lat, lon),
            "sort_name": sort_name,
            "is_demo": False,
            "is_archived": rng.random() < 0.03,
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
        })
        topic_choices.append([t[0] for t in chosen])

    # Explicit ids, so the partner_topics rows can be built without RETURNING:
    # SQLite cannot return ids in parameter order from a multi-row INSERT, and
    # SQLAlchemy then falls back to one statement per row. (Not insert(Partner)
    # either: the ORM bulk path cuts the rows into tiny batches wherever
    # organisation_id flips between None and a value, which took a minute.)
    first_id = (session.scalar(select(func.max(Partner.id))) or 0) + 1
    ids = list(range(first_id, first_id + n))
    for pid, row in zip(ids, rows, strict=True):
        row["id"] = pid
    session.execute(insert(Partner.__table__), rows)
    if session.get_bind().dialect.name == "postgresql":
        # Later ORM inserts draw ids from the sequence, which knows nothing of ours.
        session.execute(text("SELECT setval(pg_get_serial_sequence('partners', 'id'), (SELECT max(id) FROM partners))"))
    links = [{"partner_id": pid, "topic_id": tid} for pid, tids in zip(ids, topic_choices, strict=True) for tid in tids]
    session.execute(insert(partner_topics), links)
    session.flush()
