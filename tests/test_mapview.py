"""Tests for the directory map builder: escaping, local assets, tiles, legend, layers and speed (no Flask needed)."""
from __future__ import annotations

import json
import random
import re
import time
from html.parser import HTMLParser

import folium
import pytest

from network.directory.mapview import (
    LEGEND_ID,
    OSM_TILES,
    KindLegend,
    MapCenter,
    MapLabels,
    MapParts,
    MapPoint,
    build_map,
)

XSS = "<img src=x onerror=alert(1)>`${alert(2)}`</script>"
# branca compiles folium's rendered output as Jinja: these must come out literally.
JINJA = "{{ 7*7 }} {% if true %}x{% endif %} {# c"
EVIL = f"{XSS} \\ ' \" \u2028 {JINJA}"

KINDS = [
    KindLegend("coach", "Innovationscoach", "#1f77b4"),
    KindLegend("scout", "Technologiescout", "#ff7f0e"),
    KindLegend("evil", EVIL, "#2ca02c"),
]


def static_url(path: str) -> str:
    return "/static/" + path


def point(i: int = 1, **overrides) -> MapPoint:
    values = dict(
        id=i,
        name=f"Partner {i}",
        lat=51.45 + i * 1e-4,
        lon=7.65 + i * 1e-4,
        kind_slug="coach",
        kind_name="Innovationscoach",
        organisation="WFG Hagen",
        topics=["KI", "Robotik"],
        region="Hagen",
        distance_km=12.34,
        url=f"/partner/{i}",
    )
    values.update(overrides)
    return MapPoint(**values)


def evil_point() -> MapPoint:
    return point(
        666, name=EVIL, kind_slug="evil", kind_name=EVIL, organisation=EVIL,
        topics=[EVIL, "KI"], region=EVIL,
    )


def render(points=None, kinds=KINDS, center=None, **kwargs) -> MapParts:
    return build_map(points if points is not None else [point()], kinds, center, static_url=static_url, **kwargs)


def data_block(parts: MapParts) -> dict:
    match = re.search(r"^var (partner_support_\w+_data) = (.*);$", parts.script, re.M)
    assert match, "the data block is missing"
    return json.loads(match.group(2))


def cluster_rows(parts: MapParts) -> list[list]:
    return [json.loads(m) for m in re.findall(r"var data = (.*);", parts.script)]


def layer_names(parts: MapParts) -> list[str]:
    block = re.search(r"overlays :  \{(.*?)\n\s*\},", parts.script, re.S)
    assert block
    return [json.loads(key) for key in re.findall(r'^\s*("(?:[^"\\]|\\.)*") :', block.group(1), re.M)]


def outside_string_literals(script: str) -> str:
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', script)


def attribute_names(html: str) -> set[str]:
    names: set[str] = set()

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            names.update(name for name, _ in attrs)

    Collector().feed(html)
    return names


def everything(parts: MapParts) -> str:
    return "\n".join((parts.head, parts.html, parts.script))


# --- escaping --------------------------------------------------------------------


@pytest.fixture
def evil_parts() -> MapParts:
    return render([point(1), evil_point()], center=MapCenter(51.45, 7.65, EVIL, 25))


def test_no_live_html_from_data(evil_parts: MapParts) -> None:
    assert "<img src=x" not in everything(evil_parts)
    assert "&lt;img src=x onerror=alert(1)&gt;" in evil_parts.html  # the legend, escaped


def test_script_cannot_be_ended_or_commented_by_data(evil_parts: MapParts) -> None:
    lowered = evil_parts.script.lower()
    assert "</script" not in lowered
    assert "<script" not in lowered
    assert "<!--" not in lowered
    assert "\u2028" not in evil_parts.script


def test_no_template_literal_or_injected_code_outside_json_strings(evil_parts: MapParts) -> None:
    code = outside_string_literals(evil_parts.script)
    assert "`" not in code
    assert "${" not in code
    assert "alert(" not in code
    assert "innerHTML" not in code


def test_json_data_decodes_to_the_exact_strings(evil_parts: MapParts) -> None:
    data = data_block(evil_parts)
    strings = data["strings"]
    evil = next(p for p in data["partners"] if p[0] == 666)
    assert evil[1] == EVIL
    assert strings[evil[2]] == EVIL  # organisation
    assert [strings[t] for t in evil[3]] == [EVIL, "KI"]  # topics
    assert strings[evil[4]] == EVIL  # region
    assert next(k for k in data["kinds"] if k["slug"] == "evil")["name"] == EVIL
    assert data["place"]["label"] == EVIL


def test_layer_control_names_are_escaped_html(evil_parts: MapParts) -> None:
    names = layer_names(evil_parts)
    evil = [n for n in names if "alert(1)" in n]
    assert len(evil) == 1
    assert "&lt;img src=x onerror=alert(1)&gt;" in evil[0]
    assert "<img src=x" not in evil[0]
    # braces as character references: same text on screen, inert for Jinja
    assert "&#123;&#123; 7*7 &#125;&#125;" in evil[0]


