"""Freshness: the staleness rule, confirm links (POST after GET, once only), remind-stale over a real SMTP server."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import null, select

from conftest import SmtpSink, csrf_from, free_port, smtp_server
from network import create_app
from network.audit import AuditEntry
from network.clock import utcnow
from network.directory.freshness import (
    STALE_AFTER,
    ConfirmLinkInvalid,
    is_stale,
    make_confirm_token,
    partner_from_confirm_token,
    stale_clause,
)
from network.directory.models import Partner
from network.extensions import db


@pytest.fixture(scope="module")
def mail_server() -> Iterator[SmtpSink]:
    with smtp_server() as sink:
        yield sink


@pytest.fixture(scope="module")
def mail_app(app: Flask, mail_server: SmtpSink) -> Flask:
    """A second app on the same database whose mail goes to the local SMTP server."""

    class MailTestConfig(_config_like(app)):
        MAIL_SERVER = "127.0.0.1"
        MAIL_PORT = mail_server.port
        PUBLIC_BASE_URL = "https://partnernetz.example.org"

    return create_app(MailTestConfig)


@pytest.fixture()
def mails(mail_server: SmtpSink) -> list[tuple[list[str], EmailMessage]]:
    mail_server.clear()
    return mail_server.received


def _remind(mail_app: Flask, *args: str):
    # The command must run in the mail app's context, not in the session app's that app_ctx pushed.
    with mail_app.app_context():
        result = mail_app.test_cli_runner().invoke(args=["remind-stale", *args])
        db.session.remove()
    db.session.expire_all()
    return result


# --- the rule -------------------------------------------------------------------------------------


def test_stale_after_twelve_months(app_ctx, make_partner):
    now = utcnow()
    fresh = make_partner(confirmed_at=now - STALE_AFTER + timedelta(days=1))
    stale = make_partner(confirmed_at=now - timedelta(days=366))
    never = make_partner(confirmed_at=null())
    assert STALE_AFTER == timedelta(days=365)
    assert not is_stale(fresh, now)
    assert is_stale(stale, now) and is_stale(never, now)
    assert is_stale(fresh, now + timedelta(days=2))  # a day later it has turned
    # The SQL form of the rule agrees with the Python one.
    ids = set(db.session.scalars(select(Partner.id).where(stale_clause(now))))
    assert ids == {stale.id, never.id}


# --- confirm links --------------------------------------------------------------------------------


def test_confirm_token_checks(app_ctx, make_partner):
    secret = app_ctx.config["SECRET_KEY"]
    partner = make_partner(confirmed_at=utcnow() - timedelta(days=400))
    token = make_confirm_token(partner, secret)
    assert partner_from_confirm_token(db.session, token, secret).id == partner.id
    with pytest.raises(ConfirmLinkInvalid) as exc:
        partner_from_confirm_token(db.session, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), secret)
    assert exc.value.reason == "invalid"
    with pytest.raises(ConfirmLinkInvalid) as exc:
        partner_from_confirm_token(db.session, token, "another-secret")
    assert exc.value.reason == "invalid"
    with pytest.raises(ConfirmLinkInvalid) as exc:
        partner_from_confirm_token(db.session, token, secret, max_age=timedelta(seconds=-1))
    assert exc.value.reason == "expired"
    # Saving the listing (a new confirmed_at) spends the link.
    partner.confirmed_at = utcnow()
    db.session.commit()
    with pytest.raises(ConfirmLinkInvalid) as exc:
        partner_from_confirm_token(db.session, token, secret)
    assert exc.value.reason == "used"


def test_confirm_link_get_changes_nothing_and_post_confirms_once(client, app, make_partner):
    old = utcnow() - timedelta(days=400)
    partner = make_partner(name="Bitte bestätigen", confirmed_at=old)
    token = make_confirm_token(partner, app.config["SECRET_KEY"])

    page = client.get(f"/bestaetigen/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Bitte bestätigen" in html and "<form" in html
    db.session.expire_all()
    assert is_stale(db.session.get(Partner, partner.id))  # a mail scanner's GET confirms nothing

    assert client.post(f"/bestaetigen/{token}", data={}).status_code == 400  # CSRF required
    done = client.post(f"/bestaetigen/{token}", data={"csrf_token": csrf_from(html)})
    assert done.status_code == 200 and "ist bestätigt" in done.get_data(as_text=True)
    db.session.expire_all()
    assert not is_stale(db.session.get(Partner, partner.id))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "confirm"))
    assert (entry.entity_id, entry.actor_id, entry.actor_label, entry.note) == (partner.id, None, "System",
                                                                                "per Bestätigungslink")

    again = client.post(f"/bestaetigen/{token}", data={"csrf_token": csrf_from(html)})
    assert again.status_code == 410 and "schon verwendet" in again.get_data(as_text=True)
    assert client.get(f"/bestaetigen/{token}").status_code == 410
    assert client.get("/bestaetigen/unsinn").status_code == 404
    assert len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "confirm")).all()) == 1


# --- remind-stale ---------------------------------------------------------------------------------


def test_remind_stale_mails_the_owner_a_link_that_confirms_once(client, app, mail_app, mails, make_partner,
                                                                make_user):
    now = utcnow()
    with_coach = make_partner(name="Coach-Eintrag", email="eintrag@example.org", confirmed_at=now - timedelta(days=400))
    coach = make_user("coach", partner=with_coach, email="coach.selbst@example.org")
    own_mail = make_partner(name="Nur Eintragsadresse", email="nur.eintrag@example.org", confirmed_at=null())
    no_mail = make_partner(name="Ohne Adresse", email="", confirmed_at=now - timedelta(days=500))
    make_partner(name="Frisch", confirmed_at=now - timedelta(days=30))
    make_partner(name="Archiviert", confirmed_at=now - timedelta(days=900), is_archived=True)
    make_partner(name="Demo", confirmed_at=now - timedelta(days=900), is_demo=True)
    make_partner(name="Kürzlich erinnert", confirmed_at=now - timedelta(days=900), reminded_at=now - timedelta(days=10))

    result = _remind(mail_app)
    assert result.exit_code == 0, result.output
    assert "Zusammenfassung: 2 angeschrieben, 1 ohne Adresse, 0 fehlgeschlagen" in result.output
    assert "Ohne Adresse" in result.output

    recipients = sorted(rcpt for rcpts, _ in mails for rcpt in rcpts)
    assert recipients == [coach.email, "nur.eintrag@example.org"]
    message = next(message for rcpts, message in mails if rcpts == [coach.email])
    assert "Coach-Eintrag" in message["Subject"]
    body = message.get_content()
    link = re.search(r"https://partnernetz\.example\.org/bestaetigen/\S+", body).group(0)
    assert f"https://partnernetz.example.org/partner/{with_coach.id}/melden" in body  # changes without an account
    assert "https://partnernetz.example.org/anmelden" in body  # editing stays behind login

    db.session.expire_all()
    assert db.session.get(Partner, with_coach.id).reminded_at is not None
    assert db.session.get(Partner, no_mail.id).reminded_at is None

    # The link: GET shows a button, POST confirms, a second POST does nothing.
    path = urlsplit(link).path
    page = client.get(path)
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 200
    assert client.post(path, data={"csrf_token": token}).status_code == 410
    db.session.expire_all()
    assert not is_stale(db.session.get(Partner, with_coach.id))
    assert is_stale(db.session.get(Partner, own_mail.id))
    confirms = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "confirm")).all()
    assert [(e.entity_id, e.actor_label) for e in confirms] == [(with_coach.id, "System")]

    # A second run within 30 days writes to nobody again.
    mails.clear()
    result = _remind(mail_app)
    assert result.exit_code == 0, result.output
    assert "Zusammenfassung: 0 angeschrieben, 1 ohne Adresse" in result.output
    assert mails == []


def test_reminder_is_sent_again_after_thirty_days(mail_app, mails, make_partner):
    now = utcnow()
    partner = make_partner(email="wieder@example.org", confirmed_at=now - timedelta(days=400),
                           reminded_at=now - timedelta(days=31))
    result = _remind(mail_app)
    assert result.exit_code == 0, result.output
    assert [rcpts for rcpts, _ in mails] == [["wieder@example.org"]]
    reminded = db.session.get(Partner, partner.id).reminded_at
    assert reminded > now - timedelta(minutes=5)


def test_dry_run_sends_and_stores_nothing(mail_app, mails, make_partner):
    partner = make_partner(name="Probelauf", email="probe@example.org", confirmed_at=null())
    result = _remind(mail_app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "würden angeschrieben: #" in result.output and "probe@example.org" in result.output
    assert "Probelauf, nichts gesendet" in result.output
    assert mails == []
    assert db.session.get(Partner, partner.id).reminded_at is None


def test_a_failed_mail_is_reported_and_retried_next_time(app, make_partner):
    class DeadSmtpConfig(_config_like(app)):
        MAIL_SERVER = "127.0.0.1"
        MAIL_PORT = free_port()  # nothing listens here

    dead_app = create_app(DeadSmtpConfig)
    partner = make_partner(email="niemand@example.org", confirmed_at=null())
    result = _remind(dead_app)
    assert result.exit_code == 1
    assert "1 fehlgeschlagen" in result.output
    assert db.session.get(Partner, partner.id).reminded_at is None


def _config_like(app: Flask):
    from config import TestConfig

    class SameDatabase(TestConfig):
        INSTANCE_PATH = app.instance_path
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        GEOCODE_CACHE_PATH = app.config["GEOCODE_CACHE_PATH"]
        SECRET_KEY = app.config["SECRET_KEY"]

    return SameDatabase
