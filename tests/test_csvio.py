"""CSV import/export: round trip, encodings and delimiters, all-or-nothing validation, formula neutralisation."""
from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from conftest import partner_count
from network.directory.csvio import (
    COLUMNS,
    export_partners,
    import_partners,
    line_of,
    read_table,
    validate_rows,
)
from network.directory.demo import XSS_DEMO_NAME, seed_demo
from network.directory.models import Organisation, Partner
from network.extensions import db
from network.problems import Invalid, Problem

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

GOOD = {
    "name": "Erika Musterfrau",
    "kind": "innovationscoach",
    "organisation": "Wirtschaftsförderungsagentur Ennepe-Ruhr",
    "region": "ennepe-ruhr-kreis",
    "topics": "prozessoptimierung|it-sicherheit",
    "street": "Hauptstraße 92",
    "postcode": "58332",
    "city": "Schwelm",
    "latitude": "51.2857",
    "longitude": "7.2930",
    "service_radius_km": "40",
    "email": "erika.musterfrau@example.org",
    "phone": "+49 2336 00000-1",
    "website": "https://www.example.org",
    "languages": "de,en",
    "description": "Innovationscoach im Ennepe-Ruhr-Kreis.",
    "is_person": "ja",
    "confirmed_at": "2026-03-01",
}


def row(**overrides: str) -> dict[str, str]:
    values = dict(GOOD)
    values.update(overrides)
    return values


def csv_bytes(rows: Sequence[dict[str, str]], *, delimiter: str = ",", bom: bool = False,
              columns: Sequence[str] = COLUMNS) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for values in rows:
        writer.writerow([values.get(col, "") for col in columns])
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


@pytest.fixture()
def geocoder(app_ctx):
    return current_app.extensions["partnernetz.geocoder"]


def run_import(data: bytes, geocoder, now: datetime | None = NOW):
    return import_partners(db.session, io.BytesIO(data), geocoder, now=now)


def import_errors(data: bytes, geocoder) -> list[Problem]:
    with pytest.raises(Invalid) as info:
        run_import(data, geocoder)
    return info.value.problems


def where(errors: Sequence[Problem]) -> list[tuple[int, str]]:
    """(line, column) of each problem; "" for a whole line."""
    return [(line_of(e), e.field or "") for e in errors]


def snapshot() -> list[tuple]:
    """Everything the CSV carries, per partner, independent of ids."""
    out = []
    for p in db.session.scalars(select(Partner)):
        confirmed = None
        if p.confirmed_at is not None:
            # The CSV carries the calendar day in Berlin, not the time of day.
            confirmed = p.confirmed_at.astimezone(BERLIN)
        out.append((
            p.name, p.kind.slug, p.organisation.name if p.organisation else "", p.region.slug,
            tuple(sorted(t.slug for t in p.topics)), p.street, p.postcode, p.city, p.latitude, p.longitude,
            p.service_radius_km, p.email, p.phone, p.website, p.languages, p.description, p.is_person,
            confirmed.date() if confirmed else None,
        ))
    return sorted(out)


def export_bytes(**kwargs) -> bytes:
    buffer = io.BytesIO()
    export_partners(db.session, buffer, **kwargs)
    return buffer.getvalue()


def wipe_partners() -> None:
    db.session.query(Partner).delete()
    db.session.query(Organisation).delete()
    db.session.commit()


# --- round trip -----------------------------------------------------------------------------------


def test_export_then_import_gives_the_same_data(taxonomy, geocoder, make_partner):
    seed_demo(db.session, now=NOW)
    make_partner(
        name='=HYPERLINK("http://evil.example","klick")', organisation="-Minus GmbH",
        description='Zeile eins\nZeile zwei; mit "Anführungszeichen", Komma und |Pipe|',
        phone="+49 2336 0000", city="@Schwelm", street="+Plusweg 1", website="",
        latitude=51.2857, longitude=-7.2930, service_radius_km=12.5, languages="de,tr",
        is_person=False, confirmed_at=datetime(2025, 1, 31, 23, 30, tzinfo=UTC),
    )
    make_partner(name="'Apostroph", organisation="", topics=[], description="", confirmed_at=NOW)
    db.session.commit()
    before = snapshot()
    data = export_bytes()

    wipe_partners()
    report = run_import(data, geocoder)
    db.session.commit()

    assert report.created == len(before)
    assert report.geocoded == 0
    assert snapshot() == before
    assert export_bytes() == data  # and the export of the import is byte for byte the same file


