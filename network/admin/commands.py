"""Admin commands for the flask CLI: remind-stale (confirm links for listings not confirmed for a year)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from network import clock
from network.directory.freshness import (
    REMIND_INTERVAL,
    STALE_AFTER,
    due_for_reminder,
    make_confirm_token,
    mark_reminded,
    reminder_text,
)
from network.extensions import db
from network.links import public_url
from network.mail import MailError


@click.command("remind-stale")
@click.option("--dry-run", is_flag=True,
              help="Nur anzeigen, wer eine Erinnerung bekäme; nichts senden, nichts speichern.")
@click.option("--base-url", default=None,
              help="Öffentliche Adresse der Anwendung für den Link "
                   "(sonst PUBLIC_BASE_URL aus der Konfiguration).")
@click.option("--include-demo", is_flag=True, help="Auch Demo-Einträge (erfundene Adressen) anschreiben.")
@with_appcontext
def remind_stale(dry_run: bool, base_url: str | None, include_demo: bool) -> None:
    """Inhaber veralteter Einträge per E-Mail um Bestätigung bitten (Link, ein Klick)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    base = base_url or app.config["PUBLIC_BASE_URL"]
    mailer = app.extensions["partnernetz.mailer"]
    secret = app.config["SECRET_KEY"]
    now = clock.now()
    due = due_for_reminder(db.session, now, include_demo=include_demo)
    click.echo(f"{len(due)} Einträge sind seit über {STALE_AFTER.days} Tagen unbestätigt und wurden in den "
               f"letzten {REMIND_INTERVAL.days} Tagen nicht erinnert.")
    sent: list[str] = []
    no_address: list[str] = []
    failed: list[str] = []
    # url_for needs a request context; the links themselves come from the public address (public_url).
    with app.test_request_context():
        with click.progressbar(due, label="Erinnerungen", show_pos=True) as bar:
            for reminder in bar:
                partner = reminder.partner
                label = f"#{partner.id} {partner.name}"
                if reminder.recipient is None:
                    no_address.append(label)
                    continue
                if dry_run:
                    sent.append(f"{label} -> {reminder.recipient}")
                    continue
                link = public_url("directory.confirm", base=base, token=make_confirm_token(partner, secret))
                subject, body = reminder_text(
                    partner, link, public_url("accounts.login", base=base),
                    public_url("directory.report", base=base, partner_id=partner.id))
                try:
                    mailer.send(mailer.new_message(reminder.recipient, subject, body))
                except MailError as exc:
                    failed.append(f"{label}: SMTP-Versand an {exc.recipient} fehlgeschlagen: {exc.detail}")
                    continue
                mark_reminded(db.session, partner, now)
                # Commit each one: if the run breaks off, nobody gets the same mail twice.
                db.session.commit()
                sent.append(f"{label} -> {reminder.recipient}")
    verb = "würden angeschrieben" if dry_run else "angeschrieben"
    for line in sent:
        click.echo(f"  {verb}: {line}")
    for line in no_address:
        click.echo(f"  ohne E-Mail-Adresse: {line}")
    for line in failed:
        click.echo(f"  FEHLER: {line}", err=True)
    click.echo(f"Zusammenfassung: {len(sent)} {verb}, {len(no_address)} ohne Adresse, {len(failed)} fehlgeschlagen"
               + (" (Probelauf, nichts gesendet)." if dry_run else "."))
    if failed:
        raise SystemExit(1)


admin_commands: list[click.Command] = [remind_stale]
