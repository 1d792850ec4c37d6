"""Directory map: folium/Leaflet map of partners built from JSON in the browser, local assets, escaped text."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import folium
from branca.element import CssLink, JavascriptLink
from folium.plugins import FastMarkerCluster
from folium.template import Template
from markupsafe import Markup, escape

__all__ = [
    "KindLegend",
    "LEGEND_ID",
    "MapCenter",
    "MapLabels",
    "MapParts",
    "MapPoint",
    "OSM_ATTRIBUTION",
    "OSM_TILES",
    "build_map",
]

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>-Mitwirkende'
)

# Files under static/ (copied there from npm by scripts/vendor_assets.sh).
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"
CLUSTER_JS = "vendor/leaflet.markercluster/leaflet.markercluster.js"
CLUSTER_CSS = "vendor/leaflet.markercluster/MarkerCluster.css"
CLUSTER_DEFAULT_CSS = "vendor/leaflet.markercluster/MarkerCluster.Default.css"
MAP_CSS = "css/map.css"
MARKER_ICON = "vendor/leaflet/images/marker-icon.png"

LEGEND_ID = "pn-legend"
FALLBACK_COLOR = "#777777"
RADIUS_COLOR = "#1f4e79"
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_CLASS_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_-]")
_JINJA_OPENERS = ("{{", "{%", "{#")
# A single partner would otherwise be fitted at street level.
_FIT_MAX_ZOOM = 13
_KM_PER_DEG_LAT = 111.32
_MAX_ZOOM = 19  # OSM's tile server goes to 19


@dataclass(frozen=True)
class MapPoint:
    id: int
    name: str
    lat: float
    lon: float
    kind_slug: str
    kind_name: str
    organisation: str
    topics: list[str] | tuple[str, ...]
    region: str
    distance_km: float | None
    url: str


@dataclass(frozen=True)
class KindLegend:
    slug: str
    name: str
    color: str  # '#rrggbb'


@dataclass(frozen=True)
class MapCenter:
    lat: float
    lon: float
    label: str
    radius_km: float | None


@dataclass(frozen=True)
class MapParts:
    head: str  # <link>/<script src> tags for <head>
    html: str  # the map <div> and its legend
    script: str  # JS body without <script> tags; the page wraps it in <script nonce="...">


@dataclass(frozen=True)
class MapLabels:
    distance: str = "Entfernung"
    organisation: str = "Organisation"
    topics: str = "Themen"
    region: str = "Region"
    profile: str = "Profil ansehen"
    searched_place: str = "Gesuchter Ort"
    legend_title: str = "Legende"


# --- escaping -----------------------------------------------------------------
#
# branca compiles every rendered folium macro as a *Jinja template* before the
# page is assembled (MacroElement.render -> Element(output) -> Template(output)).
# A partner called "{{ 7*7 }}" would come out as "49", and "{{ lipsum.__globals__
# ... }}" runs Python on the server. So no caller-supplied text may enter the
# folium element tree: it travels in a JSON block that build_map appends itself,
# and the few HTML strings folium must carry (layer names, tile attribution)
# have their braces turned into character references.


def _script_json(value: object) -> str:
    """Compact JSON safe inside <script>: no '<', '>', '&', "'" and no JS line separators."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _inert_html(html: str) -> str:
    """HTML that displays the same but cannot open a Jinja block inside folium's templates."""
    return str(html).replace("{", "&#123;").replace("}", "&#125;")


def _template_free(value: str, what: str) -> str:
    if any(opener in value for opener in _JINJA_OPENERS):
        raise ValueError(f"{what} must not contain '{{{{', '{{%' or '{{#': {value!r}")
    return value


def _safe_color(color: str) -> str:
    return color if isinstance(color, str) and _COLOR_RE.match(color) else FALLBACK_COLOR


def _class_token(slug: str) -> str:
    return _CLASS_UNSAFE_RE.sub("-", str(slug)) or "none"


def _safe_url(url: str) -> str:
    # Only site paths and http(s) links may become an href; javascript:, data:
    # and protocol-relative //host links are dropped.
    if url.startswith("/") and not url.startswith("//"):
        return url
    if url.startswith(("http://", "https://")):
        return url
    return ""


