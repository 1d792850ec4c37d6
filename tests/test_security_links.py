"""Issue 8, finding 2: links in mails come from PUBLIC_BASE_URL, never from a forged Host header; production
refuses unknown hosts."""
from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from config import ProductionConfig
from conftest import csrf_from
from test_scheduling_api import body

EVIL = "evil.example"


def _links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


def _texts(message) -> str:
    """Every text part of a mail, decoded (bodies may be quoted-printable or base64)."""
    return "\n".join(part.get_content() for part in message.walk()
                     if part.get_content_maintype() == "text" and not part.is_multipart())


def _outbox_mails(app: Flask) -> set[Path]:
    outbox = Path(app.instance_path) / "outbox"
    return set(outbox.glob("*.eml")) if outbox.exists() else set()


def test_password_reset_mail_links_to_the_public_address_under_a_forged_host(client, app, make_user):
    user = make_user("editor", regions=["dortmund"])
    before = _outbox_mails(app)
    # The form fetched under the forged host too: the session cookie belongs to that host.
    token = csrf_from(client.get("/passwort-vergessen", headers={"Host": EVIL}).get_data(as_text=True))
    response = client.post("/passwort-vergessen", data={"email": user.email, "csrf_token": token},
                           headers={"Host": EVIL})
    assert response.status_code in (302, 303)
    [mail] = _outbox_mails(app) - before
    links = _links(mail.read_text(encoding="utf-8", errors="replace"))
    assert links and all(link.startswith(app.config["PUBLIC_BASE_URL"]) for link in links), links
    assert EVIL not in mail.read_text(encoding="utf-8", errors="replace")


def test_visit_request_mails_and_answer_link_to_the_public_address_under_a_forged_host(client, app, coach, smtp):
    response = client.post("/api/visits", json=body(coach.id), headers={"Host": EVIL})
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["manage_url"].startswith(app.config["PUBLIC_BASE_URL"] + "/")
    texts = [_texts(message) for message in smtp.messages]
    assert texts and all(EVIL not in text for text in texts)
    links = [link for text in texts for link in _links(text)]
    assert links and all(link.startswith(app.config["PUBLIC_BASE_URL"]) for link in links), links


def test_the_request_form_mails_no_forged_host(client, app, coach, smtp):
    page = client.get(f"/partner/{coach.id}/termin", headers={"Host": EVIL}).get_data(as_text=True)
    response = client.post(f"/partner/{coach.id}/termin", headers={"Host": EVIL}, data={
        "csrf_token": csrf_from(page), "duration": "60", "start": "2026-12-01T10:00:00+01:00",
        "firm_name": "Beispiel GmbH", "firm_address": "Hauptstraße 5, 58332 Schwelm", "contact": "Erika Muster",
        "email": "erika@example.org"})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    texts = [_texts(message) for message in smtp.messages]
    assert texts and all(EVIL not in text for text in texts)


def test_production_refuses_a_host_other_than_the_public_one(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    monkeypatch.setenv("PARTNERNETZ_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://partnernetz.example.org")
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    settings = ProductionConfig.settings()
    assert settings["TRUSTED_HOSTS"] == ["partnernetz.example.org"]
