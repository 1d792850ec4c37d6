"""Account management in the admin area: admins only; create, edit, disable; self-demotion refused; audited."""
from __future__ import annotations

import json
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import TEST_PASSWORD, csrf_from, forget_current_user, post_form
from network.accounts.models import User
from network.audit import AuditEntry
from network.extensions import db


def _count_users() -> int:
    return db.session.scalar(select(func.count(User.id)))


def _region_id(slug: str) -> int:
    from network.directory.models import Region

    return db.session.scalar(select(Region.id).where(Region.slug == slug))


def _post_form(client, path: str, data: dict):
    return post_form(client, path, data, token_page=path)  # the form's own page gives the token


def _user(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def _outbox_files(app) -> set[Path]:
    outbox = Path(app.instance_path) / "outbox"
    return set(outbox.glob("*.eml")) if outbox.exists() else set()


# --- who may ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["anonymous", "coach", "editor", "admin"])
def test_only_admins_reach_the_user_pages(client, make_user, make_partner, login, role):
    target = make_user("editor", regions=["dortmund"])
    if role == "coach":
        login(make_user("coach", partner=make_partner()))
    elif role == "editor":
        login(make_user("editor", regions=["dortmund"]))
    elif role == "admin":
        login(make_user("admin"))
    pages = ["/admin/benutzer", "/admin/benutzer/neu", f"/admin/benutzer/{target.id}"]
    for path in pages:
        response = client.get(path)
        expected = {"anonymous": 302, "coach": 403, "editor": 403, "admin": 200}[role]
        assert response.status_code == expected, (path, response.status_code)
        if role == "anonymous":
            assert "/anmelden" in response.headers["Location"]
    if role in ("coach", "editor"):
        # Posting with a valid CSRF token does not help either, and nothing changes.
        token = csrf_from(client.get("/admin/").get_data(as_text=True))
        before = _count_users()
        response = client.post("/admin/benutzer/neu", data={
            "email": "eindringling@example.org", "role": "admin", "password": "ein-langes-passwort",
            "csrf_token": token})
        assert response.status_code == 403
        response = client.post(f"/admin/benutzer/{target.id}", data={"role": "admin", "is_enabled": "y",
                                                                      "csrf_token": token})
        assert response.status_code == 403
        response = client.post(f"/admin/benutzer/{target.id}/passwort-link", data={"csrf_token": token})
        assert response.status_code == 403
        assert _count_users() == before and _user(target.id).role == "editor"


def test_unknown_user_is_404(client, make_user, login):
    login(make_user("admin"))
    assert client.get("/admin/benutzer/999999").status_code == 404


def test_posts_without_csrf_token_are_400(client, make_user, login):
    admin = make_user("admin")
    other = make_user("editor", regions=["hagen"])
    login(admin)
    assert client.post("/admin/benutzer/neu", data={"email": "x@example.org", "role": "admin",
                                                    "password": "ein-langes-passwort"}).status_code == 400
    assert client.post(f"/admin/benutzer/{other.id}", data={"role": "admin"}).status_code == 400
    assert client.post(f"/admin/benutzer/{other.id}/passwort-link").status_code == 400


# --- list -----------------------------------------------------------------------------------------------------------

def test_list_shows_accounts_with_role_regions_listing_and_escapes_names(client, make_user, make_partner, login):
    admin = make_user("admin")
    partner = make_partner(name="Coach-Eintrag Mustermann")
    make_user("editor", regions=["dortmund", "hagen"], email="red@example.org")
    make_user("coach", partner=partner, email="coach@example.org", name='<script>alert("x")</script>',
              is_enabled=False)
    login(admin)
    html = client.get("/admin/benutzer").get_data(as_text=True)
    assert "red@example.org" in html and "coach@example.org" in html
    assert "Regionale Redaktion" in html and "Dortmund" in html and "Hagen" in html
    assert "Coach-Eintrag Mustermann" in html and "deaktiviert" in html
    assert "noch nie" in html  # last login of the editor
    assert '<script>alert("x")</script>' not in html and "&lt;script&gt;" in html
    only_editors = client.get("/admin/benutzer?rolle=editor").get_data(as_text=True)
    assert "red@example.org" in only_editors and "coach@example.org" not in only_editors


# --- create -------------------------------------------------------------------------------------------------------

def test_admin_creates_an_editor_with_password_who_can_log_in(client, app, make_user, login):
    admin = make_user("admin")
    login(admin)
    response = _post_form(client, "/admin/benutzer/neu", {
        "email": "Neue.Redaktion@Example.org", "name": "Neue Redaktion", "role": "editor",
        "regions": [str(_region_id("bochum")), str(_region_id("herne"))], "is_enabled": "y",
        "password": "ein-langes-passwort"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    user = db.session.scalar(select(User).where(User.email == "neue.redaktion@example.org"))
    assert user is not None and user.role == "editor" and user.is_enabled
    assert sorted(r.slug for r in user.regions) == ["bochum", "herne"]
    assert user.check_password("ein-langes-passwort")

    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "users",
                                                       AuditEntry.entity_id == user.id))
    assert entry.action == "create" and entry.actor_id == admin.id
    assert entry.changes["role"] == [None, "editor"] and entry.changes["regions"] == [None, ["bochum", "herne"]]

    client.post("/abmelden", data={"csrf_token": csrf_from(client.get("/admin/").get_data(as_text=True))})
    token = csrf_from(client.get("/anmelden").get_data(as_text=True))
    login_response = client.post("/anmelden", data={"email": "neue.redaktion@example.org",
                                                    "password": "ein-langes-passwort", "csrf_token": token})
    assert login_response.status_code == 302


@pytest.mark.slow
def test_create_coach_with_set_password_link_by_mail(client, app, make_user, make_partner, login):
    admin = make_user("admin")
    partner = make_partner(name="Dr. Erika Beispiel")
    login(admin)
    before = _outbox_files(app)
    response = _post_form(client, "/admin/benutzer/neu", {
        "email": "erika@example.org", "name": "Erika Beispiel", "role": "coach", "listing": f"#{partner.id}",
        "is_enabled": "y", "send_link": "y"})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "erika@example.org"))
    assert user.role == "coach" and user.partner_id == partner.id and user.regions == []
    new = _outbox_files(app) - before
    assert len(new) == 1
    mail = BytesParser(policy=policy.default).parsebytes(new.pop().read_bytes())
    assert mail["To"] == "erika@example.org"
    assert "Zugang" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert "Coach / Scout" in body
    link = re.search(r"http://localhost(/passwort-zuruecksetzen/\S+)", body).group(1)
    # Before the owner sets a password nobody can log in (the stored one is random).
    assert not user.check_password("") and not user.check_password(TEST_PASSWORD)

    client.post("/abmelden", data={"csrf_token": csrf_from(client.get("/admin/").get_data(as_text=True))})
    page = client.get(link)
    assert page.status_code == 200
    set_response = client.post(link, data={"password": "erikas-eigenes-pw", "confirm": "erikas-eigenes-pw",
                                           "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert set_response.status_code == 302
    assert _user(user.id).check_password("erikas-eigenes-pw")
    token = csrf_from(client.get("/anmelden").get_data(as_text=True))
    assert client.post("/anmelden", data={"email": "erika@example.org", "password": "erikas-eigenes-pw",
                                          "csrf_token": token}).status_code == 302


def test_resend_password_link_from_the_edit_page(client, app, make_user, login):
    admin = make_user("admin")
    other = make_user("editor", regions=["hagen"])
    login(admin)
    before = _outbox_files(app)
    page = client.get(f"/admin/benutzer/{other.id}").get_data(as_text=True)
    response = client.post(f"/admin/benutzer/{other.id}/passwort-link", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    new = _outbox_files(app) - before
    assert len(new) == 1
    mail = BytesParser(policy=policy.default).parsebytes(new.pop().read_bytes())
    assert mail["To"] == other.email
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "password_link"))
    assert entry.entity_id == other.id and "passwort-zuruecksetzen" not in json.dumps(entry.changes) + entry.note


@pytest.mark.parametrize("data, field, message", [
    ({"email": "kaputt", "role": "admin", "password": "ein-langes-passwort"}, "email",
     "ist keine gültige E-Mail-Adresse"),
    ({"email": "", "role": "admin", "password": "ein-langes-passwort"}, "email", "Bitte geben Sie eine E-Mail"),
    ({"email": "DOPPELT@example.org", "role": "admin", "password": "ein-langes-passwort"}, "email",
     "Es gibt schon ein Konto"),
    ({"email": "r@example.org", "role": "editor", "password": "ein-langes-passwort"}, "regions",
     "mindestens eine Region"),
    ({"email": "r@example.org", "role": "editor", "regions": ["999999"], "password": "ein-langes-passwort"},
     "regions", "nur Regionen aus der Liste"),
    ({"email": "c@example.org", "role": "coach", "password": "ein-langes-passwort"}, "listing",
     "braucht seinen Eintrag"),
    ({"email": "c@example.org", "role": "coach", "listing": "abc", "password": "ein-langes-passwort"}, "listing",
     "Nummer des Eintrags"),
    ({"email": "c@example.org", "role": "coach", "listing": "999999", "password": "ein-langes-passwort"},
     "listing", "Es gibt keinen Eintrag #999999"),
    ({"email": "a@example.org", "role": "superuser", "password": "ein-langes-passwort"}, "role",
     "angebotenen Rollen"),
    ({"email": "a@example.org", "role": "admin", "password": "kurz"}, "password", "mindestens 10 Zeichen"),
    ({"email": "a@example.org", "role": "admin"}, "password", "Anfangspasswort ein oder"),
    ({"email": "a@example.org", "role": "admin", "password": "ein-langes-passwort", "send_link": "y"}, "password",
     "nicht beides"),
])
def test_invalid_new_account_gets_field_errors_and_changes_nothing(client, app, make_user, login, data, field,
                                                                   message):
    make_user("admin", email="doppelt@example.org")
    login(make_user("admin"))
    before_users = _count_users()
    before_audit = db.session.scalar(select(func.count(AuditEntry.id)))
    before_mail = _outbox_files(app)
    response = _post_form(client, "/admin/benutzer/neu", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error, html[:3000]
    assert message in error.group(1).replace("&#34;", '"').replace("&#39;", "'")
    assert _count_users() == before_users
    assert db.session.scalar(select(func.count(AuditEntry.id))) == before_audit
    assert _outbox_files(app) == before_mail


def test_listing_of_another_coach_cannot_be_linked_twice(client, make_user, make_partner, login):
    partner = make_partner()
    make_user("coach", partner=partner, email="erste@example.org")
    login(make_user("admin"))
    response = _post_form(client, "/admin/benutzer/neu", {"email": "zweite@example.org", "role": "coach",
                                                           "listing": str(partner.id),
                                                           "password": "ein-langes-passwort"})
    assert response.status_code == 400
    assert "gehört schon zum Konto erste@example.org" in response.get_data(as_text=True)


# --- edit, disable, self-protection ---------------------------------------------------------------------------------

def test_edit_role_regions_and_listing(client, make_user, make_partner, login):
    admin = make_user("admin")
    partner = make_partner()
    account = make_user("coach", partner=partner)
    login(admin)
    response = _post_form(client, f"/admin/benutzer/{account.id}", {
        "name": "Jetzt Redaktion", "role": "editor", "regions": [str(_region_id("dortmund"))],
        "listing": str(partner.id), "is_enabled": "y"})
    assert response.status_code == 302
    changed = _user(account.id)
    assert changed.role == "editor" and [r.slug for r in changed.regions] == ["dortmund"]
    # Only a coach keeps a listing of their own.
    assert changed.partner_id is None and changed.name == "Jetzt Redaktion"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_id == account.id,
                                                       AuditEntry.action == "update"))
    assert entry.changes["role"] == ["coach", "editor"]
    assert entry.changes["partner_id"] == [partner.id, None]
    assert entry.changes["regions"] == [[], ["dortmund"]]


