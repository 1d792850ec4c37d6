"""Turn query-string parameters into a SearchQuery; shared by the HTML pages and the JSON API."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from network.directory.models import Kind, Region, Topic
from network.directory.search import SearchQuery
from network.geo.geocoding import PLACE_MAX_LENGTH, GeocodeNotFound, Geocoder, GeocodeResult
from network.problems import Invalid


@dataclass(frozen=True)
class ParsedSearch:
    query: SearchQuery
    place: GeocodeResult | None


def _float(args: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    raw = (args.get(name) or "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Invalid.one(name, "search.not_a_number", value=raw) from None
    if value != value or not low <= value <= high:  # NaN or out of range
        raise Invalid.one(name, "search.out_of_range", value=raw)
    return value


def _int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise Invalid.one(name, "search.not_a_number", value=raw)
    value = int(raw)
    if not low <= value <= high:
        raise Invalid.one(name, "search.out_of_range", value=raw)
    return value


def _slug(session: Session, args: Mapping[str, str], name: str, model) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if session.scalar(select(model.id).where(model.slug == raw)) is None:
        raise Invalid.one(name, "search.unknown_value", value=raw)
    return raw


# Longest text per search field, checked before any geocoding or searching (see the README, "Input limits").
MAX_LENGTHS = {"near": PLACE_MAX_LENGTH, "q": 200}


def _text(args: Mapping[str, str], name: str) -> str:
    text = (args.get(name) or "").strip()
    if len(text) > MAX_LENGTHS[name]:
        raise Invalid.one(name, "search.too_long", max=MAX_LENGTHS[name])
    return text


def parse_search(
    args: Mapping[str, str],
    session: Session,
    geocoder: Geocoder,
    *,
    default_radius_km: float | None,
    max_radius_km: float,
    per_page: int,
    max_per_page: int = 100,
) -> ParsedSearch:
    """Validate the parameters near|lat+lon, radius_km, kind, topic, region, q, page, per_page.

    Raises Invalid with one problem naming the parameter; a place not found carries its "suggestions".
    """
    lat = _float(args, "lat", -90, 90)
    lon = _float(args, "lon", -180, 180)
    if (lat is None) != (lon is None):
        raise Invalid.one("lon" if lon is None else "lat", "search.missing_pair")
    radius = _float(args, "radius_km", 0.1, max_radius_km)
    place: GeocodeResult | None = None
    # Both texts are checked before the geocoder or the text search sees either (README, "Input limits").
    near = _text(args, "near")
    text = _text(args, "q")
    if near and lat is None:
        try:
            place = geocoder.geocode(near)
        except GeocodeNotFound as exc:
            raise Invalid.one("near", "search.place_not_found", value=near, suggestions=exc.suggestions) from None
        lat, lon = place.lat, place.lon
    elif lat is not None:
        place = GeocodeResult(lat=lat, lon=lon, label=f"{lat:.4f}, {lon:.4f}", source="coordinates")
    if place is not None and radius is None:
        radius = default_radius_km
    query = SearchQuery(
        lat=lat,
        lon=lon,
        radius_km=radius if place is not None else None,
        kind=_slug(session, args, "kind", Kind),
        topic=_slug(session, args, "topic", Topic),
        region=_slug(session, args, "region", Region),
        text=text or None,
        page=_int(args, "page", 1, 1, 100000),
        per_page=_int(args, "per_page", per_page, 1, max_per_page),
    )
    return ParsedSearch(query=query, place=place)
