"""Directory pages: start page search, full map, profile, errors, German first and English on request."""
from __future__ import annotations

import re

import pytest

XSS = "<img src=x onerror=alert(1)>`${alert(2)}`</script>"


def test_start_page_searches_by_postcode_nearest_first(client, make_partner):
    near = make_partner(name="Anna Nah", latitude=51.2860, longitude=7.2940)
    far = make_partner(name="Bernd Fern", latitude=51.5136, longitude=7.4653, city="Dortmund", postcode="44135")
    response = client.get("/?near=58332&radius_km=50")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index("Anna Nah") < html.index("Bernd Fern")
    assert f'href="/partner/{near.id}"' in html and f'href="/partner/{far.id}"' in html
    assert "km entfernt" in html
    assert 'lang="de"' in html


def test_filters_narrow_the_list(client, make_partner):
    make_partner(name="Coach Prozess", topics=["prozessoptimierung"])
    make_partner(name="Scout Sicherheit", kind="technologiescout", topics=["it-sicherheit"])
    html = client.get("/?near=Schwelm&topic=it-sicherheit").get_data(as_text=True)
    assert "Scout Sicherheit" in html and "Coach Prozess" not in html
    html = client.get("/?near=Schwelm&kind=innovationscoach").get_data(as_text=True)
    assert "Coach Prozess" in html and "Scout Sicherheit" not in html


def test_radius_excludes_far_partners(client, make_partner):
    make_partner(name="Siegener Scout", latitude=50.8748, longitude=8.0243, city="Siegen")
    html = client.get("/?near=58332&radius_km=10").get_data(as_text=True)
    assert "Siegener Scout" not in html
    html = client.get("/?near=58332&radius_km=100").get_data(as_text=True)
    assert "Siegener Scout" in html


def test_partner_outside_service_radius_is_marked(client, make_partner):
    make_partner(name="Kleiner Radius", latitude=50.8748, longitude=8.0243, service_radius_km=5)
    html = client.get("/?near=58332&radius_km=100").get_data(as_text=True)
    assert "außerhalb des Einsatzgebiets" in html


def test_unknown_place_gets_message_and_suggestions_not_500(client, make_partner):
    make_partner()
    response = client.get("/?near=Schwlm")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Ort oder PLZ nicht gefunden: Schwlm" in html
    assert "Schwelm" in html  # suggestion


@pytest.mark.parametrize(
    "query, field_label",
    [("radius_km=abc", "Umkreis"), ("kind=unbekannt", "Art"), ("topic=xyz", "Thema"), ("lat=91&lon=7", "Breitengrad")],
)
def test_bad_parameters_name_the_field(client, taxonomy, query, field_label):
    response = client.get(f"/?{query}")
    assert response.status_code == 400
    assert field_label in response.get_data(as_text=True)


def test_profile_shows_contact_details_and_escapes_text(client, make_partner):
    partner = make_partner(name=XSS, description=XSS, email="anna@example.org", phone="+49 2336 000000")
    response = client.get(f"/partner/{partner.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "anna@example.org" in html and "+49 2336 000000" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_list_escapes_partner_names(client, make_partner):
    make_partner(name=XSS)
    html = client.get("/?near=58332").get_data(as_text=True)
    assert "<img src=x" not in html
    body_outside_scripts = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert "&lt;img src=x onerror=alert(1)&gt;" in body_outside_scripts


def test_archived_partner_has_no_profile(client, make_partner):
    partner = make_partner(is_archived=True)
    assert client.get(f"/partner/{partner.id}").status_code == 404
    assert client.get("/partner/999999").status_code == 404


def test_full_map_page_renders_map_and_list(client, make_partner):
    make_partner(name="Kartenpartner")
    response = client.get("/karte?near=58332")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Kartenpartner" in html
    assert "/static/vendor/leaflet/" in html


def test_url_carries_the_search_in_pagination(client, make_partner):
    for i in range(25):
        make_partner(name=f"Partner {i:02d}", latitude=51.2857 + i * 0.001)
    html = client.get("/?near=58332&topic=prozessoptimierung").get_data(as_text=True)
    assert "page=2" in html and "topic=prozessoptimierung" in html and "near=58332" in html
    page2 = client.get("/?near=58332&topic=prozessoptimierung&page=2").get_data(as_text=True)
    page2 = re.sub(r"<script.*?</script>", "", page2, flags=re.S)  # the map carries every hit
    assert "Partner 24" in page2 and "Partner 00" not in page2


def test_english_from_browser_and_switch_is_remembered(client, make_partner):
    make_partner()
    html = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in html and "Search" in html
    html = client.get("/").get_data(as_text=True)  # no header: German default
    assert 'lang="de"' in html and "Suchen" in html
    # Switching needs the form's CSRF token.
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post("/sprache", data={"lang": "en", "next": "/"}).status_code == 400
    response = client.post("/sprache", data={"lang": "en", "next": "/", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_language_switch_refuses_open_redirect(client, taxonomy):
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/sprache", data={"lang": "de", "next": "//evil.example", "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_security_headers_and_script_nonce(client, make_partner):
    make_partner()
    response = client.get("/?near=58332")
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline_scripts and all(f'nonce="{nonce}"' in attrs for attrs in inline_scripts)


def test_demo_banner_only_with_demo_data(client, make_partner):
    make_partner()
    assert "Demo-Daten" not in client.get("/").get_data(as_text=True)
    make_partner(is_demo=True)
    assert "Demo-Daten" in client.get("/").get_data(as_text=True)