def test_edit_with_errors_changes_nothing(client, make_user, login):
    admin = make_user("admin")
    account = make_user("editor", regions=["hagen"])
    login(admin)
    response = _post_form(client, f"/admin/benutzer/{account.id}", {"name": "Neu", "role": "editor",
                                                                     "is_enabled": "y"})
    assert response.status_code == 400
    assert "mindestens eine Region" in response.get_data(as_text=True)
    unchanged = _user(account.id)
    assert unchanged.name != "Neu" and [r.slug for r in unchanged.regions] == ["hagen"]
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 0


def test_disabled_user_cannot_log_in_and_loses_the_session(app, client, make_user, login):
    admin = make_user("admin")
    account = make_user("editor", regions=["hagen"])
    other = app.test_client()
    token = csrf_from(other.get("/anmelden").get_data(as_text=True))
    assert other.post("/anmelden", data={"email": account.email, "password": TEST_PASSWORD,
                                         "csrf_token": token}).status_code == 302
    assert other.get("/admin/").status_code == 200

    forget_current_user()
    login(admin)
    response = _post_form(client, f"/admin/benutzer/{account.id}", {
        "name": account.name, "role": "editor", "regions": [str(_region_id("hagen"))]})  # is_enabled unchecked
    assert response.status_code == 302
    assert _user(account.id).is_enabled is False
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_id == account.id))
    assert entry.action == "disable" and entry.changes == {"is_enabled": [True, False]}

    forget_current_user()
    assert other.get("/admin/").status_code == 302  # the open session is gone
    forget_current_user()
    fresh = app.test_client()
    token = csrf_from(fresh.get("/anmelden").get_data(as_text=True))
    assert fresh.post("/anmelden", data={"email": account.email, "password": TEST_PASSWORD,
                                         "csrf_token": token}).status_code == 401

    # Enabling again lets them back in.
    forget_current_user()
    response = _post_form(client, f"/admin/benutzer/{account.id}", {
        "name": account.name, "role": "editor", "regions": [str(_region_id("hagen"))], "is_enabled": "y"})
    assert response.status_code == 302 and _user(account.id).is_enabled


