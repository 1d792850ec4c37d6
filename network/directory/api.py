"""JSON/GeoJSON API for the directory search and the geocoder."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

from network.directory.params import MAX_LENGTHS, parse_search
from network.directory.routes import search_limit
from network.directory.search import find_partners
from network.errors import invalid_response
from network.extensions import csrf, db, limiter
from network.geo.geocoding import GeocodeNotFound
from network.i18n import current_language
from network.labels import label
from network.problems import Invalid

bp = Blueprint("directory_api", __name__, url_prefix="/api")
# Read-only GET endpoints; listed in docs/architecture.md under "CSRF exemptions".
csrf.exempt(bp)


def partner_feature(hit, lang: str) -> dict:
    p = hit.partner
    props = {
        "id": p.id,
        "name": p.name,
        "kind": p.kind.slug,
        "kind_name": p.kind.name(lang),
        "organisation": p.organisation.name if p.organisation else None,
        "topics": [t.slug for t in p.topics],
        "topic_names": [t.name(lang) for t in p.topics],
        "region": p.region.slug,
        "region_name": p.region.name,
        "city": p.city,
        "service_radius_km": p.service_radius_km,
        "url": url_for("directory.profile", partner_id=p.id, _external=True),
    }
    if hit.distance_km is not None:
        props["distance_km"] = round(hit.distance_km, 3)
        props["reaches"] = hit.reaches
    return {
        "type": "Feature",
        "id": p.id,
        "geometry": {"type": "Point", "coordinates": [p.longitude, p.latitude]},
        "properties": props,
    }


def _geocode_rate_limit() -> str:
    return current_app.config["GEOCODE_RATE_LIMIT"]


@bp.get("/partners")
@search_limit
def partners():
    cfg = current_app.config
    try:
        parsed = parse_search(
            request.args,
            db.session,
            current_app.extensions["partnernetz.geocoder"],
            default_radius_km=None,
            max_radius_km=cfg["SEARCH_MAX_RADIUS_KM"],
            per_page=100,
            max_per_page=1000,
        )
    except Invalid as exc:
        status = 404 if exc.first.code == "search.place_not_found" else 400
        return invalid_response(exc, status, suggestions=exc.first.params.get("suggestions", []))
    result = find_partners(db.session, parsed.query)
    lang = current_language()
    body = {
        "type": "FeatureCollection",
        "features": [partner_feature(hit, lang) for hit in result.hits],
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "pages": result.pages,
    }
    if parsed.place is not None:
        body["near"] = {"lat": parsed.place.lat, "lon": parsed.place.lon, "label": parsed.place.label}
    return jsonify(body)


@bp.get("/geocode")
@limiter.limit(_geocode_rate_limit, scope="geocode")
def geocode():
    q = (request.args.get("q") or "").strip()
    if not q:
        return invalid_response(Invalid.one("q", "search.missing"), 400)
    if len(q) > MAX_LENGTHS["near"]:
        # A place or postcode, like `near` in the search: refused before the geocoder reads it.
        # Named like `near` in messages: here q is a place or postcode too.
        return invalid_response(Invalid.one("q", "search.too_long", max=MAX_LENGTHS["near"],
                                            field=label("field", "near")), 400)
    try:
        place = current_app.extensions["partnernetz.geocoder"].geocode(q)
    except GeocodeNotFound as exc:
        return invalid_response(Invalid.one("q", "search.place_not_found", value=q), 404,
                                suggestions=exc.suggestions)
    return jsonify({"lat": place.lat, "lon": place.lon, "label": place.label})
