"""Write API for scripts: bearer tokens, the forms' validation and permissions, JSON errors naming the field."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from conftest import partner_count
from network.accounts.models import ApiToken
from network.audit import AuditEntry
from network.clock import utcnow
from network.directory.demo import XSS_DEMO_NAME
from network.directory.models import Partner
from network.extensions import db

NEW = {
    "name": "Erika Musterfrau",
    "kind": "innovationscoach",
    "organisation": "Wirtschaftsförderung Dortmund",
    "region": "dortmund",
    "topics": ["prozessoptimierung", "it-sicherheit"],
    "street": "Töllnerstraße 9",
    "postcode": "44135",
    "city": "Dortmund",
    "email": "erika@example.org",
    "service_radius_km": 40,
    "is_person": True,
}


@pytest.fixture()
def issue_token():
    def _issue(user, name: str = "Skript") -> str:
        token, plain = ApiToken.issue(user, name)
        db.session.add(token)
        db.session.commit()
        return plain

    return _issue


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def editor_token(make_user, issue_token):
    editor = make_user("editor", regions=["dortmund"])
    return editor, issue_token(editor)


# --- authentication ---------------------------------------------------------------------------------


def test_401_without_token_with_bad_token_and_with_revoked_token(client, make_user, issue_token):
    admin = make_user("admin")
    plain = issue_token(admin)
    for headers in ({}, {"Authorization": "Bearer pn_falsch"}, {"Authorization": f"Basic {plain}"}):
        response = client.post("/api/partners", json=NEW, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    row = db.session.scalar(select(ApiToken))
    row.revoked_at = utcnow()
    db.session.commit()
    response = client.post("/api/partners", json=NEW, headers=bearer(plain))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert partner_count() == 0


def test_token_of_a_disabled_user_is_refused(client, make_user, issue_token):
    admin = make_user("admin")
    plain = issue_token(admin)
    admin.is_enabled = False
    db.session.commit()
    assert client.post("/api/partners", json=NEW, headers=bearer(plain)).status_code == 401
    assert partner_count() == 0


def test_coach_cannot_get_a_token_and_a_smuggled_one_does_not_work(client, make_user, make_partner, login,
                                                                   issue_token):
    own = make_partner(region="dortmund")
    coach = make_user("coach", partner=own)
    login(coach)
    assert client.get("/konto/tokens").status_code == 403
    plain = issue_token(coach)  # as if written into the database by hand
    assert client.patch(f"/api/partners/{own.id}", json={"city": "Hagen"}, headers=bearer(plain)).status_code == 401


def test_session_cookie_alone_is_not_enough(client, make_user, login):
    admin = make_user("admin")
    login(admin)
    response = client.post("/api/partners", json=NEW)
    assert response.status_code == 401
    assert partner_count() == 0


# --- create -----------------------------------------------------------------------------------------


def test_editor_creates_in_own_region_201_with_location_and_feature(client, editor_token):
    editor, plain = editor_token
    response = client.post("/api/partners", json=NEW, headers=bearer(plain))  # no CSRF token needed
    assert response.status_code == 201, response.get_json()
    feature = response.get_json()
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
    props = feature["properties"]
    assert props["name"] == "Erika Musterfrau" and props["region"] == "dortmund"
    assert props["topics"] == ["prozessoptimierung", "it-sicherheit"]
    assert props["service_radius_km"] == 40 and props["is_archived"] is False
    assert response.headers["Location"].endswith(f"/api/partners/{feature['id']}")
    partner = db.session.get(Partner, feature["id"])
    assert partner.city == "Dortmund" and 51.4 < partner.latitude < 51.6  # geocoded offline
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_id == partner.id))
    assert entry.action == "create" and entry.actor_id == editor.id
    # The Location answers with the same document.
    again = client.get(response.headers["Location"], headers=bearer(plain))
    assert again.status_code == 200 and again.get_json()["properties"]["name"] == "Erika Musterfrau"


def test_editor_cannot_create_in_another_region(client, editor_token):
    _editor, plain = editor_token
    response = client.post("/api/partners", json=dict(NEW, region="hagen", postcode="58095", city="Hagen"),
                           headers=bearer(plain))
    assert response.status_code == 403
    assert response.get_json()["error"]
    assert partner_count() == 0


def test_create_validation_errors_name_the_fields(client, editor_token):
    _editor, plain = editor_token
    response = client.post("/api/partners", json=dict(NEW, name="", postcode="12", topics="zaubern"),
                           headers=bearer(plain))
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "name" and body["code"] == "name.missing"
    assert body["error"] == "Der Name fehlt."
    assert {(p["field"], p["code"]) for p in body["problems"]} == {
        ("name", "name.missing"), ("postcode", "postcode.invalid"), ("topics", "topic.unknown")}
    assert set(body["errors"]) == {"name", "postcode", "topics"}
    assert body["errors"]["postcode"] == ["„12“ ist keine fünfstellige Postleitzahl."]
    assert partner_count() == 0


def test_unknown_field_wrong_type_and_non_json_are_refused(client, editor_token):
    _editor, plain = editor_token
    response = client.post("/api/partners", json=dict(NEW, postal_code="44135"), headers=bearer(plain))
    assert response.status_code == 422 and response.get_json()["field"] == "postal_code"
    assert response.get_json()["code"] == "json.unknown_field"
    response = client.post("/api/partners", json=dict(NEW, confirmed_at="2020-01-01"), headers=bearer(plain))
    assert response.status_code == 422 and response.get_json()["field"] == "confirmed_at"
    response = client.post("/api/partners", json=dict(NEW, email={"a": 1}), headers=bearer(plain))
    assert response.status_code == 422 and response.get_json()["field"] == "email"
    assert response.get_json()["code"] == "json.wrong_type"
    response = client.post("/api/partners", data="name=x", headers=bearer(plain))
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]
    assert response.get_json()["code"] == "json.not_an_object"
    response = client.post("/api/partners", json=["x"], headers=bearer(plain))
    assert response.status_code == 400
    assert partner_count() == 0


def test_topics_as_pipe_string_and_coordinates_as_numbers(client, editor_token):
    _editor, plain = editor_token
    body = dict(NEW, topics="prozessoptimierung|Datenanalyse & KI", latitude=51.5136, longitude=7.4653,
                languages=["de", "en"])
    response = client.post("/api/partners", json=body, headers=bearer(plain))
    assert response.status_code == 201, response.get_json()
    props = response.get_json()["properties"]
    assert props["topics"] == ["prozessoptimierung", "datenanalyse-ki"]
    assert (props["latitude"], props["longitude"]) == (51.5136, 7.4653)
    assert props["languages"] == ["de", "en"]


def test_xss_name_round_trips_as_data(client, editor_token):
    _editor, plain = editor_token
    response = client.post("/api/partners", json=dict(NEW, name=XSS_DEMO_NAME), headers=bearer(plain))
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.get_json()["properties"]["name"] == XSS_DEMO_NAME
    listed = client.get("/api/partners").get_json()["features"]
    assert [f["properties"]["name"] for f in listed] == [XSS_DEMO_NAME]
    assert db.session.scalar(select(Partner.name)) == XSS_DEMO_NAME


# --- update -----------------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(client, editor_token, make_partner):
    _editor, plain = editor_token
    partner = make_partner(region="dortmund", name="Alt", phone="+49 231 1", topics=["it-sicherheit"])
    response = client.patch(f"/api/partners/{partner.id}", json={"phone": "+49 231 2", "topics": ["e-commerce"]},
                            headers=bearer(plain))
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    partner = db.session.get(Partner, partner.id)
    assert partner.phone == "+49 231 2" and partner.name == "Alt"
    assert [t.slug for t in partner.topics] == ["e-commerce"]
    assert response.get_json()["properties"]["topics"] == ["e-commerce"]


def test_patch_validation_error_names_the_field_and_changes_nothing(client, editor_token, make_partner):
    _editor, plain = editor_token
    partner = make_partner(region="dortmund", name="Bleibt", postcode="44135", city="Dortmund",
                           latitude=51.5136, longitude=7.4653)
    before = (partner.name, partner.postcode, partner.email, partner.updated_at)
    audit_before = db.session.scalar(select(func.count(AuditEntry.id)))
    response = client.patch(f"/api/partners/{partner.id}", json={"name": "Neu", "email": "kein-mail"},
                            headers=bearer(plain))
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "email" and body["errors"] == {"email": ["„kein-mail“ ist keine gültige E-Mail-Adresse."]}
    assert body["code"] == "email.invalid"
    db.session.expire_all()
    partner = db.session.get(Partner, partner.id)
    assert (partner.name, partner.postcode, partner.email, partner.updated_at) == before
    assert db.session.scalar(select(func.count(AuditEntry.id))) == audit_before


def test_patch_of_a_listing_in_another_region_is_403(client, editor_token, make_partner):
    _editor, plain = editor_token
    other = make_partner(region="hagen", name="Fremd")
    response = client.patch(f"/api/partners/{other.id}", json={"name": "Gekapert"}, headers=bearer(plain))
    assert response.status_code == 403
    mine = make_partner(region="dortmund", name="Meins")
    response = client.patch(f"/api/partners/{mine.id}", json={"region": "hagen"}, headers=bearer(plain))
    assert response.status_code == 403  # moving a listing out of one's regions
    db.session.expire_all()
    assert db.session.get(Partner, other.id).name == "Fremd"
    assert db.session.get(Partner, mine.id).region.slug == "dortmund"


def test_unknown_id_is_404(client, editor_token):
    _editor, plain = editor_token
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)("/api/partners/999999", json={"name": "x"}, headers=bearer(plain))
        assert response.status_code == 404
        assert response.get_json()["error"]


# --- archive ----------------------------------------------------------------------------------------


def test_delete_archives_and_the_listing_leaves_the_public_api(client, editor_token, make_partner):
    _editor, plain = editor_token
    partner = make_partner(region="dortmund", name="Wird archiviert")
    assert [f["id"] for f in client.get("/api/partners").get_json()["features"]] == [partner.id]
    response = client.delete(f"/api/partners/{partner.id}", headers=bearer(plain))
    assert response.status_code == 204 and response.get_data() == b""
    assert client.get("/api/partners").get_json()["features"] == []
    db.session.expire_all()
    assert db.session.get(Partner, partner.id).is_archived is True  # soft delete: still there, restorable
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.entity_id == partner.id)) == "archive"
    assert client.delete(f"/api/partners/{partner.id}", headers=bearer(plain)).status_code == 204  # idempotent
    # Its maintainer still reads it; the public profile is gone from the directory.
    assert client.get(f"/api/partners/{partner.id}", headers=bearer(plain)).get_json()["properties"]["is_archived"]


def test_editor_cannot_archive_in_another_region(client, editor_token, make_partner):
    _editor, plain = editor_token
    other = make_partner(region="hagen")
    assert client.delete(f"/api/partners/{other.id}", headers=bearer(plain)).status_code == 403
    db.session.expire_all()
    assert db.session.get(Partner, other.id).is_archived is False


# --- limits and exemptions --------------------------------------------------------------------------


def test_writes_are_rate_limited_per_token(client, app, make_user, issue_token, make_partner):
    admin = make_user("admin")
    plain, other = issue_token(admin), issue_token(admin, "zweites Skript")
    partner = make_partner()
    saved = app.config.get("API_WRITE_RATE_LIMIT")
    app.config["API_WRITE_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [client.patch(f"/api/partners/{partner.id}", json={"phone": f"+49 {i}"}, headers=bearer(plain))
                 .status_code for i in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.patch(f"/api/partners/{partner.id}", json={"phone": "+49 9"}, headers=bearer(plain))
        assert limited.get_json()["error"]
        # Another token has its own budget.
        assert client.patch(f"/api/partners/{partner.id}", json={"phone": "+49 8"},
                            headers=bearer(other)).status_code == 200
    finally:
        if saved is None:
            app.config.pop("API_WRITE_RATE_LIMIT", None)
        else:
            app.config["API_WRITE_RATE_LIMIT"] = saved


def test_write_blueprint_is_csrf_exempt_and_documented(app):
    from pathlib import Path

    from network.extensions import csrf

    assert "directory_api_write" in {bp.name for bp in csrf._exempt_blueprints}
    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = doc.split("## CSRF exemptions", 1)[1].split("\n## ", 1)[0]
    assert "`directory_api_write`" in section
