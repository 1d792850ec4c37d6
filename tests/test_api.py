"""JSON/GeoJSON API: /api/partners and /api/geocode."""
from __future__ import annotations

import pytest


def test_partners_geojson_near_postcode(client, make_partner):
    near = make_partner(name="Nah", latitude=51.2860, longitude=7.2940)
    far = make_partner(name="Fern", latitude=51.5136, longitude=7.4653, kind="technologiescout")
    response = client.get("/api/partners?near=58332&radius_km=50")
    assert response.status_code == 200
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    ids = [f["properties"]["id"] for f in body["features"]]
    assert ids == [near.id, far.id]
    first = body["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [7.2940, 51.2860]}
    props = first["properties"]
    for key in ("id", "name", "kind", "organisation", "topics", "region", "distance_km", "url"):
        assert key in props
    assert props["url"].endswith(f"/partner/{near.id}")
    assert props["distance_km"] < body["features"][1]["properties"]["distance_km"]


def test_partners_filters_and_lat_lon(client, make_partner):
    make_partner(name="A", topics=["it-sicherheit"], region="hagen")
    make_partner(name="B", topics=["e-commerce"], region="bochum")
    body = client.get("/api/partners?lat=51.29&lon=7.29&radius_km=20&topic=it-sicherheit").get_json()
    assert [f["properties"]["name"] for f in body["features"]] == ["A"]
    assert "distance_km" in body["features"][0]["properties"]
    body = client.get("/api/partners?region=bochum").get_json()
    assert [f["properties"]["name"] for f in body["features"]] == ["B"]
    assert "distance_km" not in body["features"][0]["properties"]
    body = client.get("/api/partners?q=a").get_json()
    assert {f["properties"]["name"] for f in body["features"]} >= {"A"}


@pytest.mark.parametrize(
    "query, field",
    [
        ("radius_km=abc", "radius_km"),
        ("radius_km=-5", "radius_km"),
        ("lat=51", "lon"),
        ("lat=100&lon=7", "lat"),
        ("kind=nope", "kind"),
        ("topic=nope", "topic"),
        ("region=nope", "region"),
        ("page=0", "page"),
        ("per_page=5000", "per_page"),
    ],
)
def test_invalid_parameters_get_400_naming_the_parameter(client, taxonomy, query, field):
    response = client.get(f"/api/partners?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and body["error"]


def test_unknown_place_is_404_with_suggestions(client, taxonomy):
    response = client.get("/api/partners?near=Schwlm")
    assert response.status_code == 404
    body = response.get_json()
    assert body["field"] == "near" and "Schwlm" in body["error"]


def test_geocode_endpoint(client):
    body = client.get("/api/geocode?q=58332").get_json()
    assert abs(body["lat"] - 51.29) < 0.05 and abs(body["lon"] - 7.29) < 0.05
    assert "Schwelm" in body["label"]
    response = client.get("/api/geocode?q=Gibtsnichtdorf")
    assert response.status_code == 404
    assert response.get_json()["error"].startswith("Ort oder PLZ nicht gefunden")
    response = client.get("/api/geocode")
    assert response.status_code == 400 and response.get_json()["field"] == "q"


def test_api_errors_in_english_when_asked(client, taxonomy):
    response = client.get("/api/partners?radius_km=abc", headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "radius" in response.get_json()["error"].lower()


def test_archived_partners_leave_the_api(client, make_partner):
    make_partner(name="Archiviert", is_archived=True)
    make_partner(name="Aktiv")
    names = [f["properties"]["name"] for f in client.get("/api/partners").get_json()["features"]]
    assert names == ["Aktiv"]
