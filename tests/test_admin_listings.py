"""Admin listings: list and filters, exports, create/edit with validation, archive/restore, merge, history, per role."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, null, select

from conftest import audit_count, csrf_from
from network.audit import AuditEntry
from network.clock import utcnow
from network.directory.csvio import partner_values
from network.directory.freshness import STALE_AFTER, is_stale
from network.directory.models import Partner
from network.extensions import db

XSS_NAME = "<img src=x onerror=alert(1)>`${alert(2)}`</script>"
ESCAPED_XSS = "&lt;img src=x onerror=alert(1)&gt;`${alert(2)}`&lt;/script&gt;"

DORTMUND = dict(region="dortmund", street="Kampstraße 1", postcode="44137", city="Dortmund",
                latitude=51.5139, longitude=7.4653)
BOCHUM = dict(region="bochum", street="Hauptstraße 1", postcode="44787", city="Bochum",
              latitude=51.4818, longitude=7.2162)


def form_data(partner: Partner, token: str, **changes: str) -> dict:
    """The edit form as a browser would post it, with changes on top."""
    values = partner_values(partner)
    values.pop("confirmed_at")
    values.update(changes)
    data: dict = {key: value for key, value in values.items() if key not in ("topics", "is_person")}
    data["topics"] = [slug for slug in values["topics"].split("|") if slug]
    if values["is_person"] == "ja":
        data["is_person"] = "ja"
    data["csrf_token"] = token
    return data


def token_of(client, path: str = "/admin/") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def api_ids(client, **args) -> set[int]:
    body = client.get("/api/partners", query_string={"per_page": 1000, **args}).get_json()
    return {feature["id"] for feature in body["features"]}


# --- the role × route matrix ---------------------------------------------------------------------


class _Users(dict):
    """Accounts by role, created on first use (password hashing is slow, most tests need one account)."""

    def __init__(self, make_user, a: Partner, b: Partner) -> None:
        super().__init__()
        self.factories = {
            "coach_a": lambda: make_user("coach", partner=a),
            "coach_b": lambda: make_user("coach", partner=b),
            "editor_other": lambda: make_user("editor", regions=["bochum"]),
            "editor": lambda: make_user("editor", regions=["dortmund"]),
            "admin": lambda: make_user("admin"),
        }

    def __missing__(self, role: str):
        self[role] = self.factories[role]()
        return self[role]


@pytest.fixture()
def world(make_partner, make_user):
    """Listing A (Dortmund) with coach A, listing B (Dortmund) with coach B, and one account per role."""
    a = make_partner(name="Anna Alpha", **DORTMUND)
    b = make_partner(name="Bernd Beta", **DORTMUND)
    return {"a": a, "b": b, "users": _Users(make_user, a, b)}


# (method, path template, expected status per role); {a} is listing A's id.
MATRIX = [
    ("GET", "/admin/eintraege",
     dict(anonymous=302, coach_a=302, coach_b=302, editor_other=200, editor=200, admin=200)),
    ("GET", "/admin/eintraege.csv",
     dict(anonymous=302, coach_a=403, coach_b=403, editor_other=200, editor=200, admin=200)),
    ("GET", "/admin/eintraege.geojson",
     dict(anonymous=302, coach_a=403, coach_b=403, editor_other=200, editor=200, admin=200)),
    ("GET", "/admin/eintraege/neu",
     dict(anonymous=302, coach_a=403, coach_b=403, editor_other=200, editor=200, admin=200)),
    ("GET", "/admin/eintraege/{a}",
     dict(anonymous=302, coach_a=200, coach_b=403, editor_other=403, editor=200, admin=200)),
    ("POST", "/admin/eintraege/{a}",
     dict(anonymous=302, coach_a=302, coach_b=403, editor_other=403, editor=302, admin=302)),
    ("GET", "/admin/eintraege/{a}/verlauf",
     dict(anonymous=302, coach_a=200, coach_b=403, editor_other=403, editor=200, admin=200)),
    ("POST", "/admin/eintraege/{a}/archivieren",
     dict(anonymous=302, coach_a=403, coach_b=403, editor_other=403, editor=302, admin=302)),
    ("POST", "/admin/eintraege/{a}/wiederherstellen",
     dict(anonymous=302, coach_a=403, coach_b=403, editor_other=403, editor=302, admin=302)),
    ("GET", "/admin/eintraege/{a}/zusammenfuehren",
     dict(anonymous=302, coach_a=403, coach_b=403, editor_other=403, editor=200, admin=200)),
    ("POST", "/admin/eintraege/{a}/zusammenfuehren",
     dict(anonymous=302, coach_a=403, coach_b=403, editor_other=403, editor=200, admin=200)),
]
ROLES = ["anonymous", "coach_a", "coach_b", "editor_other", "editor", "admin"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,expected", MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_route_by_role(client, world, login, role, method, path, expected):
    a, b = world["a"], world["b"]
    if role != "anonymous":
        login(world["users"][role])
    token = csrf_from(client.get("/anmelden" if role == "anonymous" else "/admin/").get_data(as_text=True))
    url = path.format(a=a.id)
    if method == "GET":
        response = client.get(url)
    elif url.endswith("zusammenfuehren"):
        response = client.post(url, data={"duplicate_id": str(b.id), "csrf_token": token})  # the preview step
    elif url == f"/admin/eintraege/{a.id}":
        response = client.post(url, data=form_data(a, token, phone="+49 231 1111"))
    else:
        response = client.post(url, data={"csrf_token": token})
    assert response.status_code == expected[role], response.get_data(as_text=True)[:400]
    if role == "anonymous":
        assert "/anmelden" in response.headers["Location"]


def test_coaches_are_sent_to_their_own_listing_or_refused(client, world, make_user, login):
    login(world["users"]["coach_b"])
    response = client.get("/admin/eintraege")
    assert response.headers["Location"].endswith(f"/admin/eintraege/{world['b'].id}")


def test_coach_without_listing_gets_403_on_the_list(client, make_user, login):
    login(make_user("coach"))
    assert client.get("/admin/eintraege").status_code == 403


@pytest.mark.parametrize("path", ["/admin/eintraege/{id}", "/admin/eintraege/{id}/verlauf",
                                  "/admin/eintraege/{id}/zusammenfuehren"])
def test_missing_listing_is_404(client, make_user, login, path):
    login(make_user("admin"))
    assert client.get(path.format(id=999999)).status_code == 404


@pytest.mark.parametrize("path", ["/admin/eintraege/{id}", "/admin/eintraege/{id}/archivieren",
                                  "/admin/eintraege/{id}/wiederherstellen", "/admin/eintraege/{id}/zusammenfuehren"])
def test_missing_listing_is_404_on_post(client, make_user, login, path):
    login(make_user("admin"))
    assert client.post(path.format(id=999999), data={"csrf_token": token_of(client)}).status_code == 404


@pytest.mark.parametrize("path", ["/admin/eintraege/{id}", "/admin/eintraege/{id}/archivieren",
                                  "/admin/eintraege/neu", "/admin/eintraege/{id}/zusammenfuehren"])
def test_posts_without_csrf_token_are_400(client, world, login, path):
    login(world["users"]["admin"])
    response = client.post(path.format(id=world["a"].id), data={"name": "X", "duplicate_id": str(world["b"].id),
                                                                "confirm": "1"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Partner, world["a"].id).is_archived is False
    assert db.session.get(Partner, world["b"].id).is_archived is False


# --- list and filters ------------------------------------------------------------------------------


def test_editor_sees_only_their_regions_listings(client, make_partner, make_user, login):
    mine = make_partner(name="Dora Dortmund", **DORTMUND)
    other = make_partner(name="Boris Bochum", **BOCHUM)
    login(make_user("editor", regions=["dortmund"]))
    html = client.get("/admin/eintraege").get_data(as_text=True)
    assert mine.name in html and other.name not in html
    # Asking for another region's listings by filter shows nothing either.
    html = client.get("/admin/eintraege?region=bochum").get_data(as_text=True)
    assert other.name not in html


def test_admin_sees_all_and_filters_by_region_kind_topic_and_text(client, make_partner, make_user, login):
    d = make_partner(name="Dora Dortmund", kind="innovationscoach", topics=["it-sicherheit"], **DORTMUND)
    b = make_partner(name="Boris Bochum", kind="technologiescout", topics=["prozessoptimierung"], **BOCHUM)
    login(make_user("admin"))

    def names(query: str) -> set[str]:
        html = client.get("/admin/eintraege" + query).get_data(as_text=True)
        return {n for n in (d.name, b.name) if n in html}

    assert names("") == {d.name, b.name}
    assert names("?region=dortmund") == {d.name}
    assert names("?kind=technologiescout") == {b.name}
    assert names("?topic=it-sicherheit") == {d.name}
    assert names("?q=boris") == {b.name}
    assert names("?q=dortmund") == {d.name}  # the city is searched too


def test_stale_listings_are_flagged_and_filtered(client, make_partner, make_user, login):
    now = utcnow()
    fresh = make_partner(name="Frieda Frisch", confirmed_at=now - timedelta(days=30), **DORTMUND)
    stale = make_partner(name="Otto Alt", confirmed_at=now - STALE_AFTER - timedelta(days=1), **DORTMUND)
    # null(), not None: the column default would otherwise fill in "now".
    never = make_partner(name="Nina Nie", confirmed_at=null(), **DORTMUND)
    db.session.expire_all()
    assert not is_stale(fresh, now) and is_stale(stale, now) and is_stale(never, now)
    login(make_user("editor", regions=["dortmund"]))

    html = client.get("/admin/eintraege").get_data(as_text=True)
    row = html[html.index(stale.name):]
    row = row[:row.index("</tr>")]
    assert "veraltet" in row and "zuletzt bestätigt am" in row
    row = html[html.index(fresh.name):]
    assert "veraltet" not in row[:row.index("</tr>")]

    html = client.get("/admin/eintraege?stale=1").get_data(as_text=True)
    assert stale.name in html and never.name in html and fresh.name not in html


def test_archived_filter(client, make_partner, make_user, login):
    active = make_partner(name="Aktiv Anton", **DORTMUND)
    archived = make_partner(name="Archiv Anja", is_archived=True, **DORTMUND)
    login(make_user("admin"))
    html = client.get("/admin/eintraege").get_data(as_text=True)
    assert active.name in html and archived.name not in html
    html = client.get("/admin/eintraege?archived=only").get_data(as_text=True)
    assert active.name not in html and archived.name in html
    html = client.get("/admin/eintraege?archived=include").get_data(as_text=True)
    assert active.name in html and archived.name in html and "archiviert" in html


def test_list_is_paginated(client, make_partner, make_user, login):
    from network.admin.listings_routes import PER_PAGE

    for i in range(PER_PAGE + 3):
        make_partner(name=f"Partner {i:03d}", **DORTMUND)
    login(make_user("admin"))
    first = client.get("/admin/eintraege").get_data(as_text=True)
    assert "Partner 000" in first and f"Partner {PER_PAGE:03d}" not in first
    assert "Seite 1 von 2" in first and "page=2" in first
    second = client.get("/admin/eintraege?page=2").get_data(as_text=True)
    assert f"Partner {PER_PAGE:03d}" in second and "Partner 000" not in second
    assert client.get("/admin/eintraege?page=abc").status_code == 200


# --- exports ---------------------------------------------------------------------------------------


def _csv_rows(response) -> list[dict[str, str]]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_csv_export_follows_the_filter_and_is_an_attachment(client, make_partner, make_user, login):
    d = make_partner(name="Dora Dortmund", kind="innovationscoach", **DORTMUND)
    b = make_partner(name="Boris Bochum", kind="technologiescout", **BOCHUM)
    archived = make_partner(name="Archiv Anja", is_archived=True, **DORTMUND)
    login(make_user("admin"))

    response = client.get("/admin/eintraege.csv?region=dortmund")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert [row["name"] for row in _csv_rows(response)] == [d.name]

    assert {row["name"] for row in _csv_rows(client.get("/admin/eintraege.csv"))} == {d.name, b.name}
    assert [row["name"] for row in _csv_rows(client.get("/admin/eintraege.csv?kind=technologiescout"))] == [b.name]
    assert [row["name"] for row in _csv_rows(client.get("/admin/eintraege.csv?archived=only"))] == [archived.name]


def test_csv_export_of_an_editor_holds_only_their_regions(client, make_partner, make_user, login):
    d = make_partner(name="Dora Dortmund", **DORTMUND)
    make_partner(name="Boris Bochum", **BOCHUM)
    login(make_user("editor", regions=["dortmund"]))
    assert [row["name"] for row in _csv_rows(client.get("/admin/eintraege.csv"))] == [d.name]


def test_csv_export_neutralises_formulas_and_keeps_the_xss_name_as_text(client, make_partner, make_user, login):
    make_partner(name=XSS_NAME, **DORTMUND)
    make_partner(name='=HYPERLINK("http://evil.example/","klick")', phone="@SUM(1+1)", **DORTMUND)
    login(make_user("admin"))
    response = client.get("/admin/eintraege.csv")
    raw = response.get_data().decode("utf-8-sig")
    rows = _csv_rows(response)
    names = {row["name"] for row in rows}
    assert XSS_NAME in names  # the CSV carries the name verbatim, as data
    assert "'=HYPERLINK(\"http://evil.example/\",\"klick\")" in names
    assert "'@SUM(1+1)" in {row["phone"] for row in rows}
    assert "\n=" not in raw and ";=" not in raw and ";@" not in raw
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_geojson_export_follows_the_filter_with_the_public_feature_shape(client, make_partner, make_user, login):
    d = make_partner(name="Dora Dortmund", topics=["it-sicherheit"], **DORTMUND)
    b = make_partner(name="Boris Bochum", topics=["prozessoptimierung"], **BOCHUM)
    public = {f["id"]: f for f in client.get("/api/partners").get_json()["features"]}
    login(make_user("admin"))

    response = client.get("/admin/eintraege.geojson?topic=it-sicherheit")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = json.loads(response.get_data(as_text=True))
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == [d.id]
    feature = body["features"][0]
    assert feature["geometry"] == public[d.id]["geometry"] == {"type": "Point", "coordinates": [7.4653, 51.5139]}
    for key, value in public[d.id]["properties"].items():
        assert feature["properties"][key] == value
    assert feature["properties"]["is_archived"] is False

    body = client.get("/admin/eintraege.geojson?region=bochum").get_json(force=True)
    assert [f["id"] for f in body["features"]] == [b.id]


# --- create and edit -------------------------------------------------------------------------------


def test_editor_creates_a_listing_geocoded_from_the_address(client, make_user, login):
    editor = make_user("editor", regions=["dortmund"])
    login(editor)
    token = token_of(client, "/admin/eintraege/neu")
    response = client.post("/admin/eintraege/neu", data={
        "name": "Neue Beraterin", "kind": "innovationscoach", "organisation": "Wirtschaftsförderung Dortmund",
        "region": "dortmund", "topics": ["it-sicherheit", "datenanalyse-ki"], "street": "", "postcode": "44137",
        "city": "Dortmund", "latitude": "", "longitude": "", "service_radius_km": "30", "email": "neu@example.org",
        "phone": "0231 123", "website": "www.example.org", "languages": "de, en", "description": "Hallo",
        "is_person": "ja", "csrf_token": token,
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    partner = db.session.scalar(select(Partner).where(Partner.name == "Neue Beraterin"))
    assert partner is not None and partner.region.slug == "dortmund"
    assert abs(partner.latitude - 51.51) < 0.1 and abs(partner.longitude - 7.46) < 0.15
    assert sorted(t.slug for t in partner.topics) == ["datenanalyse-ki", "it-sicherheit"]
    assert partner.website == "https://www.example.org" and partner.languages == "de,en"
    assert partner.organisation.name == "Wirtschaftsförderung Dortmund"
    assert response.headers["Location"].endswith(f"/admin/eintraege/{partner.id}")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_id == partner.id))
    assert entry.action == "create" and entry.actor_id == editor.id


def test_editor_cannot_create_in_another_region(client, make_user, login):
    login(make_user("editor", regions=["dortmund"]))
    token = token_of(client, "/admin/eintraege/neu")
    response = client.post("/admin/eintraege/neu", data={
        "name": "Fremd", "kind": "innovationscoach", "region": "bochum", "postcode": "44787", "city": "Bochum",
        "csrf_token": token})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(Partner.id))) == 0


def test_new_listing_form_offers_only_the_editors_regions(client, make_user, login):
    login(make_user("editor", regions=["dortmund"]))
    html = client.get("/admin/eintraege/neu").get_data(as_text=True)
    assert 'value="dortmund" selected' in html and 'value="bochum"' not in html


def test_validation_errors_name_the_field_keep_the_input_and_change_nothing(client, make_partner, make_user, login):
    partner = make_partner(name="Dora Dortmund", **DORTMUND)
    before = partner_values(partner)
    audits = audit_count()
    login(make_user("editor", regions=["dortmund"]))
    token = token_of(client)
    response = client.post(f"/admin/eintraege/{partner.id}", data=form_data(
        partner, token, name="Dora Neu", email="kein-mail", postcode="12", service_radius_km="9999"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="field-email-error"' in html and "„kein-mail“ ist keine gültige E-Mail-Adresse." in html
    assert 'id="field-postcode-error"' in html and "fünfstellige Postleitzahl" in html
    assert 'id="field-service_radius_km-error"' in html
    assert 'href="#field-email"' in html  # the summary links to the field
    assert 'value="kein-mail"' in html and 'value="Dora Neu"' in html  # what the user typed stays
    db.session.expire_all()
    assert partner_values(db.session.get(Partner, partner.id)) == before
    assert audit_count() == audits


def test_new_listing_with_errors_writes_nothing(client, make_user, login):
    login(make_user("admin"))
    token = token_of(client, "/admin/eintraege/neu")
    response = client.post("/admin/eintraege/neu", data={
        "name": "", "kind": "", "region": "dortmund", "city": "Nirgendwohausen", "csrf_token": token})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="field-name-error"' in html and "Der Name fehlt." in html
    assert 'id="field-kind-error"' in html
    assert 'value="Nirgendwohausen"' in html
    assert db.session.scalar(select(func.count(Partner.id))) == 0
    assert audit_count() == 0


def test_address_change_regeocodes_but_typed_coordinates_win(client, make_partner, make_user, login):
    partner = make_partner(name="Dora Dortmund", **DORTMUND)
    login(make_user("editor", regions=["dortmund"]))
    token = token_of(client)
    # New town, old coordinates: the service geocodes the new address.
    response = client.post(f"/admin/eintraege/{partner.id}", data=form_data(
        partner, token, street="", postcode="44787", city="Bochum", region="dortmund"))
    assert response.status_code == 302
    db.session.expire_all()
    partner = db.session.get(Partner, partner.id)
    assert abs(partner.latitude - 51.48) < 0.05 and abs(partner.longitude - 7.22) < 0.08
    # Coordinates typed (or dragged) by the editor are kept as given, decimal comma included.
    response = client.post(f"/admin/eintraege/{partner.id}", data=form_data(
        partner, token, latitude="51,5", longitude="7,45"))
    assert response.status_code == 302
    db.session.expire_all()
    partner = db.session.get(Partner, partner.id)
    assert (partner.latitude, partner.longitude) == (51.5, 7.45)


def test_editor_cannot_move_a_listing_to_a_foreign_region(client, make_partner, make_user, login):
    partner = make_partner(name="Dora Dortmund", **DORTMUND)
    login(make_user("editor", regions=["dortmund"]))
    response = client.post(f"/admin/eintraege/{partner.id}", data=form_data(partner, token_of(client), region="bochum"))
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Partner, partner.id).region.slug == "dortmund"


def test_coach_sees_and_changes_only_the_coach_fields(client, make_partner, make_user, login):
    partner = make_partner(name="Carla Coach", kind="innovationscoach", **DORTMUND)
    login(make_user("coach", partner=partner))
    html = client.get(f"/admin/eintraege/{partner.id}").get_data(as_text=True)
    assert 'name="phone"' in html and 'name="topics"' in html and 'name="latitude"' in html
    assert 'name="name"' not in html and 'name="kind"' not in html and 'name="region"' not in html
    assert 'name="organisation"' not in html and 'name="is_person"' not in html
    assert "Archivieren" not in html
    response = client.post(f"/admin/eintraege/{partner.id}", data=form_data(
        partner, token_of(client), name="Umbenannt", kind="technologiescout", region="bochum", phone="0231 999"))
    assert response.status_code == 302
    db.session.expire_all()
    partner = db.session.get(Partner, partner.id)
    assert partner.phone == "0231 999"
    assert partner.name == "Carla Coach" and partner.kind.slug == "innovationscoach"
    assert partner.region.slug == "dortmund"


def test_coach_b_cannot_edit_coach_a_listing(client, make_partner, make_user, login):
    a = make_partner(name="Anna Alpha", **DORTMUND)
    b = make_partner(name="Bernd Beta", **DORTMUND)
    make_user("coach", partner=a)
    login(make_user("coach", partner=b))
    response = client.post(f"/admin/eintraege/{a.id}", data=form_data(a, token_of(client), phone="0000"))
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Partner, a.id).phone == "+49 2336 0000"


def test_saving_confirms_the_listing(client, make_partner, make_user, login):
    partner = make_partner(name="Otto Alt", confirmed_at=utcnow() - timedelta(days=400), **DORTMUND)
    login(make_user("editor", regions=["dortmund"]))
    assert "veraltet" in client.get(f"/admin/eintraege/{partner.id}").get_data(as_text=True)
    client.post(f"/admin/eintraege/{partner.id}", data=form_data(partner, token_of(client)))
    db.session.expire_all()
    assert not is_stale(db.session.get(Partner, partner.id), utcnow())


# --- archive and restore ---------------------------------------------------------------------------


def test_archive_removes_from_map_and_api_and_restore_brings_it_back(client, make_partner, make_user, login):
    partner = make_partner(name="Dora Dortmund", **DORTMUND)
    assert partner.id in api_ids(client)
    login(make_user("editor", regions=["dortmund"]))
    token = token_of(client)

    response = client.post(f"/admin/eintraege/{partner.id}/archivieren", data={"csrf_token": token})
    assert response.status_code == 302
    assert partner.id not in api_ids(client)
    assert client.get(f"/partner/{partner.id}").status_code == 404
    assert partner.name not in client.get("/karte").get_data(as_text=True)
    html = client.get(f"/admin/eintraege/{partner.id}").get_data(as_text=True)
    assert "archiviert" in html and "Wiederherstellen" in html

    response = client.post(f"/admin/eintraege/{partner.id}/wiederherstellen", data={"csrf_token": token})
    assert response.status_code == 302
    assert partner.id in api_ids(client)
    assert client.get(f"/partner/{partner.id}").status_code == 200
    actions = list(db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == partner.id)
                                      .order_by(AuditEntry.id)))
    assert actions == ["archive", "restore"]


# --- merge -----------------------------------------------------------------------------------------


def test_merge_offers_similar_nearby_listings_and_merges_after_confirmation(client, make_partner, make_user, login):
    keep = make_partner(name="Dr. Maria Müller", topics=["it-sicherheit"], website="", **DORTMUND)
    dup = make_partner(name="Maria Mueller", topics=["prozessoptimierung"], website="https://mm.example.org",
                       **DORTMUND)
    unrelated = make_partner(name="Zacharias Zander", phone="0231 55555", **DORTMUND)
    far = make_partner(name="Maria Müller", region="dortmund", city="Berlin", postcode="10115",
                       latitude=52.52, longitude=13.40)
    coach = make_user("coach", partner=dup)
    login(make_user("editor", regions=["dortmund"]))

    html = client.get(f"/admin/eintraege/{keep.id}/zusammenfuehren").get_data(as_text=True)
    assert f'value="{dup.id}"' in html
    assert f'value="{unrelated.id}"' not in html and f'value="{far.id}"' not in html

    token = token_of(client)
    preview = client.post(f"/admin/eintraege/{keep.id}/zusammenfuehren",
                          data={"candidate": str(dup.id), "csrf_token": token})
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "Jetzt zusammenführen" in text and "Website" in text
    db.session.expire_all()
    assert db.session.get(Partner, dup.id).is_archived is False  # nothing happens before the confirmation

    response = client.post(f"/admin/eintraege/{keep.id}/zusammenfuehren",
                           data={"duplicate_id": str(dup.id), "confirm": "1", "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    keep, dup = db.session.get(Partner, keep.id), db.session.get(Partner, dup.id)
    assert dup.is_archived and dup.merged_into_id == keep.id
    assert {t.slug for t in keep.topics} == {"it-sicherheit", "prozessoptimierung"}
    assert keep.website == "https://mm.example.org"
    assert db.session.get(type(coach), coach.id).partner_id == keep.id
    assert dup.id not in api_ids(client) and keep.id in api_ids(client)
    history = client.get(f"/admin/eintraege/{keep.id}/verlauf").get_data(as_text=True)
    assert f"Zusammengeführt mit #{dup.id}" in history


def test_merge_refuses_bad_choices_with_a_field_error(client, make_partner, make_user, login):
    keep = make_partner(name="Dora Dortmund", **DORTMUND)
    login(make_user("admin"))
    token = token_of(client)
    url = f"/admin/eintraege/{keep.id}/zusammenfuehren"
    for data, message in [
        ({}, "Bitte wählen Sie einen Eintrag"),
        ({"duplicate_id": "abc"}, "keine Eintragsnummer"),
        ({"duplicate_id": "999999", "confirm": "1"}, "Es gibt keinen Eintrag mit der Nummer 999999."),
        ({"duplicate_id": str(keep.id), "confirm": "1"}, "nicht mit sich selbst"),
    ]:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert 'id="field-duplicate_id-error"' in html and message in html
    db.session.expire_all()
    assert db.session.get(Partner, keep.id).is_archived is False


def test_editor_cannot_merge_a_listing_of_another_region(client, make_partner, make_user, login):
    keep = make_partner(name="Dora Dortmund", **DORTMUND)
    foreign = make_partner(name="Dora Dortmund", **BOCHUM)
    login(make_user("editor", regions=["dortmund"]))
    html = client.get(f"/admin/eintraege/{keep.id}/zusammenfuehren").get_data(as_text=True)
    assert f'value="{foreign.id}"' not in html  # not offered
    response = client.post(f"/admin/eintraege/{keep.id}/zusammenfuehren",
                           data={"duplicate_id": str(foreign.id), "confirm": "1", "csrf_token": token_of(client)})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Partner, foreign.id).is_archived is False


# --- history ---------------------------------------------------------------------------------------


def test_history_shows_before_and_after_newest_first(client, make_partner, make_user, login):
    partner = make_partner(name="Dora Dortmund", phone="0231 111", **DORTMUND)
    editor = make_user("editor", regions=["dortmund"], name="Erika Editor")
    login(editor)
    token = token_of(client)
    client.post(f"/admin/eintraege/{partner.id}", data=form_data(partner, token, phone="0231 222"))
    db.session.expire_all()
    partner = db.session.get(Partner, partner.id)
    client.post(f"/admin/eintraege/{partner.id}", data=form_data(partner, token, email="neu@example.org"))

    html = client.get(f"/admin/eintraege/{partner.id}/verlauf").get_data(as_text=True)
    assert "Erika Editor" in html
    email_at, phone_at = html.index('data-field="email"'), html.index('data-field="phone"')
    assert email_at < phone_at  # newest first
    row = html[phone_at:html.index("</tr>", phone_at)]
    assert "Telefon" in row
    assert row.index("0231 111") < row.index("→") < row.index("0231 222")
    assert "geändert" in html


def test_history_of_another_listing_is_not_shown(client, make_partner, make_user, login):
    a = make_partner(name="Anna Alpha", **DORTMUND)
    b = make_partner(name="Bernd Beta", **DORTMUND)
    login(make_user("admin"))
    token = token_of(client)
    client.post(f"/admin/eintraege/{b.id}", data=form_data(b, token, phone="0231 777"))
    assert "0231 777" not in client.get(f"/admin/eintraege/{a.id}/verlauf").get_data(as_text=True)


# --- the XSS name ----------------------------------------------------------------------------------


def test_xss_name_renders_as_text_in_list_form_and_history(client, make_user, login):
    login(make_user("admin"))
    token = token_of(client, "/admin/eintraege/neu")
    response = client.post("/admin/eintraege/neu", data={
        "name": XSS_NAME, "kind": "innovationscoach", "region": "dortmund", "postcode": "44137",
        "city": "Dortmund", "organisation": XSS_NAME, "description": XSS_NAME, "is_person": "ja",
        "csrf_token": token})
    assert response.status_code == 302
    partner = db.session.scalar(select(Partner).where(Partner.name == XSS_NAME))
    client.post(f"/admin/eintraege/{partner.id}", data=form_data(partner, token, phone="0231 1"))

    for path in ("/admin/eintraege", f"/admin/eintraege/{partner.id}", f"/admin/eintraege/{partner.id}/verlauf",
                 f"/admin/eintraege/{partner.id}/zusammenfuehren"):
        html = client.get(path).get_data(as_text=True)
        assert ESCAPED_XSS in html, path
        assert "<img src=x" not in html, path
        assert "`</script>" not in html, path
    # A failed save re-renders the typed name escaped as well.
    response = client.post(f"/admin/eintraege/{partner.id}", data=form_data(partner, token, email="x"))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and ESCAPED_XSS in html and "<img src=x" not in html


def test_an_archived_listing_cannot_take_a_duplicate(client, make_partner, make_user, login):
    keep = make_partner(name="Dora Dortmund", is_archived=True, **DORTMUND)
    dup = make_partner(name="Dora Dortmund", **DORTMUND)
    login(make_user("admin"))
    response = client.post(f"/admin/eintraege/{keep.id}/zusammenfuehren",
                           data={"duplicate_id": str(dup.id), "confirm": "1", "csrf_token": token_of(client)})
    assert response.status_code == 400
    assert "zuerst wieder her" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Partner, dup.id).is_archived is False


def test_history_shows_instants_as_dates_not_iso_text(client, make_partner, make_user, login):
    partner = make_partner(name="Dora Dortmund", **DORTMUND)
    login(make_user("admin"))
    client.post(f"/admin/eintraege/{partner.id}", data=form_data(partner, token_of(client), phone="0231 5"))
    html = client.get(f"/admin/eintraege/{partner.id}/verlauf").get_data(as_text=True)
    row = html[html.index('data-field="confirmed_at"'):]
    row = row[:row.index("</tr>")]
    after = row.split('class="after">')[1].split("</td>")[0]
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2}", after.strip()), after
