"""Benchmark: find_partners against a naive geopy scan of all partners, same queries, identical results asserted."""
from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script (`python bench/search.py`), so the repository root is not on sys.path by itself.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from geopy.distance import great_circle  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.generate import BORDER_RADII_KM, LAT_RANGE, LON_RANGE, TOWNS, generate_partners  # noqa: E402
from config import Config  # noqa: E402
from network import create_app  # noqa: E402
from network.directory.models import Kind, Partner, Region, Topic, partner_topics  # noqa: E402
from network.directory.search import SearchQuery, find_partners  # noqa: E402
from network.directory.taxonomy import KINDS, REGIONS, TOPICS  # noqa: E402
from network.extensions import db  # noqa: E402


def naive_search(session, query: SearchQuery) -> list[tuple[int, float]]:
    """What one would write first: load every partner, measure each with geopy, filter, sort."""
    topics: dict[int, set[str]] = {}
    if query.topic:  # only then: a stronger baseline makes the ratio mean more
        for pid, slug in session.execute(
            select(partner_topics.c.partner_id, Topic.slug).join(Topic, Topic.id == partner_topics.c.topic_id)
        ):
            topics.setdefault(pid, set()).add(slug)
    rows = session.execute(
        select(Partner.id, Partner.latitude, Partner.longitude, Partner.is_archived, Kind.slug, Region.slug)
        .join(Kind, Kind.id == Partner.kind_id)
        .join(Region, Region.id == Partner.region_id)
    ).all()
    out = []
    for pid, lat, lon, archived, kind, region in rows:
        if archived or (query.kind and kind != query.kind) or (query.region and region != query.region):
            continue
        if query.topic and query.topic not in topics.get(pid, ()):
            continue
        distance = great_circle((query.lat, query.lon), (lat, lon)).km
        if distance <= query.radius_km:
            out.append((distance, pid))
    out.sort()
    return [(pid, distance) for distance, pid in out]


def random_queries(rng: random.Random, count: int) -> list[SearchQuery]:
    kinds, topics, regions = [k[0] for k in KINDS], [t[0] for t in TOPICS], [r[0] for r in REGIONS]
    queries = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.4:
            _, lat, lon, _, _ = rng.choice(TOWNS)  # the town centre, as a place-name search gives it
        elif roll < 0.8:
            _, tlat, tlon, _, _ = rng.choice(TOWNS)
            lat, lon = rng.gauss(tlat, 0.05), rng.gauss(tlon, 0.08)  # a postcode or street nearby
        else:
            lat, lon = rng.uniform(*LAT_RANGE), rng.uniform(*LON_RANGE)
        radius = rng.choice(BORDER_RADII_KM[1:]) if rng.random() < 0.5 else rng.uniform(10, 50)
        # Filters: often none, sometimes one, now and then two or three.
        queries.append(SearchQuery(
            lat=lat, lon=lon, radius_km=radius,
            kind=rng.choice(kinds) if rng.random() < 0.35 else None,
            topic=rng.choice(topics) if rng.random() < 0.3 else None,
            region=rng.choice(regions) if rng.random() < 0.2 else None,
        ))
    return queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000, help="partners to generate (default 50000)")
    parser.add_argument("--queries", type=int, default=200, help="random searches (default 200)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database-url", help="a throwaway, empty database (default: SQLite in a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="pn-bench-") as tmp:
        class BenchConfig(Config):
            INSTANCE_PATH = tmp
            SECRET_KEY = "bench"
            SQLALCHEMY_DATABASE_URI = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
            GEOCODE_CACHE_PATH = f"{tmp}/geocode_cache.sqlite"

        app = create_app(BenchConfig)
        # The factory and Alembic's env.py turn on INFO logging; migration chatter would hide the result.
        logging.disable(logging.INFO)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            session = db.session
            existing = session.scalar(select(func.count(Partner.id)))
            if existing:
                print(f"refusing: the database already holds {existing} partners; give an empty one", file=sys.stderr)
                return 2

            started = time.perf_counter()
            generate_partners(session, args.n, args.seed)
            session.commit()
            print(f"generated {args.n} partners in {time.perf_counter() - started:.1f} s "
                  f"({db.engine.url.get_backend_name()})")

            queries = random_queries(random.Random(args.seed), args.queries)
            find_partners(session, queries[0])  # warm caches and the connection for both sides
            naive_search(session, queries[0])
            fast_times, naive_times, counts = [], [], []
            for i, query in enumerate(queries):
                t0 = time.perf_counter()
                result = find_partners(session, query)
                t1 = time.perf_counter()
                expected = naive_search(session, query)
                t2 = time.perf_counter()
                got = [(r.partner_id, r.distance_km) for r in result.ranked]
                if got != expected:
                    print(f"MISMATCH in query {i}: {query}\n  find_partners {len(got)}: {got[:5]}\n"
                          f"  naive {len(expected)}: {expected[:5]}", file=sys.stderr)
                    return 1
                fast_times.append(t1 - t0)
                naive_times.append(t2 - t1)
                counts.append(len(expected))
            session.remove()
            db.engine.dispose()

    fast, naive = statistics.median(fast_times), statistics.median(naive_times)
    print(f"{len(queries)} queries, identical ids, order and distances in all of them")
    print(f"results per query: mean {statistics.mean(counts):.0f}, median {statistics.median(counts):.0f}, "
          f"max {max(counts)}, empty {sum(1 for c in counts if c == 0)}")
    print(f"find_partners (full ranking + first page): median {fast * 1000:.2f} ms, "
          f"p90 {sorted(fast_times)[int(0.9 * len(fast_times))] * 1000:.2f} ms")
    print(f"naive geopy scan:                          median {naive * 1000:.2f} ms")
    print(f"ratio of medians: {naive / fast:.0f}x (target >= 50x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
