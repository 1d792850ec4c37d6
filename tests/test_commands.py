"""CLI commands seed-demo, import-partners, export-partners: exit codes, output, nothing written on error."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from network.directory.csvio import COLUMNS
from network.directory.demo import DEMO_LISTINGS
from network.directory.models import Partner
from network.extensions import db

HEADER = ",".join(COLUMNS)
GOOD_LINE = ("Erika Musterfrau,innovationscoach,Wirtschaftsförderungsagentur Ennepe-Ruhr,ennepe-ruhr-kreis,"
             "prozessoptimierung,Hauptstraße 92,58332,Schwelm,51.2857,7.2930,40,erika@example.org,,,de,,ja,")


def line(name: str, email: str = "x@example.org", lat: str = "51.2857", lon: str = "7.2930") -> str:
    return (f"{name},innovationscoach,,ennepe-ruhr-kreis,prozessoptimierung,Hauptstraße 92,58332,Schwelm,"
            f"{lat},{lon},40,{email},,,de,,ja,")


def write_csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join((HEADER,) + lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def runner(app_ctx):
    return app_ctx.test_cli_runner()


def partner_count() -> int:
    db.session.rollback()  # see what the command committed, not this session's leftovers
    return db.session.scalar(select(func.count(Partner.id)))


# --- seed-demo ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_seed_demo_creates_and_reports(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert f"{len(DEMO_LISTINGS)} Demo-Partner angelegt." in result.output
    assert partner_count() == len(DEMO_LISTINGS)

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0
    assert "schon vollständig vorhanden" in again.output
    assert partner_count() == len(DEMO_LISTINGS)


def test_seed_demo_if_empty(runner, make_partner):
    make_partner(name="Echt")
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert "Es gibt schon Partner" in result.output
    assert partner_count() == 1


@pytest.mark.slow
def test_seed_demo_if_empty_on_an_empty_database(runner):
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert "Demo-Partner angelegt" in result.output
    assert partner_count() == len(DEMO_LISTINGS)


# --- import-partners ------------------------------------------------------------------------------


def test_import_success_commits_and_shows_progress(runner, taxonomy, tmp_path):
    path = write_csv(tmp_path / "ok.csv", GOOD_LINE, line("Zwei"), line("Drei", lat="", lon=""))
    result = runner.invoke(args=["import-partners", str(path)])
    assert result.exit_code == 0, result.output
    assert "Zeilen prüfen und geokodieren" in result.stderr  # the progress bar's label
    assert "3 Partner importiert (1 geokodiert, 1 neue Organisationen)." in result.stdout
    assert partner_count() == 3


def test_import_on_a_fresh_database_creates_the_taxonomy(runner, tmp_path):
    result = runner.invoke(args=["import-partners", str(write_csv(tmp_path / "ok.csv", GOOD_LINE))])
    assert result.exit_code == 0, result.output
    assert partner_count() == 1


def test_import_failure_lists_every_bad_row_and_writes_nothing(runner, taxonomy, tmp_path):
    lines = [line(f"P{i}") for i in range(20)]
    lines[15] = line("P15", email="kaputt")  # line 17 in the spreadsheet: header + 16
    lines[18] = line("P18", lat="95")
    path = write_csv(tmp_path / "bad.csv", *lines)
    result = runner.invoke(args=["import-partners", str(path)])
    assert result.exit_code == 1
    assert "Zeile 17, Feld email: „kaputt“ ist keine gültige E-Mail-Adresse." in result.stderr
    assert "Zeile 20, Feld latitude:" in result.stderr
    assert "Nichts gespeichert: 2 Fehler." in result.stderr
    assert "importiert" not in result.stdout
    assert partner_count() == 0


def test_import_rejects_a_file_with_unknown_columns(runner, taxonomy, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("name,kind,region,telefax\nA,innovationscoach,hagen,123\n", encoding="utf-8")
    result = runner.invoke(args=["import-partners", str(path)])
    assert result.exit_code == 1
    assert "Zeile 1, Feld telefax: Unbekannte Spalte" in result.stderr
    assert partner_count() == 0


def test_import_reads_stdin(runner, taxonomy):
    data = ("\ufeff" + HEADER.replace(",", ";") + "\n" + GOOD_LINE.replace(",", ";") + "\n").encode("utf-8")
    result = runner.invoke(args=["import-partners", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert "1 Partner importiert" in result.stdout
    assert partner_count() == 1


def test_import_of_a_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(args=["import-partners", str(tmp_path / "fehlt.csv")])
    assert result.exit_code == 2


# --- export-partners ------------------------------------------------------------------------------


@pytest.mark.slow
def test_export_to_file_and_reimport(runner, tmp_path):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    target = tmp_path / "export.csv"
    result = runner.invoke(args=["export-partners", str(target)])
    assert result.exit_code == 0, result.output
    assert f"{len(DEMO_LISTINGS)} Partner exportiert nach {target}." in result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + ";".join(COLUMNS).encode())

    db.session.query(Partner).delete()
    db.session.commit()
    again = runner.invoke(args=["import-partners", str(target)])
    assert again.exit_code == 0, again.output
    assert partner_count() == len(DEMO_LISTINGS)


def test_export_to_stdout_leaves_archived_partners_out(runner, make_partner):
    make_partner(name="Aktiv", phone="+49 2336 0000")
    make_partner(name="Archiviert", is_archived=True)
    result = runner.invoke(args=["export-partners", "-", "--delimiter", ","])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout.removeprefix("\ufeff"))))
    assert [r["name"] for r in rows] == ["Aktiv"]
    assert rows[0]["phone"] == "'+49 2336 0000"  # formula-neutralised
    assert rows[0]["latitude"] == "51.2857"  # "," delimiter: decimal point
    assert "1 Partner exportiert." in result.stderr  # the count stays out of the CSV


def test_commands_are_registered(app):
    for name in ("seed-demo", "import-partners", "export-partners"):
        assert name in app.cli.commands
