"""CSV import in the browser: upload, preview with per-row errors and duplicate warnings, all-or-nothing confirm."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from conftest import audit_count, browser_log_in, csrf_from, partner_count
from network.audit import AuditEntry
from network.clock import utcnow
from network.directory.demo import XSS_DEMO_NAME
from network.directory.imports import STAGE_LIFETIME, ImportStage, preview_import
from network.directory.models import Partner
from network.extensions import db

HEADER = ("name", "kind", "organisation", "region", "topics", "street", "postcode", "city",
          "latitude", "longitude", "email")


def good_row(n: int, **overrides: str) -> dict[str, str]:
    values = {
        "name": f"Coach {n:05d}",
        "kind": "innovationscoach",
        "organisation": "Wirtschaftsförderung Import",
        "region": "ennepe-ruhr-kreis",
        "topics": "prozessoptimierung|it-sicherheit",
        "street": f"Hauptstraße {n}",
        "postcode": "58332",
        "city": "Schwelm",
        "latitude": "",
        "longitude": "",
        "email": f"coach{n}@example.org",
    }
    values.update(overrides)
    return values


def csv_bytes(rows: Sequence[dict[str, str]], *, delimiter: str = ",", bom: bool = False,
              decimal_comma: bool = False) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    for values in rows:
        cells = [values.get(col, "") for col in HEADER]
        if decimal_comma:
            cells = [c.replace(".", ",") if col in ("latitude", "longitude") else c
                     for col, c in zip(HEADER, cells, strict=True)]
        writer.writerow(cells)
    data = out.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if bom else data


def upload(client, data: bytes, filename: str = "partner.csv", *, with_csrf: bool = True):
    form = {"file": (io.BytesIO(data), filename)}
    if with_csrf:
        form["csrf_token"] = csrf_from(client.get("/admin/import").get_data(as_text=True))
    return client.post("/admin/import", data=form, content_type="multipart/form-data")


def preview(client, data: bytes, filename: str = "partner.csv"):
    """Upload and follow to the preview; returns (token, preview response)."""
    response = upload(client, data, filename)
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    location = response.headers["Location"]
    token = location.rstrip("/").rsplit("/", 1)[-1]
    return token, client.get(location)


def confirm(client, token: str, page_html: str | None = None, *, with_csrf: bool = True):
    data = {}
    if with_csrf:
        data["csrf_token"] = csrf_from(page_html or client.get("/admin/import").get_data(as_text=True))
    return client.post(f"/admin/import/{token}/bestaetigen", data=data)


def error_rows(html: str) -> list[tuple[str, str, str]]:
    table = html.split('class="data-table import-errors"', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<tr><td>(\d+)</td><td>(?:<code>([^<]*)</code>|–)</td><td>([^<]*)</td></tr>", table)
    return [(line, field, message) for line, field, message in cells]


@pytest.fixture()
def admin(make_user, login):
    user = make_user("admin")
    login(user)
    return user


# --- the preview ------------------------------------------------------------------------------------


def test_upload_preview_names_each_bad_row_with_line_field_and_reason(client, admin):
    rows = [good_row(1), good_row(2, postcode="12"), good_row(3), good_row(4, kind="zauberer", email="kaputt")]
    token, page = preview(client, csv_bytes(rows))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    errors = error_rows(html)
    assert ("3", "postcode", "„12“ ist keine fünfstellige Postleitzahl.") in errors
    assert any(line == "5" and field == "kind" for line, field, _ in errors)
    assert any(line == "5" and field == "email" for line, field, _ in errors)
    assert "2 Zeilen in Ordnung" in html
    assert "Es wird nichts importiert" in html
    assert f"/admin/import/{token}/bestaetigen" not in html  # no confirm button for a bad file
    assert partner_count() == 0


def test_whole_file_problems_are_shown_in_the_preview(client, admin):
    _token, page = preview(client, b"name;kind;farbe\nA;innovationscoach;rot\n")
    html = page.get_data(as_text=True)
    assert "Unbekannte Spalte „farbe“" in html
    assert "Die Pflichtspalte „region“ fehlt." in html
    _token, page = preview(client, "name;kind;region\nMüller;innovationscoach;hagen\n".encode("cp1252"))
    assert "nicht UTF-8-kodiert" in page.get_data(as_text=True)


def test_duplicate_warning_for_same_name_nearby_or_same_postcode(client, admin, make_partner):
    existing = make_partner(name="Erika Musterfrau", postcode="58332", city="Schwelm",
                            latitude=51.2857, longitude=7.2930)
    far = make_partner(name="Max Weit", postcode="44135", city="Dortmund", latitude=51.5136, longitude=7.4653)
    rows = [
        good_row(1, name="ERIKA MUSTERFRAU", postcode="58332"),                     # same name + postcode
        good_row(2, name="Max Weit", postcode="", city="Schwelm", street=""),       # same name, ~25 km away
        good_row(3, name="Erika  Musterfrau", postcode="", city="", latitude="51.29", longitude="7.30",
                 street="Nebenweg 1"),                                               # same name, < 2 km
    ]
    _token, page = preview(client, csv_bytes(rows))
    html = page.get_data(as_text=True)
    dupes = html.split('class="data-table import-duplicates"', 1)[1].split("</table>", 1)[0]
    assert f"#{existing.id}" in dupes and "gleiche Postleitzahl (58332)" in dupes
    assert "km entfernt" in dupes
    assert f"#{far.id}" not in dupes
    assert "3 Zeilen in Ordnung" in html
    assert "3 mögliche Dubletten" in html  # row 4 also looks like row 2 of the same file
    assert "/bestaetigen" in html  # warnings do not block the import


def test_xss_name_in_the_file_renders_as_text_in_the_preview(client, admin):
    _token, page = preview(client, csv_bytes([good_row(1, name=XSS_DEMO_NAME)]))
    html = page.get_data(as_text=True)
    assert XSS_DEMO_NAME not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


# --- all or nothing, 5,000 rows ----------------------------------------------------------------------


@pytest.mark.slow
def test_5000_rows_with_one_bad_row_write_nothing_then_the_fixed_file_imports_all(client, admin):
    rows = [good_row(n) for n in range(1, 5001)]
    rows[2499] = good_row(2500, region="atlantis")  # spreadsheet line 2501
    token, page = preview(client, csv_bytes(rows, delimiter=";", bom=True), "gross.csv")
    html = page.get_data(as_text=True)
    assert error_rows(html) == [("2501", "region", "Unbekannte Region „atlantis“.")]
    assert "4999 Zeilen in Ordnung" in html
    assert "/bestaetigen" not in html

    # The confirm button is not offered, and a hand-made POST is refused too, naming the row.
    refused = confirm(client, token, html)
    assert refused.status_code == 422
    assert error_rows(refused.get_data(as_text=True)) == [("2501", "region", "Unbekannte Region „atlantis“.")]
    assert "Nichts importiert" in refused.get_data(as_text=True)
    assert partner_count() == 0
    assert audit_count() == 0

    rows[2499] = good_row(2500)
    token, page = preview(client, csv_bytes(rows, delimiter=";", bom=True), "gross.csv")
    html = page.get_data(as_text=True)
    assert "5000 Zeilen in Ordnung" in html and "5000 Einträge importieren" in html
    done = confirm(client, token, html)
    assert done.status_code == 302
    assert partner_count() == 5000
    flash = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "5000 Einträge importiert" in flash
    # One audit row per listing, plus one for the import as a whole.
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "import")) == 5001
    # The staged file is gone: a second confirm (double click, back button) imports nothing twice.
    again = confirm(client, token, html)
    assert again.status_code == 404
    assert partner_count() == 5000


# --- formats ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("delimiter", "bom", "decimal_comma"), [
    (";", True, True),     # Excel "CSV UTF-8" on a German system
    (";", False, True),
    (",", True, False),
    (",", False, False),
])
def test_bom_and_semicolon_files_import(client, admin, delimiter, bom, decimal_comma):
    rows = [good_row(1, latitude="51.2857", longitude="7.2930", name="Jürgen Größe"), good_row(2)]
    token, page = preview(client, csv_bytes(rows, delimiter=delimiter, bom=bom, decimal_comma=decimal_comma))
    html = page.get_data(as_text=True)
    assert "2 Zeilen in Ordnung" in html, html[:3000]
    assert confirm(client, token, html).status_code == 302
    names = set(db.session.scalars(select(Partner.name)))
    assert names == {"Jürgen Größe", "Coach 00002"}
    jurgen = db.session.scalar(select(Partner).where(Partner.name == "Jürgen Größe"))
    assert (jurgen.latitude, jurgen.longitude) == (51.2857, 7.2930)


def test_listing_history_shows_it_was_created_by_import(client, admin):
    token, page = preview(client, csv_bytes([good_row(1)]), "dortmund-liste.csv")
    assert confirm(client, token, page.get_data(as_text=True)).status_code == 302
    partner = db.session.scalar(select(Partner))
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "partners",
                                                          AuditEntry.entity_id == partner.id)).all()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.action == "import" and entry.actor_id == admin.id
    assert "CSV-Import „dortmund-liste.csv“, Zeile 2" == entry.note
    assert entry.changes["name"] == [None, "Coach 00001"]
    summary = db.session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "csv_import"))
    assert summary.entity_label == "dortmund-liste.csv" and summary.changes["created"] == [None, 1]


# --- size limit -------------------------------------------------------------------------------------


def test_file_over_max_content_length_gets_413_with_a_german_message(client, app, admin):
    token_page = client.get("/admin/import").get_data(as_text=True)
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024
    try:
        data = csv_bytes([good_row(n) for n in range(1, 200)])
        assert len(data) > 4 * 1024
        response = client.post("/admin/import", content_type="multipart/form-data",
                               data={"file": (io.BytesIO(data), "gross.csv"), "csrf_token": csrf_from(token_page)})
        html = response.get_data(as_text=True)
        assert response.status_code == 413
        assert "Die Datei ist zu groß: erlaubt sind höchstens 4 KB." in html
        assert 'enctype="multipart/form-data"' in html  # the upload form is right there again
        assert 'data-max-bytes="4096"' in html         # and the browser checks before uploading
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert partner_count() == 0


def test_upload_page_states_the_limit(client, app, admin):
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024
    try:
        html = client.get("/admin/import").get_data(as_text=True)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved
    assert "Höchstens 5 MB." in html


def test_same_name_twice_in_the_file_is_a_warning(client, admin):
    rows = [good_row(1, name="Anna Doppel", street="Hauptstraße 1"),
            good_row(2, name="anna doppel", street="Hauptstraße 3")]
    _token, page = preview(client, csv_bytes(rows), "/home/anna/liste.csv")
    html = page.get_data(as_text=True)
    assert "Vorschau: liste.csv" in html
    dupes = html.split('class="data-table import-duplicates"', 1)[1].split("</table>", 1)[0]
    assert "wie Zeile 2" in dupes and "in derselben Datei" in dupes
    assert "/bestaetigen" in html


# --- permissions and CSRF ---------------------------------------------------------------------------


def test_editor_cannot_import_into_another_region(client, make_user, login):
    editor = make_user("editor", regions=["dortmund"])
    login(editor)
    rows = [good_row(1, region="dortmund", postcode="44135", city="Dortmund"),
            good_row(2, region="ennepe-ruhr-kreis")]
    token, page = preview(client, csv_bytes(rows))
    html = page.get_data(as_text=True)
    assert error_rows(html) == [("3", "region", "Sie dürfen in der Region „Ennepe-Ruhr-Kreis“ keine Einträge anlegen.")]
    assert "/bestaetigen" not in html
    assert confirm(client, token, html).status_code == 422
    assert partner_count() == 0

    token, page = preview(client, csv_bytes(rows[:1]))
    assert confirm(client, token, page.get_data(as_text=True)).status_code == 302
    assert [p.region.slug for p in db.session.scalars(select(Partner))] == ["dortmund"]


def test_coach_gets_403_everywhere(client, make_user, make_partner, login, app):
    own = make_partner()
    coach = make_user("coach", partner=own)
    admin_user = make_user("admin")
    staged = ImportStage(f"{app.instance_path}/imports").put(csv_bytes([good_row(1)]), user_id=admin_user.id,
                                                             filename="x.csv")
    login(coach)
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    assert client.get("/admin/import").status_code == 403
    assert client.post("/admin/import", data={"csrf_token": token,
                                              "file": (io.BytesIO(csv_bytes([good_row(1)])), "a.csv")},
                       content_type="multipart/form-data").status_code == 403
    assert client.get(f"/admin/import/{staged.token}").status_code == 403
    assert client.post(f"/admin/import/{staged.token}/bestaetigen", data={"csrf_token": token}).status_code == 403
    assert partner_count() == 1


def test_anonymous_is_sent_to_login(client, taxonomy):
    response = client.get("/admin/import")
    assert response.status_code == 302 and "/anmelden" in response.headers["Location"]


def test_someone_elses_staged_file_is_404(client, make_user, login):
    first = make_user("admin")
    second = make_user("editor", regions=["ennepe-ruhr-kreis"])
    login(first)
    token, page = preview(client, csv_bytes([good_row(1)]))
    client.post("/abmelden", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    login(second)
    assert client.get(f"/admin/import/{token}").status_code == 404
    assert confirm(client, token).status_code == 404
    assert partner_count() == 0


def test_csrf_is_required_on_upload_and_confirm(client, admin):
    assert upload(client, csv_bytes([good_row(1)]), with_csrf=False).status_code == 400
    token, _page = preview(client, csv_bytes([good_row(1)]))
    assert confirm(client, token, with_csrf=False).status_code == 400
    assert client.post(f"/admin/import/{token}/verwerfen").status_code == 400
    assert partner_count() == 0


def test_non_csv_upload_is_refused_with_a_german_message(client, admin):
    response = upload(client, b"PK\x03\x04", "liste.xlsx")
    assert response.status_code == 400
    assert "als „CSV UTF-8“ speichern" in response.get_data(as_text=True)


def test_discard_removes_the_staged_file(client, admin):
    token, page = preview(client, csv_bytes([good_row(1)]))
    html = page.get_data(as_text=True)
    assert client.post(f"/admin/import/{token}/verwerfen", data={"csrf_token": csrf_from(html)}).status_code == 302
    assert client.get(f"/admin/import/{token}").status_code == 404


# --- the service ------------------------------------------------------------------------------------


def test_staged_files_expire_and_belong_to_their_uploader(tmp_path):
    stage = ImportStage(tmp_path)
    now = utcnow()
    staged = stage.put(b"name,kind,region\n", user_id=7, filename="a.csv", now=now)
    assert stage.get(staged.token, user_id=7, now=now) is not None
    assert stage.get(staged.token, user_id=8, now=now) is None
    assert stage.get("../../etc/passwd", user_id=7, now=now) is None
    assert stage.get(staged.token, user_id=7, now=now + STAGE_LIFETIME + timedelta(seconds=1)) is None
    assert list(tmp_path.iterdir()) == []  # the expired upload is deleted, not just hidden
    old = stage.put(b"x", user_id=7, filename="old.csv", now=now - STAGE_LIFETIME - timedelta(minutes=1))
    stage.put(b"y", user_id=7, filename="new.csv", now=now)
    assert stage.get(old.token, user_id=7, now=now - STAGE_LIFETIME) is None  # purged by the later put


def test_preview_service_writes_nothing(app_ctx, taxonomy, make_user):
    editor = make_user("editor", regions=["hagen"])
    geocoder = app_ctx.extensions["partnernetz.geocoder"]
    result = preview_import(db.session, csv_bytes([good_row(1)]), geocoder, actor=editor)
    assert result.total == 1 and result.ok_rows == 0 and not result.ok
    assert result.errors[0].field == "region"
    assert db.session.new == set() or all(not isinstance(o, Partner) for o in db.session.new)


# --- in the browser ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_browser_upload_preview_confirm_and_client_side_size_check(browser_page, live_server, make_user, app):
    page, base = browser_page, live_server
    browser_log_in(page, base, make_user("admin").email)

    # Too large: the page's script refuses the file before it is sent, with the German message.
    saved = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        page.goto(f"{base}/admin/import")
        big = csv_bytes([good_row(n) for n in range(1, 60)])
        page.set_input_files("input[type=file]", files=[{"name": "gross.csv", "mimeType": "text/csv",
                                                         "buffer": big}])
        page.click("form.js-busy-form button[type=submit]")
        page.wait_for_selector(".js-client-error:not([hidden])")
        assert "Die Datei ist zu groß: erlaubt sind höchstens 1 KB." in page.inner_text(".js-client-error")
        assert page.url == f"{base}/admin/import"
    finally:
        app.config["MAX_CONTENT_LENGTH"] = saved

    page.goto(f"{base}/admin/import")
    data = csv_bytes([good_row(1), good_row(2)], delimiter=";", bom=True)
    page.set_input_files("input[type=file]", files=[{"name": "liste.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("form.js-busy-form button[type=submit]")
    page.wait_for_selector(".import-ok")
    assert "2 Zeilen in Ordnung" in page.inner_text(".import-summary")
    page.click("text=2 Einträge importieren")
    page.wait_for_selector(".flash-success")
    assert "2 Einträge importiert" in page.inner_text(".flash-success")
    assert page.errors == []  # no CSP violation, no script error
    db.session.rollback()  # the server thread committed; end this thread's old read transaction
    assert partner_count() == 2