def _finite(*values: object) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in values)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


# --- server-rendered HTML -------------------------------------------------------


def _swatch(color: str, size: int = 14) -> Markup:
    # SVG fill is a presentation attribute, not inline CSS, so a strict
    # style-src CSP does not block it. `color` has passed _safe_color.
    r = size / 2
    return Markup(
        f'<svg class="pn-swatch" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        f'aria-hidden="true" focusable="false"><circle cx="{r:g}" cy="{r:g}" r="{r - 1.5:g}" '
        f'fill="{color}" stroke="#ffffff" stroke-width="1.5"/></svg>'
    )


def _pin(static_url: Callable[[str], str]) -> Markup:
    return Markup('<img class="pn-legend-pin" src="{}" alt="" width="9" height="15">').format(
        static_url(MARKER_ICON)
    )


def _legend_html(
    kinds: list[dict], labels: MapLabels, with_place: bool, static_url: Callable[[str], str]
) -> str:
    # Every kind the caller declared is listed, hits or not, so the legend stays stable across searches.
    item = Markup(
        '<li class="pn-legend-item" data-kind="{slug}">{swatch} <span class="pn-legend-label">{name}</span></li>'
    )
    items = [item.format(slug=k["slug"], swatch=_swatch(k["color"]), name=k["name"]) for k in kinds]
    if with_place:
        items.append(
            Markup(
                '<li class="pn-legend-item pn-legend-place">{pin} <span class="pn-legend-label">{name}</span></li>'
            ).format(pin=_pin(static_url), name=labels.searched_place)
        )
    return str(
        Markup(
            '<div id="{id}" class="pn-legend" role="group" aria-label="{title}">'
            '<p class="pn-legend-title">{title}</p><ul class="pn-legend-list">'
        ).format(id=LEGEND_ID, title=labels.legend_title)
        + Markup("").join(items)
        + Markup("</ul></div>")
    )


# --- folium elements -------------------------------------------------------------


