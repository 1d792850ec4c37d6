"""Directory pages: start page with search, full-screen map, partner profiles."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from network.directory.mapview import KindLegend, MapCenter, MapLabels, MapParts, MapPoint, build_map
from network.directory.models import Kind, Partner, Region, Topic
from network.directory.params import parse_search
from network.directory.search import SearchQuery, SearchResult, find_partners, load_partners
from network.errors import problem_message
from network.extensions import db, limiter
from network.i18n import current_language
from network.problems import Invalid

bp = Blueprint("directory", __name__)

MAP_POINT_LIMIT = 20000
NOT_FOUND = "search.place_not_found"


def _search_rate_limit() -> str:
    return current_app.config["SEARCH_RATE_LIMIT"]


def _no_search_text() -> bool:
    # Only a place or a text costs geocoding or text search; the plain page and filters cost no more than any page.
    return not any((request.args.get(name) or "").strip() for name in ("near", "q"))


# One budget per address for the search page, the map page and GET /api/partners (network/directory/api.py).
search_limit = limiter.shared_limit(_search_rate_limit, scope="search", exempt_when=_no_search_text)


def geocoder():
    return current_app.extensions["partnernetz.geocoder"]


def _filters_context(lang: str) -> dict:
    return {
        "kinds": list(db.session.scalars(select(Kind).order_by(Kind.sort_order, Kind.id))),
        "topics": list(db.session.scalars(select(Topic).order_by(Topic.sort_order, Topic.id))),
        "regions": list(db.session.scalars(select(Region).order_by(Region.sort_order, Region.id))),
        "lang": lang,
    }


def _map_labels() -> MapLabels:
    return MapLabels(
        distance=_("Entfernung"),
        organisation=_("Organisation"),
        topics=_("Themen"),
        region=_("Region"),
        profile=_("Profil ansehen"),
        searched_place=_("Gesuchter Ort"),
        legend_title=_("Legende"),
    )


def _map_attribution() -> str:
    return _("Orte: GeoNames (CC BY 4.0)")


def _build_map(ranked, kinds, place, radius_km, lang: str, height: str):
    ids = [r.partner_id for r in ranked[:MAP_POINT_LIMIT]]
    distances = {r.partner_id: r.distance_km for r in ranked}
    points = [
        MapPoint(
            id=p.id,
            name=p.name,
            lat=p.latitude,
            lon=p.longitude,
            kind_slug=p.kind.slug,
            kind_name=p.kind.name(lang),
            organisation=p.organisation.name if p.organisation else "",
            topics=[t.name(lang) for t in p.topics],
            region=p.region.name,
            distance_km=distances.get(p.id),
            url=url_for("directory.profile", partner_id=p.id),
        )
        for p in load_partners(db.session, ids)
    ]
    center = MapCenter(place.lat, place.lon, place.label, radius_km) if place else None
    cfg = current_app.config
    return build_map(
        points,
        [KindLegend(k.slug, k.name(lang), k.color) for k in kinds],
        center,
        static_url=lambda path: url_for("static", filename=path),
        tiles=cfg["MAP_TILES"],
        attribution=cfg["MAP_TILES_ATTRIBUTION"],
        default_center=tuple(cfg["MAP_CENTER"]),
        default_zoom=cfg["MAP_ZOOM"],
        labels=_map_labels(),
        height=height,
        extra_attribution=_map_attribution(),
    )


def _search_page(template: str, map_height: str):
    lang = current_language()
    context = _filters_context(lang)
    cfg = current_app.config
    args = request.args
    error = None
    suggestions: list[str] = []
    result = None
    place = None
    try:
        parsed = parse_search(
            args,
            db.session,
            geocoder(),
            default_radius_km=cfg["SEARCH_DEFAULT_RADIUS_KM"],
            max_radius_km=cfg["SEARCH_MAX_RADIUS_KM"],
            per_page=cfg["SEARCH_PER_PAGE"],
        )
        place = parsed.place
        result = find_partners(db.session, parsed.query)
        query = parsed.query
    except Invalid as exc:
        error = {"field": exc.first.field, "code": exc.first.code, "message": problem_message(exc.first)}
        suggestions = exc.first.params.get("suggestions", [])
        query = SearchQuery(per_page=cfg["SEARCH_PER_PAGE"])
        # A place not found shows the whole directory beside the suggestions; refused input costs no search.
        result = (find_partners(db.session, query) if error["code"] == NOT_FOUND
                  else SearchResult(hits=[], total=0, page=1, per_page=query.per_page))
    if error and error["code"] != NOT_FOUND:
        map_parts = MapParts(head="", html="", script="")  # nor a map (folium's rendering is most of a page)
    else:
        map_parts = _build_map(result.ranked, context["kinds"], place, query.radius_km, lang, map_height)
    status = (404 if error["code"] == NOT_FOUND else 400) if error else 200
    return (
        render_template(
            template,
            result=result,
            query=query,
            place=place,
            error=error,
            suggestions=suggestions,
            map=map_parts,
            args=args,
            **context,
        ),
        status,
    )


@bp.get("/")
@search_limit
def index():
    return _search_page("directory/index.html", map_height="60vh")


@bp.get("/karte")
@search_limit
def full_map():
    return _search_page("directory/map.html", map_height="100%")


@bp.get("/partner/<int:partner_id>")
def profile(partner_id: int):
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.is_archived:
        abort(404)
    return render_template("directory/profile.html", partner=partner, lang=current_language())


from network.directory import suggest_routes  # noqa: E402,F401