@pytest.mark.slow
def test_round_trip_with_comma_delimiter(taxonomy, geocoder):
    seed_demo(db.session, now=NOW)
    db.session.commit()
    before = snapshot()
    data = export_bytes(delimiter=",")
    assert data.splitlines()[0].decode("utf-8-sig").startswith("name,kind,organisation")
    wipe_partners()
    run_import(data, geocoder)
    assert snapshot() == before


def test_export_is_utf8_with_bom_semicolons_and_decimal_commas(make_partner):
    make_partner(name="Jürgen Größe", latitude=51.2857, longitude=7.293, service_radius_km=30.0)
    data = export_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    header, line = text.splitlines()[:2]
    assert header.split(";") == list(COLUMNS)
    cells = dict(zip(COLUMNS, next(csv.reader([line], delimiter=";")), strict=True))
    assert cells["name"] == "Jürgen Größe"
    assert (cells["latitude"], cells["longitude"], cells["service_radius_km"]) == ("51,2857", "7,293", "30")


def test_export_leaves_out_archived_partners_and_accepts_a_selection(make_partner):
    kept = make_partner(name="Aktiv")
    make_partner(name="Archiviert", is_archived=True)
    names = [r["name"] for r in csv.DictReader(io.StringIO(export_bytes().decode("utf-8-sig")), delimiter=";")]
    assert names == ["Aktiv"]
    selected = export_bytes(partners=[kept])
    assert selected.decode("utf-8-sig").count("\r\n") == 2
    query = select(Partner).where(Partner.name == "Archiviert")
    assert "Archiviert" in export_bytes(partners=query).decode("utf-8-sig")


def test_export_to_a_text_stream(make_partner):
    make_partner(name="Text")
    buffer = io.StringIO(newline="")
    assert export_partners(db.session, buffer) == 1
    assert buffer.getvalue().startswith("\ufeffname;kind;")


# --- encodings and delimiters ---------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [False, True])
def test_import_accepts_bom_and_sniffs_the_delimiter(taxonomy, geocoder, delimiter, bom):
    data = csv_bytes([row(), row(name="Zweiter Eintrag", latitude="51,30", longitude="7,30")],
                     delimiter=delimiter, bom=bom)
    report = run_import(data, geocoder)
    assert report.created == 2
    erika = db.session.scalar(select(Partner).where(Partner.name == "Erika Musterfrau"))
    assert erika.organisation.name == "Wirtschaftsförderungsagentur Ennepe-Ruhr"
    assert [t.slug for t in erika.topics] == ["prozessoptimierung", "it-sicherheit"]
    assert (erika.latitude, erika.longitude, erika.service_radius_km) == (51.2857, 7.2930, 40.0)
    assert erika.is_person and not erika.is_demo
    assert erika.search_text  # refresh_search_fields ran
    second = db.session.scalar(select(Partner).where(Partner.name == "Zweiter Eintrag"))
    assert (second.latitude, second.longitude) == (51.30, 7.30)


def test_semicolon_file_as_german_excel_writes_it(taxonomy, geocoder):
    text = (
        "\ufeffName;Kind;Organisation;Region;Topics;Street;Postcode;City;Latitude;Longitude;Service_Radius_km\r\n"
        "Ömer Çelik;Technologiescout;Südwestfalen Agentur;Märkischer Kreis;IT-Sicherheit|Datenanalyse & KI;"
        "Heedfelder Straße 45;58509;Lüdenscheid;51,2198;7,6273;45,5\r\n"
    )
    report = run_import(text.encode("utf-8"), geocoder)
    assert report.created == 1
    partner = db.session.scalar(select(Partner))
    assert partner.kind.slug == "technologiescout"
    assert partner.region.slug == "maerkischer-kreis"
    assert {t.slug for t in partner.topics} == {"it-sicherheit", "datenanalyse-ki"}
    assert partner.service_radius_km == 45.5
    assert partner.languages == "de" and partner.confirmed_at is None


