"""Personal data (DSGVO): export a listing's person as JSON, erase them everywhere, and who may do either."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import MetaData, func, select

from conftest import TEST_PASSWORD, csrf_from, forget_current_user
from network import privacy
from network.accounts.models import ApiToken, User
from network.audit import AuditEntry, record
from network.directory.listings import merge_listings, update_listing
from network.directory.models import Partner, Suggestion
from network.directory.privacy import erase_personal_data
from network.extensions import db
from network.geo.gazetteer import normalize

NAME = "Jürgen Ölmann-Testperson"
OLD_NAME = "Dr. Jürgen Ölmann"
EMAIL = "juergen.oelmann@beispiel-person.de"
OLD_EMAIL = "j.oelmann@alt-adresse.de"
DUP_EMAIL = "oelmann.privat@posteingang.example"
PHONE = "+49 231 7654321"
PHONE_AS_TYPED = "0231/765 43 21"  # the same number as a reporter writes it
OLD_PHONE = "0231 99887766"
DUP_PHONE = "0171 5550123"
STREET = "Personenweg 7"
WEBSITE = "https://oelmann-beratung.example"
HOME = "Privatstraße 3, 44137 Dortmund"
# The firm contact of one of the coach's visits: the visit stays for statistics, anonymised.
FIRM_CONTACT = ["Frieda Firmenkontakt", "frieda@firma.example", "0231 4444555", "Bitte den Hintereingang nutzen"]
SECRETS = [NAME, OLD_NAME, EMAIL, OLD_EMAIL, DUP_EMAIL, PHONE, PHONE_AS_TYPED, OLD_PHONE, DUP_PHONE, normalize(NAME),
           "Ölmann", "oelmann", STREET, WEBSITE, HOME, *FIRM_CONTACT]


@dataclass
class Scene:
    partner: Partner
    duplicate: Partner
    other: Partner
    coach: User
    admin: User
    editor: User


@pytest.fixture()
def scene(make_partner, make_user) -> Scene:
    """A person with a history: renamed, new e-mail and phone, a coach account, a merged duplicate, reports."""
    geocoder = current_app.extensions["partnernetz.geocoder"]
    admin = make_user("admin", name="Ada Admin")
    editor = make_user("editor", regions=["dortmund"], name="Eddi Redaktion")
    partner = make_partner(name=OLD_NAME, email=OLD_EMAIL, phone=OLD_PHONE, region="dortmund", street=STREET,
                           postcode="44135", city="Dortmund", latitude=51.513456, longitude=7.465432,
                           website=WEBSITE, description=f"{OLD_NAME} berät zu Robotik. Telefon {OLD_PHONE}.")
    other = make_partner(name="Andrea Andere", email="andrea@andere.example", phone="+49 2331 123456",
                         region="hagen", postcode="58095", city="Hagen", latitude=51.36, longitude=7.47)
    update_listing(db.session, partner, {"name": NAME, "email": EMAIL, "phone": PHONE,
                                         "description": f"{NAME} berät zu Robotik."},
                   geocoder, actor=admin)
    update_listing(db.session, other, {"description": "Beraterin für Hagen"}, geocoder, actor=admin)
    coach = make_user("coach", partner=partner, email=EMAIL, name=NAME)
    update_listing(db.session, partner, {"languages": "de,en"}, geocoder, actor=coach)
    duplicate = make_partner(name="J. Ölmann", email=DUP_EMAIL, phone=DUP_PHONE, region="dortmund",
                             postcode="44135", city="Dortmund")
    merge_listings(db.session, partner, duplicate, actor=editor)
    record(db.session, actor=editor, entity=partner, action="confirm", before=None, after=None,
           note=f"Telefonat mit {NAME}: neue Nummer {PHONE}, Mail an {EMAIL.upper()}.")
    record(db.session, actor=coach, entity=coach, action="password_reset", before=None, after=None,
           entity_label=coach.email)
    db.session.add_all([
        Suggestion(suggestion_type="outdated", region_id=partner.region_id, partner_id=partner.id, name=NAME,
                   message=f"Die Nummer {PHONE} stimmt nicht mehr, besser {PHONE_AS_TYPED}.",
                   reporter_email="melder@example.org",
                   payload={"email": EMAIL, "nested": [{"phone": PHONE}]}),
        Suggestion(suggestion_type="new_listing", region_id=partner.region_id, name=OLD_NAME,
                   message="Bitte aufnehmen", reporter_email=OLD_EMAIL,
                   payload={"name": OLD_NAME, "email": OLD_EMAIL, "phone": OLD_PHONE, "city": "Dortmund"}),
        Suggestion(suggestion_type="duplicate", region_id=partner.region_id, duplicate_of_id=partner.id,
                   name="Juergen Oelmann", message="Doppelt?", payload={}),
    ])
    token, _plain = ApiToken.issue(admin, f"Import für {NAME}")
    db.session.add(token)
    _add_scheduling(partner, other, coach)
    db.session.commit()
    return Scene(partner=partner, duplicate=duplicate, other=other, coach=coach, admin=admin, editor=editor)


def _add_scheduling(partner: Partner, other: Partner, coach: User) -> None:
    from network.scheduling.booking import visit_snapshot
    from network.scheduling.models import Absence, SchedulingProfile, Visit, WorkingHours

    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    db.session.add_all([
        SchedulingProfile(partner_id=partner.id, home_address=HOME, home_lat=51.5071, home_lon=7.4812,
                          feed_token_hash="f" * 64),
        WorkingHours(partner_id=partner.id, weekday=0, start_minute=480, end_minute=1020),
        Absence(partner_id=partner.id, start_date=date(2026, 4, 1), end_date=date(2026, 4, 3), reason="sick",
                note=f"Krank, Rückruf unter {PHONE}"),
        Absence(partner_id=other.id, start_date=date(2026, 4, 1), end_date=date(2026, 4, 3),
                note=f"Vertretung: {NAME}"),
    ])
    own = Visit(partner_id=partner.id, status="confirmed", start_at=start, end_at=start + timedelta(hours=1),
                firm_name="Robotik Werkstatt GmbH", firm_address="Werkstraße 1, 44135 Dortmund",
                firm_lat=51.512345, firm_lon=7.463456, contact_name=FIRM_CONTACT[0], contact_email=FIRM_CONTACT[1],
                contact_phone=FIRM_CONTACT[2], message=FIRM_CONTACT[3], manage_token_hash="a" * 64,
                outcome_notes=f"{FIRM_CONTACT[0]} war begeistert", took_place=True)
    theirs = Visit(partner_id=other.id, status="requested", start_at=start, end_at=start + timedelta(hours=2),
                   firm_name="Beratung Hagen GmbH", firm_address="Irgendwo 5, 58095 Hagen", contact_name=NAME,
                   contact_email=EMAIL, contact_phone=PHONE, message=f"{NAME} fragt nach Robotik",
                   manage_token_hash="b" * 64)
    db.session.add_all([own, theirs])
    db.session.flush()
    record(db.session, actor=coach, entity=own, action="confirm", before={}, after=visit_snapshot(own),
           entity_label=f"Termin {own.firm_name}")


def _database_text() -> str:
    """Every row of every table in the database (reflected, so tables without a model count too), as text."""
    tables = {table.name: table for table in db.metadata.sorted_tables}
    reflected = MetaData()
    reflected.reflect(bind=db.engine)
    for table in reflected.sorted_tables:
        tables.setdefault(table.name, table)
    chunks = []
    with db.engine.connect() as conn:
        for name, table in tables.items():
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, str):
                        chunks.append(value)
                        try:  # JSON stored as text keeps umlauts as \u escapes
                            chunks.append(json.dumps(json.loads(value), ensure_ascii=False))
                        except ValueError:
                            pass
                    elif value is not None:
                        chunks.append(json.dumps(value, ensure_ascii=False, default=str))
                chunks.append(f"<{name}>")
    return "\n".join(chunks).casefold()


def _audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


# --- who may -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, expected", [
    ("anonymous", 302),
    ("coach", 403),          # even for their own listing: erasure is the agencies' business
    ("other_coach", 403),
    ("editor_other_region", 403),
    ("editor", 200),
    ("admin", 200),
])
def test_who_may_export_and_erase(client, scene, make_user, make_partner, login, role, expected):
    if role == "coach":
        login(scene.coach)
    elif role == "other_coach":
        login(make_user("coach", partner=make_partner()))
    elif role == "editor_other_region":
        login(make_user("editor", regions=["hagen", "bochum"]))
    elif role == "editor":
        login(scene.editor)
    elif role == "admin":
        login(scene.admin)
    pid = scene.partner.id
    for path in (f"/admin/eintraege/{pid}/daten.json", f"/admin/eintraege/{pid}/loeschen"):
        response = client.get(path)
        assert response.status_code == expected, (path, response.status_code)
        if role == "anonymous":
            assert "/anmelden" in response.headers["Location"]
    if expected != 200:
        token = csrf_from(client.get("/anmelden" if role == "anonymous" else "/admin/").get_data(as_text=True))
        before = _audit_count()
        response = client.post(f"/admin/eintraege/{pid}/loeschen", data={"confirm": "yes", "csrf_token": token})
        assert response.status_code == expected
        db.session.expire_all()
        assert db.session.get(Partner, pid).name == NAME and _audit_count() == before


def test_unknown_listing_is_404(client, scene, login):
    login(scene.admin)
    assert client.get("/admin/eintraege/999999/daten.json").status_code == 404
    assert client.get("/admin/eintraege/999999/loeschen").status_code == 404


def test_erase_without_csrf_token_is_400(client, scene, login):
    login(scene.admin)
    response = client.post(f"/admin/eintraege/{scene.partner.id}/loeschen", data={"confirm": "yes"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Partner, scene.partner.id).email == EMAIL


# --- export -----------------------------------------------------------------------------------------------------

def test_export_contains_every_stored_field_and_what_refers_to_the_person(client, scene, login):
    login(scene.editor)
    response = client.get(f"/admin/eintraege/{scene.partner.id}/daten.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="personendaten-eintrag-{scene.partner.id}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    data = json.loads(body)

    listing = data["listing"]
    columns = {column.name for column in Partner.__table__.columns}
    assert columns <= set(listing), columns - set(listing)
    partner = db.session.get(Partner, scene.partner.id)
    for column in columns:
        value = getattr(partner, column)
        expected = value.isoformat() if hasattr(value, "isoformat") else value
        assert listing[column] == expected, column
    assert listing["name"] == NAME and listing["email"] == EMAIL and listing["phone"] == PHONE
    assert listing["street"] == STREET and listing["website"] == WEBSITE
    assert listing["region"] == "dortmund" and listing["topics"] == ["prozessoptimierung"]
    assert [d["id"] for d in data["merged_listings"]] == [scene.duplicate.id]
    assert data["merged_listings"][0]["email"] == DUP_EMAIL

    [account] = data["accounts"]
    assert account["email"] == EMAIL and account["role"] == "coach" and "password_hash" not in account
    assert scene.coach.password_hash not in body and "scrypt:" not in body and "pbkdf2:" not in body

    audit_actions = [(e["entity_type"], e["action"]) for e in data["audit_log"]]
    assert ("partners", "update") in audit_actions and ("partners", "merge") in audit_actions
    assert ("partners", "confirm") in audit_actions and ("users", "password_reset") in audit_actions
    assert all("Andrea" not in json.dumps(e, ensure_ascii=False) for e in data["audit_log"])
    assert {s["suggestion_type"] for s in data["suggestions"]} == {"outdated", "new_listing", "duplicate"}

    scheduling = data["scheduling"]
    assert scheduling["profiles"][0]["home_address"] == HOME and "feed_token_hash" not in scheduling["profiles"][0]
    assert [a["reason"] for a in scheduling["absences"]] == ["sick"]
    assert len(scheduling["working_hours"]) == 1
    [visit] = scheduling["visits"]
    assert visit["firm_name"] == "Robotik Werkstatt GmbH" and visit["outcome_notes"].endswith("war begeistert")
    # The firm's contact data is someone else's and stays out of the person's export.
    assert "contact_email" not in visit and "manage_token_hash" not in visit and FIRM_CONTACT[1] not in body

    exported = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export"))
    assert exported.actor_id == scene.editor.id and exported.entity_id == scene.partner.id
    assert EMAIL not in json.dumps(exported.changes) + exported.note + exported.entity_label


# --- erasure --------------------------------------------------------------------------------------------------------

def test_erase_asks_for_confirmation_first(client, scene, login):
    login(scene.admin)
    page = client.get(f"/admin/eintraege/{scene.partner.id}/loeschen")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and EMAIL in html and "nicht rückgängig" in html
    before = _audit_count()
    response = client.post(f"/admin/eintraege/{scene.partner.id}/loeschen", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 400
    assert "Bitte bestätigen Sie" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Partner, scene.partner.id).email == EMAIL and _audit_count() == before


def test_after_erasing_no_table_holds_the_persons_data(client, scene, login):
    before_text = _database_text()
    for secret in SECRETS:
        assert secret.casefold() in before_text, secret  # the search would find them

    login(scene.editor)
    page = client.get(f"/admin/eintraege/{scene.partner.id}/loeschen").get_data(as_text=True)
    response = client.post(f"/admin/eintraege/{scene.partner.id}/loeschen",
                           data={"confirm": "yes", "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "sind gelöscht" in follow and "Achtung" not in follow

    text = _database_text()
    leftovers = [secret for secret in SECRETS if secret.casefold() in text]
    assert leftovers == [], leftovers

    db.session.expire_all()
    partner = db.session.get(Partner, scene.partner.id)
    assert partner.name == f"Gelöschter Eintrag #{partner.id}"
    assert (partner.email, partner.phone, partner.street, partner.description, partner.website) == ("",) * 5
    assert partner.is_archived and partner.is_person
    assert partner.region.slug == "dortmund" and partner.city == "Dortmund"  # statistics keep the place
    assert (partner.latitude, partner.longitude) == (51.51, 7.47)
    duplicate = db.session.get(Partner, scene.duplicate.id)
    assert duplicate.name == f"Gelöschter Eintrag #{duplicate.id}" and duplicate.email == ""

    coach = db.session.get(User, scene.coach.id)
    assert coach.email == f"erased-{coach.id}@invalid.partnernetz" and coach.name == ""
    assert not coach.is_enabled and coach.partner_id == partner.id

    erase_rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "erase")).all()
    assert len(erase_rows) == 1
    assert erase_rows[0].entity_id == partner.id and erase_rows[0].actor_id == scene.editor.id
    # The history stays (who changed what when), only the person's values are gone.
    # In writing order: PostgreSQL returns rows unordered, and the erasure has just rewritten them.
    updates = db.session.scalars(select(AuditEntry).where(AuditEntry.entity_id == partner.id,
                                                          AuditEntry.action == "update")
                                 .order_by(AuditEntry.id)).all()
    assert updates and updates[0].changes["email"] == ["[gelöscht]", "[gelöscht]"]
    coach_edit = [e for e in updates if e.actor_id == coach.id]
    assert coach_edit and coach_edit[0].actor_label == "[gelöscht]"

    from network.scheduling.models import Absence, SchedulingProfile, Visit

    own_visit = db.session.scalar(select(Visit).where(Visit.partner_id == partner.id))
    assert own_visit.status == "confirmed" and own_visit.took_place is True  # kept for statistics
    assert own_visit.firm_name == "Robotik Werkstatt GmbH" and own_visit.duration_min == 60
    assert (own_visit.contact_name, own_visit.contact_email, own_visit.message) == ("", "", "")
    assert own_visit.manage_token_hash is None and (own_visit.firm_lat, own_visit.firm_lon) == (51.51, 7.46)
    their_visit = db.session.scalar(select(Visit).where(Visit.partner_id == scene.other.id))
    assert (their_visit.contact_name, their_visit.contact_email, their_visit.contact_phone) == ("[gelöscht]",) * 3
    assert their_visit.firm_name == "Beratung Hagen GmbH" and their_visit.status == "requested"
    profile = db.session.scalar(select(SchedulingProfile).where(SchedulingProfile.partner_id == partner.id))
    assert profile.home_address == "" and profile.home_lat is None and profile.feed_token_hash is None
    assert db.session.scalar(select(func.count(Absence.id)).where(Absence.partner_id == partner.id)) == 0

    # Everyone else keeps their data.
    other = db.session.get(Partner, scene.other.id)
    assert (other.name, other.email, other.phone) == ("Andrea Andere", "andrea@andere.example", "+49 2331 123456")
    assert "andrea andere" in text and "ada admin" in text and "melder@example.org" in text
    assert db.session.scalar(select(Suggestion).where(Suggestion.suggestion_type == "outdated")).reporter_email \
        == "melder@example.org"


def test_erased_coach_cannot_log_in_any_more(app, client, scene, login):
    login(scene.admin)
    page = client.get(f"/admin/eintraege/{scene.partner.id}/loeschen").get_data(as_text=True)
    client.post(f"/admin/eintraege/{scene.partner.id}/loeschen", data={"confirm": "yes",
                                                                       "csrf_token": csrf_from(page)})
    forget_current_user()
    fresh = app.test_client()
    token = csrf_from(fresh.get("/anmelden").get_data(as_text=True))
    for email in (EMAIL, f"erased-{scene.coach.id}@invalid.partnernetz"):
        response = fresh.post("/anmelden", data={"email": email, "password": TEST_PASSWORD, "csrf_token": token})
        assert response.status_code == 401


def test_names_are_matched_whole_not_inside_other_words(app_ctx, scene, make_partner):
    neighbour = make_partner(name=f"{NAME}en-Stiftung", email="stiftung@example.org", region="dortmund")
    record(db.session, actor=scene.admin, entity=neighbour, action="update", before=None, after=None,
           note=f"Kontakt: {NAME}en-Stiftung, nicht {NAME}.")
    db.session.commit()
    erase_personal_data(db.session, scene.partner, actor=scene.admin)
    db.session.commit()
    note = db.session.scalar(select(AuditEntry.note).where(AuditEntry.entity_id == neighbour.id,
                                                           AuditEntry.entity_type == "partners"))
    assert note == f"Kontakt: {NAME}en-Stiftung, nicht [gelöscht]."


def test_erasing_twice_is_harmless(app_ctx, scene):
    erase_personal_data(db.session, scene.partner, actor=scene.admin)
    db.session.commit()
    first = _database_text()
    report = erase_personal_data(db.session, scene.partner, actor=scene.admin)
    db.session.commit()
    assert report.remaining == []
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "erase")) == 2
    assert f"gelöschter eintrag #{scene.partner.id}" in first


# --- the registry: later tables plug in --------------------------------------------------------

def test_a_registered_eraser_runs_with_the_persons_identifiers(app_ctx, scene, monkeypatch):
    calls = []

    def erase_invoices(session, target):
        calls.append((target.partner.id, target.user_ids, set(target.needles), target.scrub(f"Rechnung an {NAME}")))
        return 3

    monkeypatch.setitem(privacy.ERASERS, "invoices", erase_invoices)
    report = erase_personal_data(db.session, scene.partner, actor=scene.admin)
    [(partner_id, user_ids, needles, scrubbed)] = calls
    assert partner_id == scene.partner.id and user_ids == {scene.coach.id}
    assert {EMAIL, OLD_EMAIL, DUP_EMAIL, PHONE, OLD_PHONE, NAME.casefold(), OLD_NAME.casefold()} <= needles
    assert scrubbed == "Rechnung an [gelöscht]"
    assert report.changed["invoices"] == 3


def test_a_table_without_eraser_is_reported_not_silently_kept(client, scene, login, monkeypatch):
    monkeypatch.delitem(privacy.ERASERS, "suggestions")
    login(scene.admin)
    page = client.get(f"/admin/eintraege/{scene.partner.id}/loeschen").get_data(as_text=True)
    response = client.post(f"/admin/eintraege/{scene.partner.id}/loeschen",
                           data={"confirm": "yes", "csrf_token": csrf_from(page)})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Achtung" in html and "suggestions.message" in html and "suggestions.payload" in html
    assert EMAIL not in html and PHONE not in html


def test_confirm_page_warns_about_upcoming_visits(client, scene, login):
    from network.scheduling.models import Visit

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    db.session.add(Visit(partner_id=scene.partner.id, status="confirmed", start_at=start,
                         end_at=start + timedelta(hours=1), firm_name="Zukunft GmbH"))
    db.session.commit()
    login(scene.admin)
    html = client.get(f"/admin/eintraege/{scene.partner.id}/loeschen").get_data(as_text=True)
    assert "1 angefragten oder bestätigten Besuch in der Zukunft" in html


def test_nobody_erases_the_listing_linked_to_their_own_account(client, make_partner, make_user, login):
    partner = make_partner(region="dortmund")
    admin = make_user("admin", partner=partner)
    login(admin)
    page = client.get(f"/admin/eintraege/{partner.id}/loeschen").get_data(as_text=True)
    response = client.post(f"/admin/eintraege/{partner.id}/loeschen",
                           data={"confirm": "yes", "csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert "mit Ihrem eigenen Konto verknüpft" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, admin.id).is_enabled and db.session.get(Partner, partner.id).email
