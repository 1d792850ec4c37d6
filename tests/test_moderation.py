"""Moderation: public suggestions and reports, duplicate detection, the per-region queue, accept and reject."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from conftest import csrf_from
from network.audit import AuditEntry
from network.directory.demo import XSS_DEMO_NAME
from network.directory.models import Partner, Region, Suggestion
from network.directory.moderation import find_duplicate, nearest_region, submit_new_listing
from network.extensions import db, limiter

# Postcode centroids of the offline gazetteer.
SCHWELM = (51.2863, 7.2939)
DORTMUND = (51.5097, 7.4601)
BOCHUM = (51.4803, 7.2183)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    # The limiter counts per address across the whole test session; each test starts clean.
    limiter.reset()
    yield
    limiter.reset()


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _suggest_data(client, **overrides) -> dict:
    data = {
        "csrf_token": csrf_from(client.get("/vorschlagen").get_data(as_text=True)),
        "name": "Dr. Paula Neumann",
        "kind": "innovationscoach",
        "organisation": "Wirtschaftsförderung Dortmund",
        "street": "Königswall 1",
        "postcode": "44137",
        "city": "Dortmund",
        "region": "",
        "topics": ["prozessoptimierung", "it-sicherheit"],
        "email": "paula.neumann@example.org",
        "phone": "+49 231 000000",
        "website": "www.example.org",
        "message": "Sehr gute Beraterin für Prozesse.",
        "reporter_email": "melder@example.org",
        "homepage": "",
    }
    data.update(overrides)
    return data


def _region(slug: str) -> Region:
    return db.session.scalar(select(Region).where(Region.slug == slug))


# --- public suggestion form -----------------------------------------------------------------------


def test_suggest_page_has_csrf_and_honeypot(client, taxonomy):
    response = client.get("/vorschlagen")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Partner vorschlagen" in html
    assert csrf_from(html)
    assert 'name="homepage"' in html and 'class="hp-field"' in html
    assert "Innovationscoach" in html and "Prozessoptimierung" in html


def test_suggestion_creates_a_pending_row_in_the_region_of_the_nearest_listing(client, make_partner):
    make_partner(name="Jemand in Dortmund", region="dortmund", latitude=DORTMUND[0] + 0.05, longitude=DORTMUND[1],
                 postcode="44135", city="Dortmund")
    make_partner(name="Jemand in Bochum", region="bochum", latitude=BOCHUM[0], longitude=BOCHUM[1],
                 postcode="44787", city="Bochum")
    # An NRW-wide listing right at the spot must not decide the region.
    make_partner(name="Landesweit", region="nrw", latitude=DORTMUND[0], longitude=DORTMUND[1])
    partners_before = _count(Partner)

    response = client.post("/vorschlagen", data=_suggest_data(client))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    suggestion = db.session.scalar(select(Suggestion))
    assert suggestion.suggestion_type == "new_listing"
    assert suggestion.status == "pending"
    assert suggestion.region.slug == "dortmund"
    assert suggestion.name == "Dr. Paula Neumann"
    assert suggestion.reporter_email == "melder@example.org"
    assert suggestion.message == "Sehr gute Beraterin für Prozesse."
    assert suggestion.payload["topics"] == "prozessoptimierung|it-sicherheit"
    assert suggestion.payload["region"] == "dortmund"
    assert float(suggestion.payload["latitude"]) == pytest.approx(DORTMUND[0])
    assert _count(Partner) == partners_before  # nothing is published before moderation
    follow = client.get("/")
    assert "Vielen Dank" in follow.get_data(as_text=True)


def test_chosen_region_wins_over_the_place(client, make_partner):
    make_partner(region="dortmund", latitude=DORTMUND[0], longitude=DORTMUND[1])
    response = client.post("/vorschlagen", data=_suggest_data(client, region="bochum"))
    assert response.status_code == 302
    assert db.session.scalar(select(Suggestion)).region.slug == "bochum"


def test_region_falls_back_to_the_city_name_in_an_empty_directory(app_ctx, taxonomy):
    from network.directory.routes import geocoder

    with app_ctx.test_request_context():
        suggestion = submit_new_listing(db.session, {"name": "Neu", "kind": "technologiescout", "postcode": "44787",
                                                     "city": "Bochum"}, geocoder())
    assert suggestion.region.slug == "bochum"
    assert nearest_region(db.session, *SCHWELM, city="Nirgendwo") is None


def test_invalid_suggestion_names_each_field_in_german_and_writes_nothing(client, make_partner):
    make_partner(region="dortmund", latitude=DORTMUND[0], longitude=DORTMUND[1])
    data = _suggest_data(client, name="", kind="zauberer", postcode="4413", topics=["gibt-es-nicht"],
                         email="keine-adresse", reporter_email="auch@nicht", website="javascript:alert(1)")
    response = client.post("/vorschlagen", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Der Name fehlt." in html
    assert "Unbekannte Art „zauberer“." in html
    assert "„4413“ ist keine fünfstellige Postleitzahl." in html
    assert "Unbekanntes Thema „gibt-es-nicht“." in html
    assert "„keine-adresse“ ist keine gültige E-Mail-Adresse." in html
    assert "„auch@nicht“ ist keine gültige E-Mail-Adresse." in html
    assert "ist keine Webadresse" in html
    assert 'id="name-error"' in html and 'id="kind-error"' in html and 'id="reporter_email-error"' in html
    assert _count(Suggestion) == 0
    assert 'value="Dr. Paula Neumann"' not in html  # the empty name stays empty, the rest is kept
    assert 'value="Wirtschaftsförderung Dortmund"' in html


def test_unknown_place_is_a_field_error(client, taxonomy):
    response = client.post("/vorschlagen", data=_suggest_data(client, postcode="", city="Gibtesnichtdorf"))
    assert response.status_code == 400
    assert "Ort nicht gefunden" in response.get_data(as_text=True)
    assert _count(Suggestion) == 0


def test_public_forms_need_a_csrf_token(client, make_partner):
    partner = make_partner()
    data = _suggest_data(client)
    del data["csrf_token"]
    assert client.post("/vorschlagen", data=data).status_code == 400
    assert client.post(f"/partner/{partner.id}/melden", data={"message": "Telefon falsch"}).status_code == 400
    assert _count(Suggestion) == 0


def test_honeypot_pretends_success_and_stores_nothing(client, taxonomy):
    response = client.post("/vorschlagen", data=_suggest_data(client, homepage="http://spam.example"))
    assert response.status_code == 302
    assert _count(Suggestion) == 0


def test_public_posts_are_rate_limited_per_address(client, make_partner):
    partner = make_partner()
    token = csrf_from(client.get(f"/partner/{partner.id}/melden").get_data(as_text=True))
    codes = [client.post(f"/partner/{partner.id}/melden", data={"csrf_token": token, "message": ""},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code for _ in range(10)]
    assert codes == [400] * 10
    # The suggestion form shares the budget.
    blocked = client.post("/vorschlagen", data=_suggest_data(client), environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert blocked.status_code == 429
    other = client.post(f"/partner/{partner.id}/melden", data={"csrf_token": token, "message": "Umgezogen"},
                        environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 302
    # Reading the forms is never limited.
    assert client.get("/vorschlagen", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200


# --- duplicates -----------------------------------------------------------------------------------


def test_similar_name_within_two_km_becomes_a_duplicate(client, make_partner):
    existing = make_partner(name="Paula Neumann", region="dortmund", latitude=DORTMUND[0] + 0.005,
                            longitude=DORTMUND[1])
    response = client.post("/vorschlagen", data=_suggest_data(client))  # "Dr. Paula Neumann", 44137
    assert response.status_code == 302
    suggestion = db.session.scalar(select(Suggestion))
    assert suggestion.suggestion_type == "duplicate"
    assert suggestion.duplicate_of_id == existing.id
    assert suggestion.payload["name"] == "Dr. Paula Neumann"  # the proposal is kept
    assert suggestion.payload["email"] == "paula.neumann@example.org"


def test_duplicate_rules(app_ctx, make_partner):
    near = make_partner(name="Müller Consulting GmbH", latitude=SCHWELM[0] + 0.01, longitude=SCHWELM[1])  # ~1.1 km
    far = make_partner(name="Paula Neumann", latitude=DORTMUND[0], longitude=DORTMUND[1])
    archived = make_partner(name="Alte Firma", latitude=SCHWELM[0], longitude=SCHWELM[1], is_archived=True)

    assert find_duplicate(db.session, "Mueller Consulting GmbH", *SCHWELM).partner.id == near.id  # same normalised
    assert find_duplicate(db.session, "Müller Consulting", *SCHWELM).partner.id == near.id  # ratio ≈ 0.87
    assert find_duplicate(db.session, "Schulze Beratung", *SCHWELM) is None  # not similar
    assert find_duplicate(db.session, "Paula Neumann", *SCHWELM) is None  # same name, 25 km away
    assert find_duplicate(db.session, "Paula Neumann", DORTMUND[0] + 0.017, DORTMUND[1]).partner.id == far.id
    assert find_duplicate(db.session, "Paula Neumann", DORTMUND[0] + 0.019, DORTMUND[1]) is None  # ~2.1 km
    assert find_duplicate(db.session, "Alte Firma", *SCHWELM) is None  # archived listings do not count
    assert archived.id


# --- public report --------------------------------------------------------------------------------


def test_report_creates_an_outdated_row_for_the_listing_region(client, make_partner):
    partner = make_partner(name="Veraltet", region="hagen")
    page = client.get(f"/partner/{partner.id}/melden")
    assert page.status_code == 200 and "Veraltet" in page.get_data(as_text=True)
    response = client.post(f"/partner/{partner.id}/melden", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "message": "Arbeitet nicht mehr dort.",
        "reporter_email": ""})
    assert response.status_code == 302
    suggestion = db.session.scalar(select(Suggestion))
    assert (suggestion.suggestion_type, suggestion.partner_id, suggestion.region.slug) == ("outdated", partner.id,
                                                                                          "hagen")
    assert suggestion.message == "Arbeitet nicht mehr dort." and suggestion.reporter_email == ""


def test_report_needs_a_message_and_a_listed_partner(client, make_partner):
    partner = make_partner()
    token = csrf_from(client.get(f"/partner/{partner.id}/melden").get_data(as_text=True))
    response = client.post(f"/partner/{partner.id}/melden", data={"csrf_token": token, "message": "  ",
                                                                  "reporter_email": "x@"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Bitte beschreiben Sie, was nicht (mehr) stimmt." in html
    assert "„x@“ ist keine gültige E-Mail-Adresse." in html
    assert _count(Suggestion) == 0
    archived = make_partner(is_archived=True)
    assert client.get(f"/partner/{archived.id}/melden").status_code == 404
    assert client.get("/partner/999999/melden").status_code == 404


# --- the queue ------------------------------------------------------------------------------------


def _suggestion(region: str | None, name: str, kind: str = "new_listing", **extra) -> Suggestion:
    payload = extra.pop("payload", None)
    if payload is None:
        payload = {"name": name, "kind": "innovationscoach", "organisation": "", "region": region or "",
                   "topics": "prozessoptimierung", "street": "", "postcode": "44137", "city": "Dortmund",
                   "email": "", "phone": "", "website": "", "latitude": repr(DORTMUND[0]),
                   "longitude": repr(DORTMUND[1])}
    suggestion = Suggestion(suggestion_type=kind, region_id=_region(region).id if region else None, name=name,
                            message="Bitte aufnehmen", payload=payload, **extra)
    db.session.add(suggestion)
    db.session.commit()
    return suggestion


def test_queue_visibility_per_role_and_region(client, make_user, make_partner, login):
    own = make_partner(region="hagen")
    _suggestion("dortmund", "Vorschlag Dortmund")
    _suggestion("bochum", "Vorschlag Bochum")
    _suggestion(None, "Vorschlag ohne Region")

    assert client.get("/admin/moderation").status_code == 302  # anonymous: to the login page

    coach = make_user("coach", partner=own)
    login(coach)
    assert client.get("/admin/moderation").status_code == 403
    client.post("/abmelden", data={"csrf_token": csrf_from(client.get("/admin/").get_data(as_text=True))})

    editor = make_user("editor", regions=["dortmund"])
    login(editor)
    html = client.get("/admin/moderation").get_data(as_text=True)
    assert "Vorschlag Dortmund" in html
    assert "Vorschlag Bochum" not in html and "Vorschlag ohne Region" not in html
    client.post("/abmelden", data={"csrf_token": csrf_from(html)})

    admin = make_user("admin")
    login(admin)
    html = client.get("/admin/moderation").get_data(as_text=True)
    assert all(name in html for name in ("Vorschlag Dortmund", "Vorschlag Bochum", "Vorschlag ohne Region"))
    assert html.index("Vorschlag Dortmund") < html.index("Vorschlag Bochum") < html.index("Vorschlag ohne Region")


def test_queue_filters_by_type_and_status(client, make_user, login):
    _suggestion("dortmund", "Neu offen")
    _suggestion("dortmund", "Meldung offen", kind="outdated", payload={})
    _suggestion("dortmund", "Neu abgelehnt", status="rejected")
    login(make_user("admin"))
    html = client.get("/admin/moderation?type=outdated").get_data(as_text=True)
    assert "Meldung offen" in html and "Neu offen" not in html
    html = client.get("/admin/moderation?status=rejected").get_data(as_text=True)
    assert "Neu abgelehnt" in html and "Neu offen" not in html
    html = client.get("/admin/moderation?status=all&type=bogus").get_data(as_text=True)
    assert all(name in html for name in ("Neu offen", "Meldung offen", "Neu abgelehnt"))


def test_editor_of_another_region_gets_403_on_every_item_route(client, make_user, login):
    suggestion = _suggestion("bochum", "Fremd")
    login(make_user("editor", regions=["dortmund"]))
    token = csrf_from(client.get("/admin/moderation").get_data(as_text=True))
    assert client.get(f"/admin/moderation/{suggestion.id}").status_code == 403
    assert client.post(f"/admin/moderation/{suggestion.id}/annehmen", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/moderation/{suggestion.id}/ablehnen", data={"csrf_token": token}).status_code == 403
    assert client.get("/admin/moderation/999999").status_code == 404
    db.session.expire_all()
    assert db.session.get(Suggestion, suggestion.id).status == "pending"
    assert _count(AuditEntry) == 0


def test_decisions_need_a_csrf_token(client, make_user, login):
    suggestion = _suggestion("dortmund", "Ohne Token")
    login(make_user("admin"))
    assert client.post(f"/admin/moderation/{suggestion.id}/annehmen", data={"note": "x"}).status_code == 400
    assert client.post(f"/admin/moderation/{suggestion.id}/ablehnen", data={"note": "x"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Suggestion, suggestion.id).status == "pending"


def test_accepting_a_new_listing_creates_it_and_writes_audit_rows(client, make_user, login):
    suggestion = _suggestion("dortmund", "Neue Beraterin")
    editor = make_user("editor", regions=["dortmund"])
    login(editor)
    token = csrf_from(client.get(f"/admin/moderation/{suggestion.id}").get_data(as_text=True))
    response = client.post(f"/admin/moderation/{suggestion.id}/annehmen", data={"csrf_token": token,
                                                                              "note": "Geprüft, passt."})
    assert response.status_code == 302
    db.session.expire_all()
    suggestion = db.session.get(Suggestion, suggestion.id)
    partner = db.session.get(Partner, suggestion.partner_id)
    assert partner.name == "Neue Beraterin" and partner.region.slug == "dortmund" and not partner.is_archived
    assert [t.slug for t in partner.topics] == ["prozessoptimierung"]
    assert partner.latitude == pytest.approx(DORTMUND[0])
    assert (suggestion.status, suggestion.decided_by_id, suggestion.decision_note) == ("accepted", editor.id,
                                                                                       "Geprüft, passt.")
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.entity_type, e.action) for e in entries] == [("partners", "create"), ("suggestions", "accept")]
    assert entries[1].actor_id == editor.id and entries[1].note == "Geprüft, passt."
    assert entries[1].changes["status"] == ["pending", "accepted"]
    assert entries[1].changes["partner_id"] == [None, partner.id]
    # Deciding twice is refused without a second audit row.
    again = client.post(f"/admin/moderation/{suggestion.id}/annehmen", data={"csrf_token": token})
    assert again.status_code == 302 and _count(AuditEntry) == 2 and _count(Partner) == 1


def test_invalid_proposal_shows_errors_and_stays_pending(client, make_user, login):
    suggestion = _suggestion("dortmund", "Kaputt", payload={"name": "Kaputt", "kind": "abgeschafft",
                                                            "region": "dortmund", "postcode": "44137",
                                                            "city": "Dortmund"})
    login(make_user("admin"))
    token = csrf_from(client.get("/admin/moderation").get_data(as_text=True))
    response = client.post(f"/admin/moderation/{suggestion.id}/annehmen", data={"csrf_token": token,
                                                                              "note": "meine Notiz"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Unbekannte Art „abgeschafft“." in html and "bleibt offen" in html
    assert "meine Notiz" in html  # the note is not lost
    db.session.expire_all()
    assert db.session.get(Suggestion, suggestion.id).status == "pending"
    assert _count(Partner) == 0 and _count(AuditEntry) == 0


def test_rejecting_writes_an_audit_row_with_the_note(client, make_user, login):
    suggestion = _suggestion("dortmund", "Spam")
    admin = make_user("admin")
    login(admin)
    token = csrf_from(client.get("/admin/moderation").get_data(as_text=True))
    response = client.post(f"/admin/moderation/{suggestion.id}/ablehnen", data={"csrf_token": token,
                                                                              "note": "Werbung"})
    assert response.status_code == 302
    entry = db.session.scalar(select(AuditEntry))
    assert (entry.entity_type, entry.entity_id, entry.action, entry.note) == ("suggestions", suggestion.id,
                                                                              "reject", "Werbung")
    db.session.expire_all()
    assert db.session.get(Suggestion, suggestion.id).status == "rejected"
    assert _count(Partner) == 0


def test_accepting_a_report_marks_it_done_and_leaves_the_listing_alone(client, make_user, make_partner, login):
    partner = make_partner(region="dortmund", name="Gemeldet")
    suggestion = _suggestion("dortmund", "Gemeldet", kind="outdated", payload={}, partner_id=partner.id)
    login(make_user("editor", regions=["dortmund"]))
    token = csrf_from(client.get("/admin/moderation").get_data(as_text=True))
    assert client.post(f"/admin/moderation/{suggestion.id}/annehmen", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Suggestion, suggestion.id).status == "accepted"
    assert _count(Partner) == 1
    assert [(e.entity_type, e.action) for e in db.session.scalars(select(AuditEntry))] == [("suggestions", "accept")]


def test_duplicate_can_be_merged_or_created_anyway(client, make_user, make_partner, login):
    keep = make_partner(name="Paula Neumann", region="dortmund", latitude=DORTMUND[0], longitude=DORTMUND[1],
                        topics=["prozessoptimierung"], website="")
    payload = {"name": "Dr. Paula Neumann", "kind": "innovationscoach", "region": "dortmund",
               "topics": "it-sicherheit", "postcode": "44137", "city": "Dortmund",
               "website": "https://paula.example.org", "latitude": repr(DORTMUND[0]),
               "longitude": repr(DORTMUND[1])}
    merge_me = _suggestion("dortmund", "Dr. Paula Neumann", kind="duplicate", payload=payload,
                           duplicate_of_id=keep.id)
    create_me = _suggestion("dortmund", "Dr. Paula Neumann", kind="duplicate", payload=payload,
                            duplicate_of_id=keep.id)
    login(make_user("editor", regions=["dortmund"]))
    html = client.get("/admin/moderation?type=duplicate").get_data(as_text=True)
    assert "Möglicherweise schon vorhanden" in html and f"#{keep.id}" in html
    token = csrf_from(html)

    # Without a choice nothing happens.
    response = client.post(f"/admin/moderation/{merge_me.id}/annehmen", data={"csrf_token": token})
    assert response.status_code == 400 and "Bitte wählen Sie" in response.get_data(as_text=True)
    assert _count(Partner) == 1

    response = client.post(f"/admin/moderation/{merge_me.id}/annehmen", data={"csrf_token": token, "mode": "merge"})
    assert response.status_code == 302
    db.session.expire_all()
    keep = db.session.get(Partner, keep.id)
    assert sorted(t.slug for t in keep.topics) == ["it-sicherheit", "prozessoptimierung"]
    assert keep.website == "https://paula.example.org" and not keep.is_archived
    copy = db.session.scalar(select(Partner).where(Partner.id != keep.id))
    assert copy.is_archived and copy.merged_into_id == keep.id
    assert db.session.get(Suggestion, merge_me.id).partner_id == keep.id

    response = client.post(f"/admin/moderation/{create_me.id}/annehmen", data={"csrf_token": token,
                                                                             "mode": "create"})
    assert response.status_code == 302
    db.session.expire_all()
    created = db.session.get(Partner, db.session.get(Suggestion, create_me.id).partner_id)
    assert created.name == "Dr. Paula Neumann" and not created.is_archived and created.id != keep.id
    actions = [(e.entity_type, e.action) for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count(("suggestions", "accept")) == 2
    assert ("partners", "merge") in actions


def test_merge_into_a_listing_of_another_region_is_refused(client, make_user, make_partner, login):
    keep = make_partner(name="Grenzfall", region="bochum", latitude=DORTMUND[0], longitude=DORTMUND[1])
    payload = {"name": "Grenzfall", "kind": "innovationscoach", "region": "dortmund", "postcode": "44137",
               "city": "Dortmund"}
    suggestion = _suggestion("dortmund", "Grenzfall", kind="duplicate", payload=payload, duplicate_of_id=keep.id)
    login(make_user("editor", regions=["dortmund"]))
    token = csrf_from(client.get("/admin/moderation").get_data(as_text=True))
    response = client.post(f"/admin/moderation/{suggestion.id}/annehmen", data={"csrf_token": token, "mode": "merge"})
    assert response.status_code == 400
    assert "Region, die Sie nicht pflegen" in response.get_data(as_text=True)
    assert _count(Partner) == 1 and _count(AuditEntry) == 0


def test_xss_name_is_rendered_as_text_in_the_queue(client, make_user, make_partner, login):
    partner = make_partner(name=XSS_DEMO_NAME, region="dortmund")
    _suggestion("dortmund", XSS_DEMO_NAME, kind="outdated", payload={}, partner_id=partner.id,
                reporter_email="a@example.org")
    _suggestion("dortmund", XSS_DEMO_NAME, payload={"name": XSS_DEMO_NAME, "kind": "innovationscoach",
                                                    "region": "dortmund", "city": "<b>fett</b>"})
    login(make_user("admin"))
    for path in ("/admin/moderation", f"/admin/moderation/{db.session.scalar(select(func.max(Suggestion.id)))}"):
        html = client.get(path).get_data(as_text=True)
        assert XSS_DEMO_NAME not in html and "<b>fett</b>" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;b&gt;fett&lt;/b&gt;" in html