def test_names_match_regardless_of_case_and_umlaut_spelling(taxonomy, geocoder):
    data = csv_bytes([row(kind="INNOSCHECK-FACHBERATER", region="maerkischer kreis",
                          topics="arbeit 4.0 & qualifizierung")])
    run_import(data, geocoder)
    partner = db.session.scalar(select(Partner))
    assert partner.kind.slug == "innoscheck-fachberater"
    assert partner.region.slug == "maerkischer-kreis"
    assert [t.slug for t in partner.topics] == ["arbeit-qualifizierung"]


def test_existing_organisation_is_reused(taxonomy, geocoder):
    db.session.add(Organisation(name="TU Dortmund", org_type="university_institute"))
    db.session.commit()
    data = csv_bytes([row(name="A", organisation="TU Dortmund"), row(name="B", organisation="tu dortmund"),
                      row(name="C", organisation="Neue Beratung GmbH", kind="innoscheck-fachberater")])
    report = run_import(data, geocoder)
    assert report.organisations_created == 1
    assert db.session.scalar(select(func.count(Organisation.id))) == 2
    new = db.session.scalar(select(Organisation).where(Organisation.name == "Neue Beratung GmbH"))
    assert new.org_type == "consultancy"


def test_non_utf8_file_is_refused_with_a_hint(taxonomy, geocoder):
    data = csv_bytes([row()]).decode("utf-8").encode("cp1252")
    errors = import_errors(data, geocoder)
    assert len(errors) == 1
    assert errors[0].code == "csv.not_utf8"
    assert line_of(errors[0]) == 2  # the first umlaut is in the data row
    assert partner_count() == 0


def test_header_problems_are_reported_on_line_one(taxonomy, geocoder):
    errors = import_errors(b"name,kind,emial\r\nA,innovationscoach,a@example.org\r\n", geocoder)
    assert set(where(errors)) == {(1, "emial"), (1, "region")}
    assert {e.code for e in errors} == {"column.unknown", "column.missing"}


def test_trailing_empty_columns_are_ignored_but_stray_values_are_not(taxonomy, geocoder):
    header = "name;kind;region;latitude;longitude;;\r\n"
    ok = header + "A;innovationscoach;hagen;51.36;7.47;;\r\n"
    assert run_import(ok.encode(), geocoder).created == 1
    bad = header + "B;innovationscoach;hagen;51.36;7.47;;\r\nC;innovationscoach;hagen;51.36;7.47;;verloren;x\r\n"
    errors = import_errors(bad.encode(), geocoder)
    assert where(errors) == [(3, "")]
    assert errors[0].code == "csv.stray_cell" and errors[0].params["column"] == 7


def test_empty_lines_are_skipped_but_counted(taxonomy, geocoder):
    data = csv_bytes([row(name="A")]) + b",,,,\r\n\r\n" + csv_bytes([row(name="B", email="kaputt")])[
        len(csv_bytes([])):]
    errors = import_errors(data, geocoder)
    assert where(errors) == [(5, "email")]


def test_line_numbers_count_records_not_physical_lines(taxonomy, geocoder):
    # A quoted line break stays inside one spreadsheet row, so the bad row is line 3, not 5.
    data = csv_bytes([row(name="A", description="eins\nzwei\ndrei"), row(name="B", email="nope")])
    errors = import_errors(data, geocoder)
    assert where(errors) == [(3, "email")]


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, field, code",
    [
        ({"name": ""}, "name", "name.missing"),
        ({"kind": "Zauberer"}, "kind", "kind.unknown"),
        ({"kind": ""}, "kind", "kind.missing"),
        ({"region": "Bayern"}, "region", "region.unknown"),
        ({"topics": "prozessoptimierung|Blockchain"}, "topics", "topic.unknown"),
        ({"longitude": ""}, "longitude", "coordinates.incomplete"),
        ({"latitude": ""}, "latitude", "coordinates.incomplete"),
        ({"latitude": "91"}, "latitude", "latitude.out_of_range"),
        ({"longitude": "-181"}, "longitude", "longitude.out_of_range"),
        ({"latitude": "7.29", "longitude": "51.28"}, "latitude", "coordinates.swapped"),
        ({"latitude": "nord"}, "latitude", "number.invalid"),
        ({"latitude": "nan"}, "latitude", "number.not_finite"),
        ({"email": "erika@"}, "email", "email.invalid"),
        ({"service_radius_km": "weit"}, "service_radius_km", "number.invalid"),
        ({"service_radius_km": "0"}, "service_radius_km", "service_radius_km.out_of_range"),
        ({"service_radius_km": "9999"}, "service_radius_km", "service_radius_km.out_of_range"),
        ({"postcode": "5833"}, "postcode", "postcode.invalid"),
        ({"website": "javascript:alert(1)"}, "website", "website.invalid"),
        ({"languages": "deutsch"}, "languages", "languages.invalid"),
        ({"is_person": "vielleicht"}, "is_person", "boolean.invalid"),
        ({"confirmed_at": "gestern"}, "confirmed_at", "date.invalid"),
        ({"confirmed_at": "2030-01-01"}, "confirmed_at", "date.in_future"),
        ({"name": "x" * 201}, "name", "value.too_long"),
        ({"description": "a\x00b"}, "description", "value.control_character"),
        ({"latitude": "", "longitude": "", "postcode": "", "city": ""}, "city", "place.missing"),
    ],
)
def test_bad_values_name_line_field_and_reason(taxonomy, geocoder, overrides, field, code):
    data = csv_bytes([row(name="Gut"), row(**overrides)])
    errors = import_errors(data, geocoder)
    assert where(errors) == [(3, field)], errors
    assert errors[0].code == code
    assert partner_count() == 0