class _PartnerSupport(folium.MacroElement):
    """Shared JS for one map: marker and popup builders, cluster icons, legend control, attribution.

    Its template sees only generated names; the data arrives in the global
    `data_var`, written by build_map outside the folium tree.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function (data) {
                var map = {{ this._parent.get_name() }};
                var labels = data.labels, kinds = data.kinds, strings = data.strings, partners = data.partners;
                var SVG = "http://www.w3.org/2000/svg";

                function el(tag, className, text) {
                    var node = document.createElement(tag);
                    if (className) { node.className = className; }
                    if (text !== undefined && text !== null) { node.textContent = String(text); }
                    return node;
                }
                function swatch(color) {
                    var svg = document.createElementNS(SVG, "svg");
                    svg.setAttribute("class", "pn-swatch");
                    svg.setAttribute("width", "12");
                    svg.setAttribute("height", "12");
                    svg.setAttribute("viewBox", "0 0 12 12");
                    svg.setAttribute("aria-hidden", "true");
                    var c = document.createElementNS(SVG, "circle");
                    c.setAttribute("cx", "6");
                    c.setAttribute("cy", "6");
                    c.setAttribute("r", "5");
                    c.setAttribute("fill", color);
                    svg.appendChild(c);
                    return svg;
                }
                function str(i) { return i === null ? "" : strings[i]; }
                function km(d) {
                    // The page language (<html lang>) picks the decimal separator.
                    try {
                        return d.toLocaleString(document.documentElement.lang || "de",
                            {minimumFractionDigits: 1, maximumFractionDigits: 1}) + " km";
                    } catch (e) {
                        return d.toFixed(1).replace(".", ",") + " km";
                    }
                }
                function fact(dl, term, value) {
                    if (value === null || value === "") { return; }
                    dl.appendChild(el("dt", "", term));
                    dl.appendChild(el("dd", "", value));
                }
                // partner: [id, name, organisation, [topics], region, distance_km, url];
                // text fields are indexes into strings
                function popup(p, kind) {
                    var root = el("div", "pn-popup");
                    root.setAttribute("data-partner-id", String(p[0]));
                    root.appendChild(el("p", "pn-popup-name", p[1]));
                    var k = el("p", "pn-popup-kind");
                    k.appendChild(swatch(kind.color));
                    k.appendChild(document.createTextNode(" " + kind.name));
                    root.appendChild(k);
                    var dl = el("dl", "pn-popup-facts");
                    fact(dl, labels.organisation, str(p[2]));
                    fact(dl, labels.topics, p[3].map(str).join(", "));
                    fact(dl, labels.region, str(p[4]));
                    fact(dl, labels.distance, p[5] === null ? null : km(p[5]));
                    if (dl.firstChild) { root.appendChild(dl); }
                    var url = p[6];
                    if (url && ((url.charAt(0) === "/" && url.charAt(1) !== "/") || /^https?:\\/\\//.test(url))) {
                        var a = el("a", "pn-popup-link", labels.profile);
                        a.href = url;
                        root.appendChild(a);
                    }
                    return root;
                }
                // row (FastMarkerCluster data): [lat, lon, index into partners]
                function marker(row, kind) {
                    var p = partners[row[2]];
                    var m = L.circleMarker([row[0], row[1]], {
                        radius: 8, color: "#ffffff", weight: 2, opacity: 1,
                        fillColor: kind.color, fillOpacity: 0.9,
                        className: "pn-marker pn-kind-" + kind.cls
                    });
                    // Built when opened: 10,000 popups up front would cost seconds.
                    m.bindPopup(function () { return popup(p, kind); },
                                {className: "pn-popup-container", maxWidth: 320});
                    m.on("add", function () {
                        var node = m.getElement();
                        if (node) { node.setAttribute("data-partner-id", String(p[0])); }
                    });
                    return m;
                }
                function clusterIcon(cluster, kind) {
                    var inner = el("div");
                    // CSSOM assignment, not a style attribute: allowed under a strict CSP.
                    inner.style.backgroundColor = kind.color;
                    inner.appendChild(el("span", "", cluster.getChildCount()));
                    return L.divIcon({
                        html: inner,
                        className: "marker-cluster pn-cluster pn-cluster-" + kind.cls,
                        iconSize: L.point(40, 40)
                    });
                }
                function searched(group) {
                    var place = data.place;
                    var title = labels.searched_place + ": " + place.label;
                    var m = L.marker([place.lat, place.lon], {
                        icon: new L.Icon.Default({className: "pn-searched-place"}),
                        title: title, alt: title
                    });
                    m.bindPopup(function () {
                        var root = el("div", "pn-popup pn-popup-place");
                        root.appendChild(el("p", "pn-popup-kind", labels.searched_place));
                        root.appendChild(el("p", "pn-popup-name", place.label));
                        return root;
                    }, {className: "pn-popup-container"});
                    m.addTo(group);
                    return m;
                }
                if (data.attribution && map.attributionControl) {
                    map.attributionControl.addAttribution(data.attribution);
                }
                var legend = document.getElementById(data.legendId);
                if (legend) {
                    var control = L.control({position: "bottomright"});
                    control.onAdd = function () {
                        L.DomEvent.disableClickPropagation(legend);
                        L.DomEvent.disableScrollPropagation(legend);
                        return legend;
                    };
                    control.addTo(map);
                }
                return {kinds: kinds, marker: marker, clusterIcon: clusterIcon, searched: searched};
            })({{ this.data_var }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "PartnerSupport"
        self.data_var = self.get_name() + "_data"


class _SearchedPlace(folium.MacroElement):
    """The searched place's pin; built in JS so its label is set as text, never as HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.support.get_name() }}.searched({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, support: _PartnerSupport) -> None:
        super().__init__()
        self._name = "SearchedPlace"
        self.support = support


def _radius_bounds(lat: float, lon: float, radius_km: float) -> list[list[float]]:
    dlat = radius_km / _KM_PER_DEG_LAT
    dlon = radius_km / (_KM_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01))
    return [[lat - dlat, lon - dlon], [lat + dlat, lon + dlon]]


