"""Refused input answers in the user's language: every code has an English label, and every invalid form and API
body posted with ?lang=en (and an English browser) shows no German word of the catalogue; JSON names field and code.
"""
from __future__ import annotations

import ast
import io
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import current_app

from conftest import TEST_PASSWORD, csrf_from, has_word, visible_text
from network.accounts.models import ApiToken
from network.accounts.service import make_reset_token
from network.directory.moderation import submit_new_listing
from network.extensions import db, limiter
from network.labels import LABELS
from network.scheduling import booking
from network.scheduling.booking import FirmDetails, Settings

ROOT = Path(__file__).resolve().parents[1]
PO_FILE = ROOT / "network" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday; 2026-12-01 is the Tuesday after
FIRM_ADDRESS = "Hauptstraße 5, 58332 Schwelm"
CODE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
# Calls that raise or collect a coded problem: Problem(field, code, …), Invalid.one(field, code, …),
# csvio's row_problem(line, column, code, …) and _RowChecker.error(column, code, …).
PROBLEM_CALLS = {"Problem": 1, "one": 1, "error": 1, "row_problem": 2}
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdif]")
WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


# --- the German words of the catalogue ------------------------------------------------------------


def _forms(value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def german_words() -> set[str]:
    """Words of the German msgids that no English translation uses: those with umlauts or ß, and those
    that occur in three or more msgids (Bitte, Sie, nicht, Eintrag, …). Placeholders are left out."""
    with PO_FILE.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    german: Counter[str] = Counter()
    english: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        for text in _forms(message.id):
            german.update(set(WORD.findall(PLACEHOLDER.sub(" ", text))))
        for text in _forms(message.string):
            english.update(word.lower() for word in WORD.findall(PLACEHOLDER.sub(" ", text)))
    return {word for word, count in german.items()
            if word.lower() not in english and len(word) > 2 and (re.search("[äöüßÄÖÜ]", word) or count >= 3)}


GERMAN = german_words()


def german_in(text: str) -> list[str]:
    return sorted(word for word in GERMAN if has_word(text, word))


def json_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in json_strings(key) + json_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in json_strings(item)]
    return []


def test_the_word_list_is_german_and_not_english():
    assert {"Bitte", "Sie", "nicht", "Eintrag", "ungültig", "höchstens", "fehlt"} <= GERMAN
    assert not {"the", "not", "please", "must", "Please", "Name", "Region"} & GERMAN
    assert len(GERMAN) > 200


# --- every code raised has an English label --------------------------------------------------------


def _code_args(node: ast.Call) -> list[str]:
    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
    if name not in PROBLEM_CALLS:
        return []
    position = PROBLEM_CALLS[name]
    arg = node.args[position] if len(node.args) > position else next(
        (kw.value for kw in node.keywords if kw.arg == "code"), None)
    candidates = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
    return [c.value for c in candidates if isinstance(c, ast.Constant) and isinstance(c.value, str)
            and CODE.fullmatch(c.value)]