def test_every_error_of_every_row_is_reported(taxonomy, geocoder):
    data = csv_bytes([row(name="A", email="x"), row(name="B"), row(name="", kind="nix", region="nix")])
    errors = import_errors(data, geocoder)
    assert where(errors) == [(2, "email"), (4, "name"), (4, "kind"), (4, "region")]


def test_duplicate_rows_in_the_file(taxonomy, geocoder):
    data = csv_bytes([row(), row(name="Anderer"), row(name="erika musterfrau")])
    errors = import_errors(data, geocoder)
    assert where(errors) == [(4, "name")]
    assert errors[0].code == "row.duplicate" and errors[0].params["other"] == 2


def test_validate_rows_writes_nothing_and_returns_the_good_rows(taxonomy, geocoder):
    data = csv_bytes([row(name="A"), row(name="B", email="kaputt")])
    result = validate_rows(db.session, io.BytesIO(data), geocoder, now=NOW)
    assert not result.ok
    assert [r.name for r in result.rows] == ["A"]
    assert where(result.errors) == [(3, "email")]
    assert not db.session.new


@pytest.mark.parametrize("written, stored", [
    ("www.example.org/team", "https://www.example.org/team"),
    ("www.example.org:8080", "https://www.example.org:8080"),
    ("HTTP://Example.org", "HTTP://Example.org"),
])
def test_website_without_scheme_gets_https(taxonomy, geocoder, written, stored):
    run_import(csv_bytes([row(website=written)]), geocoder)
    assert db.session.scalar(select(Partner.website)) == stored


@pytest.mark.parametrize("website", ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org", "http://"])
def test_website_other_schemes_are_refused(taxonomy, geocoder, website):
    errors = import_errors(csv_bytes([row(website=website)]), geocoder)
    assert where(errors) == [(2, "website")]


def test_confirmed_at_accepts_german_dates_as_berlin_days(taxonomy, geocoder):
    run_import(csv_bytes([row(confirmed_at="01.03.2026")]), geocoder)
    confirmed = db.session.scalar(select(Partner.confirmed_at))
    assert confirmed == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)  # midnight in Berlin (CET) in UTC


# --- geocoding ------------------------------------------------------------------------------------


def test_missing_coordinates_are_geocoded_offline(taxonomy, geocoder):
    data = csv_bytes([row(latitude="", longitude="", street="Hauptstraße 92", postcode="58332", city="Schwelm")])
    report = run_import(data, geocoder)
    assert report.geocoded == 1
    partner = db.session.scalar(select(Partner))
    assert abs(partner.latitude - 51.29) < 0.05 and abs(partner.longitude - 7.29) < 0.05


def test_city_alone_is_geocoded(taxonomy, geocoder):
    data = csv_bytes([row(latitude="", longitude="", street="", postcode="", city="Meschede",
                          region="hochsauerlandkreis")])
    run_import(data, geocoder)
    partner = db.session.scalar(select(Partner))
    assert abs(partner.latitude - 51.35) < 0.05 and abs(partner.longitude - 8.28) < 0.05