@pytest.mark.parametrize("data, field, message", [
    ({"role": "editor", "regions": ["hagen"], "is_enabled": "y"}, "role", "nicht selbst die Administrationsrolle"),
    ({"role": "coach", "is_enabled": "y"}, "role", "nicht selbst die Administrationsrolle"),
    ({"role": "admin"}, "is_enabled", "eigenes Konto nicht deaktivieren"),
])
def test_admin_cannot_demote_or_disable_themselves(client, make_user, make_partner, login, data, field, message):
    admin = make_user("admin")
    partner = make_partner()
    login(admin)
    data = dict(data, name="Ich", listing=str(partner.id))
    data["regions"] = [str(_region_id("hagen")) for _ in data.get("regions", [])]
    response = _post_form(client, f"/admin/benutzer/{admin.id}", data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1)
    me = _user(admin.id)
    assert me.role == "admin" and me.is_enabled and me.name != "Ich"
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 0


def test_admin_may_rename_themselves_and_demote_another_admin(client, make_user, login):
    admin = make_user("admin")
    colleague = make_user("admin")
    login(admin)
    assert _post_form(client, f"/admin/benutzer/{admin.id}", {"name": "Chefin", "role": "admin",
                                                               "is_enabled": "y"}).status_code == 302
    assert _user(admin.id).name == "Chefin"
    assert _post_form(client, f"/admin/benutzer/{colleague.id}", {
        "name": colleague.name, "role": "editor", "regions": [str(_region_id("herne"))],
        "is_enabled": "y"}).status_code == 302
    assert _user(colleague.id).role == "editor"


def test_audit_rows_never_hold_password_hashes(client, make_user, make_partner, login):
    admin = make_user("admin")
    login(admin)
    _post_form(client, "/admin/benutzer/neu", {"email": "mit-pw@example.org", "role": "admin",
                                               "password": "ein-langes-passwort", "is_enabled": "y"})
    _post_form(client, "/admin/benutzer/neu", {"email": "mit-link@example.org", "role": "editor",
                                               "regions": [str(_region_id("bochum"))], "send_link": "y",
                                               "is_enabled": "y"})
    created = db.session.scalars(select(User).where(User.email.in_(["mit-pw@example.org",
                                                                    "mit-link@example.org"]))).all()
    assert len(created) == 2
    _post_form(client, f"/admin/benutzer/{created[0].id}", {"role": "admin", "name": "X"})
    entries = db.session.scalars(select(AuditEntry)).all()
    assert {e.action for e in entries} >= {"create", "disable"}
    text = json.dumps([[e.actor_label, e.entity_label, e.changes, e.note] for e in entries], ensure_ascii=False)
    assert "scrypt" not in text and "password" not in text and "ein-langes-passwort" not in text
    for user in db.session.scalars(select(User)):
        assert user.password_hash[-20:] not in text
