"""Directory commands for the flask CLI: seed-demo, import-partners, export-partners."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from network.clock import now
from network.demo import run_demo_loaders
from network.directory.csvio import export_partners, import_partners, line_of, read_table
from network.directory.demo import seed_demo, seed_demo_if_empty
from network.directory.demo_accounts import demo_login_hint
from network.directory.taxonomy import ensure_taxonomy
from network.errors import problem_message
from network.extensions import db
from network.problems import Invalid, Problem


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Nur wenn es noch gar keinen Partner gibt (für Container-Starts).")
@with_appcontext
def seed_demo_cmd(if_empty: bool) -> None:
    """Demo-Einträge anlegen: erfundene Personen bei echten Einrichtungen, als Demo markiert."""
    created = seed_demo_if_empty(db.session) if if_empty else seed_demo(db.session)
    if created or not if_empty:
        # After the listings: demo accounts, every coach's calendar, whatever the other domains registered.
        run_demo_loaders(db.session, now())
    db.session.commit()
    if created:
        click.echo(f"{created} Demo-Partner angelegt.")
    elif if_empty:
        click.echo("Es gibt schon Partner; keine Demo-Daten angelegt.")
    else:
        click.echo("Die Demo-Daten sind schon vollständig vorhanden; nichts angelegt.")
    hint = demo_login_hint(db.session)
    if hint:
        click.echo(hint)


@click.command("import-partners")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@with_appcontext
def import_partners_cmd(path: str) -> None:
    """Partner aus einer CSV-Datei importieren (Format: docs/csv-format.md; "-" liest von stdin).

    Alle Zeilen werden zuerst geprüft; bei einem einzigen Fehler wird nichts gespeichert.
    """
    geocoder = current_app.extensions["partnernetz.geocoder"]
    try:
        # A fresh database has no kinds or regions yet; without them every row would be "unknown".
        ensure_taxonomy(db.session)
        with click.open_file(path, "rb") as fh:
            table = read_table(fh)
        # stderr: progress is not a result; stdout keeps only the summary line.
        with click.progressbar(length=len(table), label="Zeilen prüfen und geokodieren", show_pos=True,
                               file=sys.stderr) as bar:
            report = import_partners(db.session, table, geocoder, progress=lambda done: bar.update(done - bar.pos))
    except Invalid as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.echo(row_error_line(problem), err=True)
        click.echo(f"Nichts gespeichert: {len(exc.problems)} Fehler.", err=True)
        raise click.exceptions.Exit(1) from None
    db.session.commit()
    click.echo(
        f"{report.created} Partner importiert "
        f"({report.geocoded} geokodiert, {report.organisations_created} neue Organisationen)."
    )


def row_error_line(problem: Problem) -> str:
    """One problem of a CSV file as the command prints it: "Zeile 3, Feld email: <message>"."""
    where = f"Zeile {line_of(problem)}" + (f", Feld {problem.field}" if problem.field else "")
    return f"{where}: {problem_message(problem)}"


@click.command("export-partners")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option("--delimiter", type=click.Choice([";", ","]), default=";", show_default=True,
              help='";" mit Dezimalkomma (deutsches Excel) oder "," mit Dezimalpunkt.')
@with_appcontext
def export_partners_cmd(path: str, delimiter: str) -> None:
    """Alle nicht archivierten Partner als CSV exportieren ("-" schreibt nach stdout)."""
    to_stdout = path == "-"
    # atomic: a failed export leaves the previous file intact instead of half a file.
    with click.open_file(path, "wb", atomic=not to_stdout) as fh:
        count = export_partners(db.session, fh, delimiter=delimiter)
    # On stdout the data is the output; the count goes to stderr so that it does not end up in the CSV.
    click.echo(f"{count} Partner exportiert" + ("." if to_stdout else f" nach {path}."), err=to_stdout)


directory_commands: list[click.Command] = [seed_demo_cmd, import_partners_cmd, export_partners_cmd]