def test_jinja_syntax_in_data_is_not_evaluated() -> None:
    parts = render([point(1, name=JINJA, organisation="{%", region="{#")], center=MapCenter(51, 7, JINJA, None))
    data = data_block(parts)
    assert data["partners"][0][1] == JINJA
    assert data["strings"][data["partners"][0][2]] == "{%"
    assert data["strings"][data["partners"][0][4]] == "{#"
    assert data["place"]["label"] == JINJA


def test_unsafe_profile_links_are_dropped() -> None:
    urls = ["/partner/1", "https://example.org/p", "javascript:alert(1)", "//evil.example/x", "data:text/html,x", ""]
    parts = render([point(i, url=u) for i, u in enumerate(urls, 1)])
    assert [p[6] for p in data_block(parts)["partners"]] == ["/partner/1", "https://example.org/p", "", "", "", ""]


def test_markup_parts_need_no_unsafe_inline() -> None:
    parts = render([point(1), evil_point()], center=MapCenter(51.45, 7.65, "Hagen", 10))
    assert "<style" not in parts.head and "<style" not in parts.html
    assert re.findall(r"<script(?![^>]*\bsrc=)", parts.head) == []  # only <script src>
    assert "<script" not in parts.html
    attributes = attribute_names(parts.html)
    assert "style" not in attributes
    assert not [a for a in attributes if a.startswith("on")]


# --- assets ----------------------------------------------------------------------

CDN_HINTS = ("cdn", "jsdelivr", "cloudflare", "bootstrap", "code.jquery", "jquery", "unpkg", "awesome", "fontawesome")


@pytest.mark.parametrize("tiles", ["osm", "none"])
def test_assets_are_local(tiles: str) -> None:
    parts = render([point(1), evil_point()], center=MapCenter(51.45, 7.65, "Hagen", 10), tiles=tiles)
    text = everything(parts).lower()
    for hint in CDN_HINTS:
        assert hint not in text, hint
    refs = re.findall(r'\b(?:src|href)="([^"]*)"', parts.head + parts.html)
    assert refs and all(r.startswith("/static/") for r in refs), refs
    assert set(re.findall(r'\b(?:src|href)="([^"]*)"', parts.head)) == {
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet.markercluster/MarkerCluster.css",
        "/static/vendor/leaflet.markercluster/MarkerCluster.Default.css",
        "/static/vendor/leaflet.markercluster/leaflet.markercluster.js",
        "/static/css/map.css",
    }


def test_folium_class_defaults_are_not_touched() -> None:
    before_js, before_css = list(folium.Map.default_js), list(folium.Map.default_css)
    render()
    assert folium.Map.default_js == before_js
    assert folium.Map.default_css == before_css


# --- tiles -----------------------------------------------------------------------


def urls_in(parts: MapParts) -> set[str]:
    found = set()
    for raw in re.findall(r'https?:(?://|\\/\\/)[^\s"\'<>]+', everything(parts)):
        found.add(raw.replace("\\/", "/").rstrip("\\"))
    return found


def test_tiles_none_means_no_tile_layer_and_no_other_host() -> None:
    parts = render(tiles="none")
    assert "L.tileLayer" not in parts.script
    assert '"maxZoom": 19' in parts.script  # markercluster throws without a map maxZoom
    assert "openstreetmap" not in everything(parts)
    # the SVG namespace is an identifier, not a request
    assert urls_in(parts) == {"http://www.w3.org/2000/svg"}
    assert data_block(parts)["attribution"] == "Orte: GeoNames (CC BY 4.0)"


def test_tiles_osm_has_url_and_attribution() -> None:
    parts = render(tiles="osm")
    assert parts.script.count("L.tileLayer(") == 1
    assert json.dumps(OSM_TILES) in parts.script
    attribution = re.search(r'"attribution": ("(?:[^"\\]|\\.)*")', parts.script)
    assert attribution and "OpenStreetMap" in json.loads(attribution.group(1))
    assert urls_in(parts) <= {OSM_TILES, "https://www.openstreetmap.org/copyright", "http://www.w3.org/2000/svg"}


def test_custom_tiles_and_attribution() -> None:
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    parts = render(tiles=url, attribution='<a href="https://example.org">Example</a>', extra_attribution="")
    assert json.dumps(url) in parts.script
    assert "Example" in parts.script
    assert data_block(parts)["attribution"] == ""
    with pytest.raises(ValueError):
        render(tiles="https://tiles.example.org/{{z}}/{x}/{y}.png")


# --- map content -------------------------------------------------------------------


def test_legend_lists_each_kind_once() -> None:
    kinds = KINDS + [KindLegend("coach", "Duplicate", "#000000")]
    points = [point(1), point(2, kind_slug="scout"), point(3, kind_slug="unknown", kind_name="Neu")]
    parts = render(points, kinds=kinds, labels=MapLabels(legend_title="Legend <b>"))
    for slug in ("coach", "scout", "evil", "unknown"):
        assert parts.html.count(f'data-kind="{slug}"') == 1, slug
    assert parts.html.count('class="pn-legend-item"') == 4
    assert f'id="{LEGEND_ID}"' in parts.html
    assert "Legend &lt;b&gt;" in parts.html
    assert "Duplicate" not in everything(parts)
    kinds_data = data_block(parts)["kinds"]
    assert [k["slug"] for k in kinds_data] == ["coach", "scout", "evil", "unknown"]
    assert kinds_data[3]["color"] == "#777777"


