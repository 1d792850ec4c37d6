"""Accounts: login, rate limit, logout, password reset by e-mail, API tokens, create-user."""
from __future__ import annotations

import re
from pathlib import Path

from conftest import TEST_PASSWORD, csrf_from
from network.accounts.models import ApiToken, User
from network.extensions import db


def test_password_is_hashed_with_scrypt(make_user):
    user = make_user("admin")  # stored with the fixture's cheap hash; the app's own is set here
    user.set_password(TEST_PASSWORD)
    assert user.password_hash.startswith("scrypt:")
    assert TEST_PASSWORD not in user.password_hash
    assert user.check_password(TEST_PASSWORD) and not user.check_password("falsch")


def test_login_and_logout(client, make_user, login):
    user = make_user("admin")
    login(user)
    html = client.get("/admin/").get_data(as_text=True)
    assert "Verwaltung" in html and user.name in html
    token = csrf_from(html)
    assert client.post("/abmelden", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302  # back to the login page


def test_wrong_password_is_refused_with_a_german_message(client, make_user, csrf_token):
    user = make_user("admin")
    response = client.post("/anmelden", data={"email": user.email, "password": "falsch", "csrf_token": csrf_token()})
    assert response.status_code == 401
    assert "E-Mail-Adresse oder Passwort ist falsch." in response.get_data(as_text=True)


def test_disabled_account_cannot_log_in(client, make_user, csrf_token):
    user = make_user("admin", is_enabled=False)
    response = client.post("/anmelden", data={"email": user.email, "password": TEST_PASSWORD,
                                              "csrf_token": csrf_token()})
    assert response.status_code == 401


def test_sixth_failed_login_in_a_minute_gets_429(client, make_user, csrf_token):
    user = make_user("admin")
    token = csrf_token()
    codes = [client.post("/anmelden", data={"email": user.email, "password": f"falsch{i}", "csrf_token": token},
                         environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    # Another address is not affected.
    other = client.post("/anmelden", data={"email": user.email, "password": "falsch", "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "203.0.113.10"})
    assert other.status_code == 401


def test_login_without_csrf_token_is_400(client, make_user):
    user = make_user("admin")
    response = client.post("/anmelden", data={"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 400


def test_session_cookie_flags(client, make_user, login):
    user = make_user("admin")
    token = csrf_from(client.get("/anmelden").get_data(as_text=True))
    response = client.post("/anmelden", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_reset_by_mail(client, app, make_user, csrf_token):
    user = make_user("editor", regions=["dortmund"])
    outbox = Path(app.instance_path) / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    response = client.post("/passwort-vergessen",
                           data={"email": user.email.upper(), "csrf_token": csrf_token("/passwort-vergessen")})
    assert response.status_code == 302
    new = set(outbox.glob("*.eml")) - before
    assert len(new) == 1
    from email import policy
    from email.parser import BytesParser

    mail = BytesParser(policy=policy.default).parsebytes(new.pop().read_bytes()).get_body(("plain",)).get_content()
    link = re.search(r"http://localhost(/passwort-zuruecksetzen/\S+)", mail).group(1)
    page = client.get(link)
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    bad = client.post(link, data={"password": "kurz", "confirm": "kurz", "csrf_token": token})
    assert bad.status_code == 400 and "mindestens 10 Zeichen" in bad.get_data(as_text=True)
    ok = client.post(link, data={"password": "ein-neues-passwort", "confirm": "ein-neues-passwort",
                                 "csrf_token": token})
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password("ein-neues-passwort")
    # The link works once only.
    assert client.get(link).status_code == 302


def test_unknown_address_gets_the_same_answer_and_no_mail(client, app, csrf_token):
    outbox = Path(app.instance_path) / "outbox"
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    response = client.post("/passwort-vergessen", data={"email": "niemand@example.org",
                                                         "csrf_token": csrf_token("/passwort-vergessen")})
    assert response.status_code == 302
    after = set(outbox.glob("*.eml")) if outbox.exists() else set()
    assert after == before


def test_api_token_shown_once_stored_hashed_and_revocable(client, make_user, login):
    user = make_user("editor", regions=["hagen"])
    login(user)
    token = csrf_from(client.get("/konto/tokens").get_data(as_text=True))
    html = client.post("/konto/tokens", data={"name": "Skript", "csrf_token": token}).get_data(as_text=True)
    plain = re.search(r'<code id="new-token">([^<]+)</code>', html).group(1)
    row = db.session.query(ApiToken).one()
    assert row.token_hash != plain and plain not in row.token_hash
    again = client.get("/konto/tokens").get_data(as_text=True)
    assert plain not in again
    client.post(f"/konto/tokens/{row.id}/widerrufen", data={"csrf_token": csrf_from(again)})
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).is_revoked


def test_coach_cannot_create_api_tokens(client, make_user, login):
    login(make_user("coach"))
    assert client.get("/konto/tokens").status_code == 403


def test_create_user_command_asks_for_the_password(app, taxonomy):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--role", "admin", "chefin@example.org"],
                           input="sehr-geheimes-pw\nsehr-geheimes-pw\n")
    assert result.exit_code == 0, result.output
    user = db.session.query(User).filter_by(email="chefin@example.org").one()
    assert user.role == "admin" and user.check_password("sehr-geheimes-pw")
    result = runner.invoke(args=["create-user", "--role", "admin", "chefin@example.org"],
                           input="sehr-geheimes-pw\nsehr-geheimes-pw\n")
    assert result.exit_code != 0 and "schon ein Konto" in result.output
    result = runner.invoke(args=["create-user", "--role", "editor", "red@example.org"],
                           input="sehr-geheimes-pw\nsehr-geheimes-pw\n")
    assert result.exit_code != 0 and "Region" in result.output
