"""Account commands for the flask CLI: create-user."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from network.accounts.models import ROLES
from network.accounts.service import create_user
from network.directory.models import Partner, Region
from network.errors import problem_message
from network.extensions import db
from network.problems import Invalid


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True, help="Rolle des Kontos.")
@click.option("--name", default="", help="Anzeigename.")
@click.option("--region", "regions", multiple=True, help="Region (Slug) einer Redaktion; mehrfach möglich.")
@click.option("--partner-id", type=int, default=None, help="Eigener Eintrag eines Coachs/Scouts.")
@click.password_option("--password", prompt="Passwort", confirmation_prompt="Passwort wiederholen",
                       help="Wird abgefragt, wenn nicht angegeben.")
@with_appcontext
def create_user_cmd(email: str, role: str, name: str, regions: tuple[str, ...], partner_id: int | None,
                    password: str) -> None:
    """Ein Benutzerkonto anlegen (das Passwort wird abgefragt)."""
    region_rows = []
    for slug in regions:
        region = db.session.scalar(select(Region).where(Region.slug == slug))
        if region is None:
            raise click.BadParameter(f"Unbekannte Region „{slug}“.", param_hint="--region")
        region_rows.append(region)
    if role == "editor" and not region_rows:
        raise click.BadParameter("Eine Redaktion braucht mindestens eine Region.", param_hint="--region")
    partner = None
    if partner_id is not None:
        partner = db.session.get(Partner, partner_id)
        if partner is None:
            raise click.BadParameter(f"Es gibt keinen Eintrag #{partner_id}.", param_hint="--partner-id")
    if role == "coach" and partner is None:
        raise click.BadParameter("Ein Coach-Konto braucht seinen Eintrag.", param_hint="--partner-id")
    try:
        user = create_user(db.session, email, password, role, name=name, regions=region_rows, partner=partner)
    except Invalid as exc:
        db.session.rollback()
        raise click.BadParameter(problem_message(exc.first), param_hint=exc.first.field) from None
    db.session.commit()
    click.echo(f"Konto {user.email} ({role}) angelegt.")


account_commands: list[click.Command] = [create_user_cmd]