def test_bad_colours_and_slugs_are_neutralised() -> None:
    kinds = [KindLegend('x" onload="alert(1)', "X", "red;background:url(x)")]
    parts = render([point(1, kind_slug='x" onload="alert(1)')], kinds=kinds)
    kind = data_block(parts)["kinds"][0]
    assert kind["color"] == "#777777"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", kind["cls"])
    assert 'onload="alert' not in parts.html


def test_one_cluster_layer_per_kind_built_in_the_browser() -> None:
    points = [point(i, kind_slug="coach" if i % 2 else "scout") for i in range(1, 101)]
    parts = render(points, center=MapCenter(51.45, 7.65, "Hagen", 25))
    assert parts.script.count("L.markerClusterGroup(") == 2  # kinds without partners get no layer
    rows = cluster_rows(parts)
    assert sorted(len(r) for r in rows) == [50, 50]
    assert all(len(row) == 3 and all(isinstance(v, (int, float)) for v in row) for r in rows for row in r)
    assert "L.circleMarker(" in parts.script
    assert parts.script.count("L.marker(") == 1  # the searched place only; partners are circle markers
    assert '"pn-marker pn-kind-" + kind.cls' in parts.script
    assert 'el("div", "pn-popup")' in parts.script
    assert "data-partner-id" in parts.script
    shown = [re.sub(r"<[^>]*>", "", n).strip() for n in layer_names(parts)]
    assert shown == ["Gesuchter Ort", "Innovationscoach", "Technologiescout"]
    assert "L.control.layers(" in parts.script


def test_search_radius_circle_and_fit() -> None:
    parts = render(center=MapCenter(51.36, 7.47, "Hagen", 25.0))
    assert parts.script.count("L.circle(") == 1
    assert '"radius": 25000.0' in parts.script
    bounds = json.loads(re.search(r"\.fitBounds\(\s*(\[\[.*?\]\])", parts.script, re.S).group(1))
    (south, west), (north, east) = bounds
    assert south < 51.36 < north and west < 7.47 < east
    assert north - south == pytest.approx(2 * 25 / 111.32, rel=1e-3)
    assert data_block(parts)["place"] == {"lat": 51.36, "lon": 7.47, "label": "Hagen"}
    assert "pn-legend-place" in parts.html


def test_without_radius_fits_points_and_without_center_draws_no_circle() -> None:
    parts = render([point(1, lat=51.0, lon=7.0), point(2, lat=51.5, lon=7.5)])
    assert "L.circle(" not in parts.script
    assert data_block(parts)["place"] is None
    bounds = json.loads(re.search(r"\.fitBounds\(\s*(\[\[.*?\]\])", parts.script, re.S).group(1))
    assert bounds == [[51.0, 7.0], [51.5, 7.5]]


def test_empty_map_uses_default_view() -> None:
    parts = render([], center=None, default_center=(51.0, 7.0), default_zoom=8)
    assert "fitBounds" not in parts.script
    assert "center: [51.0, 7.0]" in parts.script
    assert '"zoom": 8' in parts.script


def test_unplaceable_points_are_skipped() -> None:
    parts = render([point(1), point(2, lat=float("nan")), point(3, lon=None)])
    assert [p[0] for p in data_block(parts)["partners"]] == [1]


def test_labels_and_height_reach_the_page() -> None:
    labels = MapLabels(distance="Distance", profile="View profile", searched_place="Searched place")
    parts = render(labels=labels, height="60vh", center=MapCenter(51, 7, "x", 5))
    data = data_block(parts)
    assert data["labels"]["distance"] == "Distance" and data["labels"]["profile"] == "View profile"
    assert '.style.height = "60vh";' in parts.script
    assert "Searched place" in parts.html
    map_id = re.search(r'<div class="folium-map pn-map" id="(map_[0-9a-f]+)"></div>', parts.html).group(1)
    assert f'L.map(\n                "{map_id}"' in parts.script


# --- speed -----------------------------------------------------------------------


@pytest.mark.slow
def test_ten_thousand_points_build_fast() -> None:
    rnd = random.Random(1)
    slugs = ["coach", "scout", "evil"]
    points = [
        point(i, lat=rnd.uniform(50.7, 52.0), lon=rnd.uniform(6.8, 8.7), kind_slug=rnd.choice(slugs),
              distance_km=rnd.uniform(0, 80))
        for i in range(10_000)
    ]
    render(points[:10])  # template compilation is a one-off
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        parts = render(points, center=MapCenter(51.45, 7.65, "Hagen", 50))
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.5, timings
    assert len(data_block(parts)["partners"]) == 10_000
    assert len(everything(parts).encode()) < 1_500_000