def raised_codes() -> dict[str, list[str]]:
    """code -> where it is raised (file:line), found in the syntax tree of every module of network/."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "network").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for code in _code_args(node):
                    found.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_raised_code_has_a_german_and_an_english_label(app):
    codes = raised_codes()
    assert len(codes) > 100, sorted(codes)  # the finder works: the domains raise over a hundred codes
    registered = LABELS["error"]
    missing = {code: where for code, where in codes.items() if code not in registered}
    assert not missing, f"codes without an 'error' label (add them to <domain>/messages.py): {missing}"
    untranslated = []
    for code in codes:
        with app.test_request_context("/?lang=de"):
            german = str(registered[code])
        with app.test_request_context("/?lang=en"):
            english = str(registered[code])
        if german == english or german_in(english):
            untranslated.append((code, german, english))
    assert not untranslated, untranslated


def test_every_error_label_is_raised_somewhere():
    """No dead messages: a label whose code no module raises is a leftover (or a typo in the code)."""
    unused = set(LABELS["error"]) - set(raised_codes())
    assert not unused, sorted(unused)


# --- fixtures: a small network with a coach, a visit, accounts and a token --------------------------


@pytest.fixture()
def world(client, set_clock, app, make_partner, make_coach, make_user):
    set_clock(NOW)
    limiter.reset()
    saved = {key: app.config.get(key) for key in ("VISIT_REQUEST_RATE_LIMIT", "PUBLIC_SUGGESTION_RATE_LIMIT")}
    app.config.update(VISIT_REQUEST_RATE_LIMIT="100000 per hour", PUBLIC_SUGGESTION_RATE_LIMIT="100000 per hour")
    listing = make_partner(name="Anna Beispiel", region="hagen", postcode="58095", city="Hagen",
                           latitude=51.36, longitude=7.47)
    coach, coach_user = make_coach(name="Carla Coach")
    idle, _idle_user = make_coach(hours=(), name="Otto Ohnezeit")
    admin = make_user("admin")
    editor = make_user("editor", regions=["hagen"])
    token, plain = ApiToken.issue(editor, "Skript")
    db.session.add(token)
    firm = FirmDetails(name="Beispiel GmbH", address=FIRM_ADDRESS, contact="Erika Muster",
                       email="erika@example.org", lat=51.2857, lon=7.2930)
    visit, manage_token = booking.request_visit(db.session, coach, datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
                                                60, firm, None, "", NOW, Settings())
    suggestion = submit_new_listing(db.session, {"name": "Anna Beispiel", "kind": "innovationscoach",
                                                 "region": "hagen", "postcode": "58095", "city": "Hagen"},
                                    current_app.extensions["partnernetz.geocoder"], now=NOW)
    db.session.commit()
    assert suggestion.suggestion_type == "duplicate"
    yield {"listing": listing, "coach": coach, "coach_user": coach_user, "idle": idle, "admin": admin,
           "editor": editor, "api_token": plain, "visit": visit, "manage_token": manage_token,
           "suggestion": suggestion}
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value
    limiter.reset()


def _log_in(client, user) -> None:
    client.post("/abmelden", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    token = csrf_from(client.get("/anmelden").get_data(as_text=True))
    response = client.post("/anmelden", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def _headers(lang: str) -> dict[str, str]:
    return {"Accept-Language": lang}


def _post(client, path: str, lang: str, data: dict | None = None, **kwargs):
    token = csrf_from(client.get(f"/?lang={lang}", headers=_headers(lang)).get_data(as_text=True))
    return client.post(f"{path}{'&' if '?' in path else '?'}lang={lang}", data={"csrf_token": token, **(data or {})},
                       headers=_headers(lang), **kwargs)


# Each form case: (who is logged in, a function posting the invalid form in a language, the expected status).
FormCase = tuple[str | None, Callable, int]


def _csv_preview(client, w, lang):
    data = b"name;kind;farbe;email\n;zauberer;rot;x\n"
    token = csrf_from(client.get("/admin/import").get_data(as_text=True))
    upload = client.post("/admin/import", data={"csrf_token": token, "file": (io.BytesIO(data), "liste.csv")},
                         content_type="multipart/form-data")
    assert upload.status_code == 302, upload.get_data(as_text=True)[:300]
    return client.get(f"{upload.headers['Location']}?lang={lang}", headers=_headers(lang))


def _csv_rows_preview(client, w, lang):
    data = (b"name;kind;region;postcode;city;email;latitude;longitude\n"
            b";zauberer;nirgendwo;12;;x;91;7\n"
            b"Anna Beispiel;innovationscoach;hagen;58095;Hagen;a@example.org;;\n")
    token = csrf_from(client.get("/admin/import").get_data(as_text=True))
    upload = client.post("/admin/import", data={"csrf_token": token, "file": (io.BytesIO(data), "liste.csv")},
                         content_type="multipart/form-data")
    return client.get(f"{upload.headers['Location']}?lang={lang}", headers=_headers(lang))


FORMS: dict[str, FormCase] = {
    "new listing": ("admin", lambda c, w, lang: _post(c, "/admin/eintraege/neu", lang, {
        "name": "", "kind": "zauberer", "region": "hagen", "postcode": "12", "city": "Hagen", "email": "x",
        "website": "javascript:x", "latitude": "abc", "longitude": "7", "topics": ["zzz"], "languages": "zzzz",
        "service_radius_km": "0"}), 400),
    "edit listing": ("admin", lambda c, w, lang: _post(c, f"/admin/eintraege/{w['listing'].id}", lang, {
        "name": "Anna Beispiel", "kind": "innovationscoach", "region": "hagen", "postcode": "58095",
        "city": "Hagen", "email": "x", "latitude": "51.36", "longitude": "", "is_person": "ja",
        "confirmed_at": "zzz"}), 400),
    "merge a listing with itself": ("admin", lambda c, w, lang: _post(
        c, f"/admin/eintraege/{w['listing'].id}/zusammenfuehren", lang,
        {"duplicate_id": str(w["listing"].id), "confirm": "1"}), 400),
    "public suggestion": (None, lambda c, w, lang: _post(c, "/vorschlagen", lang, {
        "name": "", "kind": "zauberer", "postcode": "12", "city": "", "email": "x", "website": "javascript:x",
        "reporter_email": "x", "message": "x" * 5001}), 400),
    "public report": (None, lambda c, w, lang: _post(c, f"/partner/{w['listing'].id}/melden", lang, {
        "message": "", "reporter_email": "x"}), 400),
    "visit request, unreadable": (None, lambda c, w, lang: _post(c, f"/partner/{w['coach'].id}/termin", lang, {
        "start": "", "firm_name": "", "firm_address": "Xyzzyqwerthausen 1", "contact": "", "email": "x",
        "duration": "45"}), 400),
    "visit request, broken rules": (None, lambda c, w, lang: _post(c, f"/partner/{w['coach'].id}/termin", lang, {
        "start": "2026-12-01T13:00", "duration": "60", "firm_name": "x" * 201, "firm_address": FIRM_ADDRESS,
        "contact": "", "email": "x", "topic": "zzz", "message": "x" * 2001}), 400),
    "visit request, time taken": (None, lambda c, w, lang: _post(c, f"/partner/{w['coach'].id}/termin", lang, {
        "start": "2026-12-01T10:30", "duration": "60", "firm_name": "Beispiel GmbH", "firm_address": FIRM_ADDRESS,
        "contact": "Erika Muster", "email": "erika@example.org"}), 409),
    "visit request, bad filters": (None, lambda c, w, lang: c.get(
        f"/partner/{w['coach'].id}/termin?lang={lang}&from=zzz&duration=45&near=Xyzzyqwerthausen",
        headers=_headers(lang)), 200),
    "firm reschedules to nonsense": (None, lambda c, w, lang: _post(
        c, f"/termin/{w['manage_token']}/reschedule", lang, {"start": "zzz"}), 400),
    "firm reschedules to nothing": (None, lambda c, w, lang: _post(
        c, f"/termin/{w['manage_token']}/reschedule", lang, {"start": ""}), 400),
    "firm reschedules outside the hours": (None, lambda c, w, lang: _post(
        c, f"/termin/{w['manage_token']}/reschedule", lang, {"start": "2026-12-01T18:00"}), 409),
    "coach books, unreadable": ("coach", lambda c, w, lang: _post(c, "/kalender/neu", lang, {
        "date": "zzz", "time": "", "duration": "45", "firm_address": "Xyzzyqwerthausen"}), 422),
    "coach books, broken rules": ("coach", lambda c, w, lang: _post(c, "/kalender/neu", lang, {
        "date": "2026-12-02", "time": "10:00", "duration": "60", "firm_name": "", "firm_address": FIRM_ADDRESS,
        "email": "x", "message": "x" * 2001}), 422),
    "coach books, time taken": ("coach", lambda c, w, lang: _post(c, "/kalender/neu", lang, {
        "date": "2026-12-01", "time": "10:30", "duration": "60", "firm_name": "Beispiel GmbH",
        "firm_address": FIRM_ADDRESS}), 409),
    "coach declines without reason": ("coach", lambda c, w, lang: _post(
        c, f"/kalender/termine/{w['visit'].id}/ablehnen", lang, {"reason": " "}), 422),
    "coach moves into the spring gap": ("coach", lambda c, w, lang: _post(
        c, f"/kalender/termine/{w['visit'].id}/verschieben", lang, {"date": "2027-03-28", "time": "02:30"}), 422),
    "coach working hours": ("coach", lambda c, w, lang: _post(c, "/kalender/arbeitszeiten", lang, {
        "h0-0-start": "zz", "h0-0-end": "", "h1-0-start": "12:00", "h1-0-end": "09:00", "min_notice_hours": "x",
        "horizon_weeks": "99", "home_address": ""}), 422),
    "coach absences": ("coach", lambda c, w, lang: _post(c, "/kalender/abwesenheiten", lang, {
        "start_date": "zz", "end_date": "", "reason": "zzz", "note": "x" * 201}), 422),
    "new account": ("admin", lambda c, w, lang: _post(c, "/admin/benutzer/neu", lang, {
        "email": "x", "role": "zzz", "password": "kurz", "name": "x" * 201}), 400),
    "new coach account": ("admin", lambda c, w, lang: _post(c, "/admin/benutzer/neu", lang, {
        "email": w["coach_user"].email, "role": "coach", "listing": "#zz", "send_link": "y",
        "password": "lang-genug-1234"}), 400),
    "editor without regions, coach without listing": ("admin", lambda c, w, lang: _post(
        c, f"/admin/benutzer/{w['editor'].id}", lang, {"role": "editor", "regions": ["99999"], "is_enabled": "y"}),
        400),
    "admin demotes and disables themselves": ("admin", lambda c, w, lang: _post(
        c, f"/admin/benutzer/{w['admin'].id}", lang, {"role": "coach", "listing": str(w["coach"].id)}), 400),
    "login with a wrong password": (None, lambda c, w, lang: _post(c, "/anmelden", lang, {
        "email": "niemand@example.org", "password": "falsch"}), 401),
    "password reset too short": (None, lambda c, w, lang: _post(
        c, "/passwort-zuruecksetzen/" + make_reset_token(w["admin"], current_app.config["SECRET_KEY"]), lang,
        {"password": "kurz", "confirm": "anders"}), 400),
    "API token without a name": ("editor", lambda c, w, lang: _post(c, "/konto/tokens", lang, {"name": " "}), 400),
    "CSV import: the whole file": ("admin", _csv_preview, 200),
    "CSV import: bad rows": ("admin", _csv_rows_preview, 200),
    "moderation: duplicate without a choice": ("admin", lambda c, w, lang: _post(
        c, f"/admin/moderation/{w['suggestion'].id}/annehmen", lang, {"mode": "", "note": "x" * 2001}), 400),
}


def _run_form(client, w, name: str, lang: str):
    who, post, status = FORMS[name]
    if who is not None:
        _log_in(client, w["coach_user"] if who == "coach" else w[who])
    response = post(client, w, lang)
    assert response.status_code == status, (name, lang, response.status_code, response.get_data(as_text=True)[:800])
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page, name
    return visible_text(page)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_invalid_forms_answer_in_english(client, world, name):
    text = _run_form(client, world, name, "en")
    assert german_in(text) == [], f"{name}: German on the English page"


@pytest.mark.parametrize("name", sorted(FORMS))
def test_the_same_forms_in_german_show_german_errors(client, world, name):
    """Guards the check above: each case really answers with messages (in German, they contain German words)."""
    text = _run_form(client, world, name, "de")
    assert german_in(text), name


# --- JSON ------------------------------------------------------------------------------------------

# (method, path, JSON body or None, expected status); {listing}, {coach}, {idle}, {token} are filled in.
API_CALLS: list[tuple[str, str, object, int]] = [
    ("GET", "/api/partners?radius_km=abc", None, 400),
    ("GET", "/api/partners?lat=91&lon=7", None, 400),
    ("GET", "/api/partners?lat=51", None, 400),
    ("GET", "/api/partners?kind=zzz", None, 400),
    ("GET", "/api/partners?near=Xyzzyqwerthausen", None, 404),
    ("GET", "/api/partners?q=" + "x" * 201, None, 400),
    ("GET", "/api/partners?page=0", None, 400),
    ("GET", "/api/geocode", None, 400),
    ("GET", "/api/geocode?q=Xyzzyqwerthausen", None, 404),
    ("POST", "/api/partners", {"name": "", "kind": "zzz", "region": "hagen", "postcode": "12", "email": "x"}, 422),
    ("POST", "/api/partners", {"postal_code": "12"}, 422),
    ("POST", "/api/partners", {"email": {"a": 1}}, 422),
    ("POST", "/api/partners", "name=x", 400),
    ("POST", "/api/partners", {"name": "Neu", "kind": "innovationscoach", "region": "dortmund", "city": "Dortmund"},
     403),
    ("PATCH", "/api/partners/{listing}", {}, 422),
    ("PATCH", "/api/partners/{listing}", {"email": "x", "latitude": "91", "longitude": "7"}, 422),
    ("PATCH", "/api/partners/99999", {"email": "x"}, 404),
    ("GET", "/api/partners/{coach}/slots?from=zzz", None, 400),
    ("GET", "/api/partners/{coach}/slots?days=0", None, 400),
    ("GET", "/api/partners/{coach}/slots?duration=45", None, 400),
    ("GET", "/api/partners/{coach}/slots?near=Xyzzyqwerthausen", None, 400),
    ("GET", "/api/partners/{coach}/slots?near=" + "x" * 301, None, 400),
    ("GET", "/api/partners/{idle}/slots", None, 404),
    ("POST", "/api/visits", "partner_id=1", 400),
    ("POST", "/api/visits", {"partner_id": "1"}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": 5}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "zzz"}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2027-03-28T02:30"}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "1999-01-01T10:00"}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2026-12-01T13:00", "duration_min": "60"}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2026-12-01T13:00", "firm": "GmbH"}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2026-12-01T13:00", "firm": {"name": 5}}, 400),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2026-12-01T13:00",
                             "firm": {"name": "", "address": "Xyzzyqwerthausen 1"}}, 422),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2026-12-01T13:00", "duration_min": 45,
                             "topic": "zzz", "message": "x" * 2001,
                             "firm": {"name": "x" * 201, "address": FIRM_ADDRESS, "email": "x", "phone": "1" * 61}},
     422),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2026-12-01T10:30",
                             "firm": {"name": "GmbH", "address": FIRM_ADDRESS, "contact": "Erika Muster",
                                      "email": "erika@example.org"}}, 409),
    ("POST", "/api/visits", {"partner_id": "{coach}", "start": "2026-11-27T09:00",
                             "firm": {"name": "GmbH", "address": FIRM_ADDRESS, "contact": "Erika Muster",
                                      "email": "erika@example.org"}}, 409),
    ("POST", "/api/visits", {"partner_id": "{idle}", "start": "2026-12-01T10:00", "firm": {"name": "GmbH"}}, 409),
    ("POST", "/api/visits", {"partner_id": 99999, "start": "2026-12-01T10:00", "firm": {"name": "GmbH"}}, 404),
    ("POST", "/termin/{manage}/reschedule", {"start": 5}, 400),
    ("POST", "/termin/{manage}/reschedule", {"start": "zzz"}, 400),
    ("POST", "/termin/{manage}/reschedule", {"start": "2026-12-01T18:00"}, 409),
    ("POST", "/termin/gibt-es-nicht/cancel", {}, 404),
]


def _names(w) -> dict:
    return {"listing": w["listing"].id, "coach": w["coach"].id, "idle": w["idle"].id, "manage": w["manage_token"]}


def _body(value, names: dict):
    """The JSON body with "{coach}" (a whole value) replaced by that id."""
    if isinstance(value, dict):
        return {key: _body(item, names) for key, item in value.items()}
    if isinstance(value, str) and re.fullmatch(r"\{(\w+)\}", value):
        return names[value[1:-1]]
    return value


def _call(client, w, index: int, lang: str):
    method, path, body, status = API_CALLS[index]
    path = path.format(**_names(w))
    url = f"{path}{'&' if '?' in path else '?'}lang={lang}"
    headers = {**_headers(lang), "Authorization": f"Bearer {w['api_token']}"}
    if isinstance(body, str):
        response = client.open(url, method=method, data=body, headers=headers,
                               content_type="application/x-www-form-urlencoded")
    else:
        response = client.open(url, method=method, json=_body(body, _names(w)) if body is not None else None,
                               headers=headers)
    assert response.status_code == status, (method, path, body, response.status_code, response.get_data(as_text=True))
    assert response.is_json, (method, path)
    return response.get_json()


@pytest.mark.parametrize("index", range(len(API_CALLS)), ids=lambda i: f"{API_CALLS[i][0]} {API_CALLS[i][1][:40]}")
def test_api_errors_answer_in_english_with_field_and_code(client, world, index):
    answer = _call(client, world, index, "en")
    assert answer["error"] and CODE.fullmatch(answer["code"]), answer
    status = API_CALLS[index][3]
    if status in (400, 422):
        assert "field" in answer, answer  # null when the request as a whole is at fault
        for problem in answer["problems"]:
            assert problem.keys() == {"field", "code", "error"} and CODE.fullmatch(problem["code"])
    strings = " ".join(json_strings({k: v for k, v in answer.items() if k != "suggestions"}))
    assert german_in(strings) == [], (API_CALLS[index], answer)


def test_the_same_api_errors_in_german_say_it_in_german(client, world):
    """Guards the check above: each German answer contains German words of the catalogue."""
    english_only = []
    for index in range(len(API_CALLS)):
        answer = _call(client, world, index, "de")
        if not german_in(" ".join(json_strings(answer))):
            english_only.append((API_CALLS[index], answer))
    assert not english_only


def test_a_json_answer_lists_every_problem(client, world):
    index = next(i for i, call in enumerate(API_CALLS) if isinstance(call[2], dict) and call[2].get("topic") == "zzz")
    answer = _call(client, world, index, "en")
    assert answer["field"] == answer["problems"][0]["field"] and answer["code"] == answer["problems"][0]["code"]
    assert {p["field"] for p in answer["problems"]} >= {"firm.name", "firm.email", "firm.phone", "message"}
    assert set(answer["errors"]) == {p["field"] for p in answer["problems"]}