def _kind_table(points: Sequence[MapPoint], kinds: Sequence[KindLegend]) -> tuple[list[dict], dict[str, int]]:
    """One entry per slug in the caller's order; kinds seen only on points are appended in grey."""
    table: list[dict] = []
    index: dict[str, int] = {}

    def add(slug: str, name: str, color: str) -> None:
        index[slug] = len(table)
        table.append({"slug": slug, "name": name, "color": _safe_color(color), "cls": _class_token(slug)})

    for kind in kinds:
        if kind.slug not in index:
            add(kind.slug, kind.name, kind.color)
    for p in points:
        if p.kind_slug not in index:
            add(p.kind_slug, p.kind_name or p.kind_slug, FALLBACK_COLOR)
    return table, index


def build_map(
    points: Sequence[MapPoint],
    kinds: Sequence[KindLegend],
    center: MapCenter | None,
    *,
    static_url: Callable[[str], str],
    tiles: str = "osm",
    attribution: str = OSM_ATTRIBUTION,
    default_center: tuple[float, float] = (51.45, 7.65),
    default_zoom: int = 9,
    labels: MapLabels = MapLabels(),
    height: str = "100%",
    extra_attribution: str = "Orte: GeoNames (CC BY 4.0)",
) -> MapParts:
    """Render the partner map as head tags, body HTML and a CSP-friendly script body.

    `attribution` and `extra_attribution` are trusted HTML (deployment config);
    every other string is data: shipped as JSON and set with textContent.
    """
    table, kind_index = _kind_table(points, kinds)
    has_place = center is not None and _finite(center.lat, center.lon)
    radius_km = (
        float(center.radius_km)
        if has_place and center.radius_km is not None and _finite(center.radius_km) and center.radius_km > 0
        else None
    )

    # Partner text goes to one JSON block; organisations, regions and topics
    # repeat a lot, so they are stored once and referenced by index.
    string_index: dict[str, int] = {}  # insertion-ordered: its keys are the table

    def ref(text: str | None) -> int | None:
        return string_index.setdefault(text, len(string_index)) if text else None

    partners: list[list] = []
    rows: list[list[list]] = [[] for _ in table]
    lats: list[float] = []
    lons: list[float] = []
    isfinite = math.isfinite
    for p in points:
        try:
            lat, lon = float(p.lat), float(p.lon)
        except (TypeError, ValueError):
            continue
        if not (isfinite(lat) and isfinite(lon)):
            continue  # an unplaced partner cannot be drawn; the list view still shows it
        lat, lon = round(lat, 5), round(lon, 5)  # ~1 m; full floats would double the coordinate bytes
        lats.append(lat)
        lons.append(lon)
        rows[kind_index[p.kind_slug]].append([lat, lon, len(partners)])
        partners.append([
            int(p.id),
            p.name or "",
            ref(p.organisation),
            [ref(t) for t in (p.topics or ()) if t],
            ref(p.region),
            None if p.distance_km is None else round(float(p.distance_km), 1),
            _safe_url(p.url or ""),
        ])

    figure = folium.Figure()
    m = folium.Map(location=list(default_center), zoom_start=default_zoom, tiles=None, control_scale=True)
    # On the Leaflet map itself, not only the tile layer: markercluster throws
    # "Map has no maxZoom specified" when there are no tiles.
    m.options["maxZoom"] = _MAX_ZOOM
    # Instance attributes, not add_js_link (which rewrites the class-level list
    # for every later map in the process). folium's jQuery, Bootstrap and
    # awesome-markers are dropped: nothing on this map uses them.
    m.default_js = [("leaflet", static_url(LEAFLET_JS))]
    m.default_css = [("leaflet_css", static_url(LEAFLET_CSS))]
    m.add_to(figure)

    if tiles != "none":
        url = OSM_TILES if tiles == "osm" else _template_free(tiles, "tiles")
        folium.TileLayer(
            tiles=url, attr=_inert_html(attribution), name="tiles", control=False, max_zoom=_MAX_ZOOM
        ).add_to(m)

    support = _PartnerSupport()
    support.add_to(m)

    if has_place:
        assert center is not None
        # Layer names are inserted as innerHTML by Leaflet's control: escaped here.
        group = folium.FeatureGroup(
            name=_inert_html(_pin(static_url) + Markup(" ") + escape(labels.searched_place)),
            overlay=True,
            control=True,
        )
        if radius_km is not None:
            circle = folium.Circle(
                location=[float(center.lat), float(center.lon)],
                radius=radius_km * 1000.0,
                color=RADIUS_COLOR,
                weight=2,
                dash_array="6 6",
                fill=True,
                fill_color=RADIUS_COLOR,
                fill_opacity=0.05,
                class_name="pn-radius",
            )
            # path_options drops keys it does not know; a non-interactive circle
            # leaves clicks and the pointer cursor to the markers.
            circle.options["interactive"] = False
            circle.add_to(group)
        _SearchedPlace(support).add_to(group)
        group.add_to(m)  # before the clusters, so the circle is drawn beneath the markers

    callback = "function (row) {{ return {s}.marker(row, {s}.kinds[{i}]); }}"
    icon_fn = "function (cluster) {{ return {s}.clusterIcon(cluster, {s}.kinds[{i}]); }}"
    layer_names: set[str] = set()
    for i, kind in enumerate(table):
        if not rows[i]:
            continue  # an empty layer would only add a dead switch to the layer control
        name = escape(kind["name"])
        if name in layer_names:  # the control keys layers by name; keep both
            name = escape(f"{kind['name']} ({kind['slug']})")
        layer_names.add(name)
        cluster = FastMarkerCluster(
            data=[],  # assigned below: folium re-validates each row, several times the cost of the rest
            callback=callback.format(s=support.get_name(), i=i),
            name=_inert_html(_swatch(kind["color"], 12) + Markup(" ") + name),
            overlay=True,
            control=True,
            icon_create_function=icon_fn.format(s=support.get_name(), i=i),
            chunked_loading=True,
            show_coverage_on_hover=False,
        )
        cluster.data = rows[i]  # numbers only: [lat, lon, partner index]
        cluster.default_js = [("markerclusterjs", static_url(CLUSTER_JS))]
        cluster.default_css = [
            ("markerclustercss", static_url(CLUSTER_CSS)),
            ("markerclusterdefaultcss", static_url(CLUSTER_DEFAULT_CSS)),
        ]
        cluster.add_to(m)

    folium.LayerControl(collapsed=True).add_to(m)

    if radius_km is not None:
        assert center is not None
        m.fit_bounds(_radius_bounds(float(center.lat), float(center.lon), radius_km))
    elif lats or has_place:
        if has_place:
            assert center is not None
            lats.append(float(center.lat))
            lons.append(float(center.lon))
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], max_zoom=_FIT_MAX_ZOOM)

    # Render the folium tree once and take its sections apart.
    for child in figure._children.values():
        child.render()

    css: list[str] = []
    js: list[str] = []
    for child in figure.header._children.values():
        # Only asset links are kept: folium's header also has a viewport meta
        # (the page has its own), page-wide html/body/#map styles and an inline
        # <script> that a nonce-based CSP would block.
        if isinstance(child, CssLink):
            css.append(str(Markup('<link rel="stylesheet" href="{}">').format(child.url)))
        elif isinstance(child, JavascriptLink):
            js.append(str(Markup('<script src="{}"></script>').format(child.url)))
    css.append(str(Markup('<link rel="stylesheet" href="{}">').format(static_url(MAP_CSS))))
    head = "\n".join(css + js)

    map_id = m.get_name()
    html = (
        str(Markup('<div class="folium-map pn-map" id="{}"></div>').format(map_id))
        + "\n"
        + _legend_html(table, labels, has_place, static_url)
    )

    data = {
        "labels": {
            "distance": labels.distance,
            "organisation": labels.organisation,
            "topics": labels.topics,
            "region": labels.region,
            "profile": labels.profile,
            "searched_place": labels.searched_place,
        },
        "kinds": table,
        "strings": list(string_index),
        "partners": partners,
        "place": (
            {"lat": float(center.lat), "lon": float(center.lon), "label": center.label or ""}
            if has_place and center is not None
            else None
        ),
        "attribution": extra_attribution,
        "legendId": LEGEND_ID,
    }
    # The container is sized before L.map() measures it, from JS because a
    # style attribute would need 'unsafe-inline' in style-src.
    script = (
        f"var {support.data_var} = {_script_json(data)};\n"
        f"document.getElementById({_script_json(map_id)}).style.height = {_script_json(height)};\n"
        + figure.script.render()
    )
    return MapParts(head=head, html=html, script=script)