def test_unknown_place_is_a_row_error(taxonomy, geocoder):
    data = csv_bytes([row(name="A"), row(name="B", latitude="", longitude="", street="", postcode="",
                                         city="Xyzzyqwerthausen")])
    errors = import_errors(data, geocoder)
    assert where(errors) == [(3, "city")]
    assert errors[0].code in ("place.not_found", "place.not_found_suggestions")
    assert errors[0].params["query"] == "Xyzzyqwerthausen"
    assert partner_count() == 0


def test_geocoder_is_asked_once_per_address(taxonomy, geocoder):
    calls: list[str] = []

    class Counting:
        def geocode(self, query: str):
            calls.append(query)
            return geocoder.geocode(query)

    rows = [row(name=f"P{i}", latitude="", longitude="") for i in range(5)]
    report = run_import(csv_bytes(rows), Counting())
    assert report.geocoded == 5
    assert calls == ["Hauptstraße 92, 58332 Schwelm"]


def test_progress_is_reported_per_row(taxonomy, geocoder):
    seen: list[int] = []
    table = read_table(io.BytesIO(csv_bytes([row(name=f"P{i}") for i in range(4)])))
    import_partners(db.session, table, geocoder, progress=seen.append, now=NOW)
    assert seen == [1, 2, 3, 4]


# --- 5,000 rows -----------------------------------------------------------------------------------


def _big_file(bad_index: int | None) -> bytes:
    rows = []
    for i in range(5000):
        values = row(
            name=f"Partner {i:04d}", email=f"partner{i}@example.org",
            latitude=f"{51.0 + (i % 100) / 200:.4f}", longitude=f"{7.0 + (i // 100) / 50:.4f}",
            topics="prozessoptimierung|e-commerce" if i % 2 else "datenanalyse-ki",
            organisation=f"Organisation {i % 40}",
        )
        if i == bad_index:
            values["email"] = "partner-ohne-at.example.org"
        rows.append(values)
    return csv_bytes(rows, delimiter=";", bom=True)


@pytest.mark.slow
def test_bad_row_in_5000_writes_nothing_then_fixed_file_imports_all(taxonomy, geocoder):
    bad_index = 2716
    errors = import_errors(_big_file(bad_index), geocoder)
    assert where(errors) == [(bad_index + 2, "email")]
    assert errors[0].code == "email.invalid"
    assert not db.session.new
    db.session.rollback()
    assert partner_count() == 0
    assert db.session.scalar(select(func.count(Organisation.id))) == 0

    started = time.perf_counter()
    report = run_import(_big_file(None), geocoder)
    db.session.commit()
    elapsed = time.perf_counter() - started
    assert report.created == 5000
    assert report.organisations_created == 40
    assert partner_count() == 5000
    print(f"\n5,000-row import: {elapsed:.2f} s")


# --- formula neutralisation -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=1+1", "+49 231 000000-12", "-2+3", "@SUM(A1:A9)", "\tTab", "'Apostroph"])
def test_export_neutralises_formula_cells(make_partner, value):
    make_partner(name="Normal", description=value)
    text = export_bytes().decode("utf-8-sig")
    cells = dict(zip(COLUMNS, list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))[1], strict=True))
    assert cells["description"] == "'" + value
    assert cells["name"] == "Normal"
    assert cells["phone"] == "'+49 2336 0000"


def test_neutralised_cells_import_as_the_original(taxonomy, geocoder):
    data = csv_bytes([row(name="'=1+1", phone="'+49 2336 00000-1", description="'Apostroph vorn")])
    run_import(data, geocoder)
    partner = db.session.scalar(select(Partner))
    assert partner.name == "=1+1"
    assert partner.phone == "+49 2336 00000-1"
    assert partner.description == "'Apostroph vorn"  # not a neutralisation, kept as written


def test_xss_demo_name_survives_the_round_trip(taxonomy, geocoder):
    seed_demo(db.session, now=NOW)
    db.session.commit()
    data = export_bytes()
    wipe_partners()
    run_import(data, geocoder)
    assert db.session.scalar(select(func.count(Partner.id)).where(Partner.name == XSS_DEMO_NAME)) == 1
