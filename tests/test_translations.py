"""The English catalogue is complete, and pages read in English when the browser asks for English."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from conftest import has_word as _has_word
from conftest import visible_text as _visible_text

ROOT = Path(__file__).resolve().parents[1]
PO_FILE = ROOT / "network" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO_FILE = PO_FILE.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sdif]")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _catalog():
    with PO_FILE.open("rb") as fh:
        return read_po(fh, locale="en")


def _forms(value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


# --- (a) the catalogue ----------------------------------------------------------------------------


def test_catalogue_has_no_empty_or_fuzzy_messages():
    empty, fuzzy = [], []
    for message in _catalog():
        if not message.id:
            continue
        if message.fuzzy:
            fuzzy.append(message.id)
        if not all(form.strip() for form in _forms(message.string)):
            empty.append(message.id)
    assert not fuzzy, f"fuzzy entries (check and clear the flag): {fuzzy}"
    assert not empty, f"untranslated entries: {empty}"


def test_translations_keep_the_placeholders():
    wrong = []
    for message in _catalog():
        if not message.id:
            continue
        wanted = set().union(*(_placeholders(form) for form in _forms(message.id)))
        got = [_placeholders(form) for form in _forms(message.string)]
        # Each form may only use the msgid's placeholders; together they must use all of them.
        if any(not forms <= wanted for forms in got) or set().union(*got) != wanted:
            wrong.append((message.id, message.string))
    assert not wrong, wrong


def test_plural_entries_have_both_english_forms():
    for message in _catalog():
        if message.id and isinstance(message.id, tuple):
            assert len(message.string) == 2, message.id


def test_every_extracted_message_is_in_the_catalogue():
    """A new _("…") in the code or templates needs an English translation (pybabel extract/update, see README)."""
    catalog = _catalog()
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    missing = set()
    for pattern, method in (("network/**/*.py", "python"), ("templates/**/*.html", "jinja2")):
        for path in ROOT.glob(pattern):
            for _lineno, msgid, _comments, _context in extract_from_file(method, str(path), keywords=KEYWORDS):
                key = msgid if isinstance(msgid, str) else msgid[0]
                if key and key not in known:
                    missing.add(f"{path.relative_to(ROOT)}: {key}")
    assert not missing, "not in messages.po: " + "; ".join(sorted(missing))


def test_compiled_catalogue_matches_the_po_file():
    assert MO_FILE.exists(), "run: pybabel compile -d network/translations (make translations)"
    with MO_FILE.open("rb") as fh:
        compiled = {_forms(tuple(m.id) if isinstance(m.id, list) else m.id):
                    _forms(tuple(m.string) if isinstance(m.string, list) else m.string) for m in read_mo(fh) if m.id}
    stale = [m.id for m in _catalog() if m.id and compiled.get(_forms(m.id)) != _forms(m.string)]
    assert not stale, f"messages.mo is out of date (make translations): {stale[:5]}"


# --- (b) pages in English and German --------------------------------------------------------------

# German UI words that must not appear anywhere on an English page. Chosen not to clash with test
# data (German partner names and streets) and not to include "Deutsch" (the language switch).
GERMAN_UI_WORDS = [
    "Suchen", "Suche", "Anmelden", "Abmelden", "Verwaltung", "Eintrag", "Einträge", "zurück",
    "Speichern", "Termin anfragen", "Termin", "Termine", "Bitte", "bitte", "Passwort", "Karte", "Legende",
    "Themen", "Umkreis", "Vorschlag", "Nachricht", "Seite",
    "Expertensuche", "alle Regionen", "Ihre", "Sie", "und", "oder", "nicht", "für", "Änderungsprotokoll",
    "Benutzerkonten", "Filtern", "Bearbeiten", "Telefon", "Adresse",
]


# German map labels and attribution (folium script and legend) on the search pages.
MAP_SCRIPT_WORDS = ["Legende", "Profil ansehen", "Gesuchter Ort", "Entfernung", "Orte:"]


@pytest.fixture()
def site(client, make_partner, make_coach, make_user, login):
    """Data for every page; returns (public pages, admin pages, log_in_as_admin).

    Each page: path, German phrases it shows in German, the English phrases it shows in English.
    """
    partner = make_partner(name="Anna Beispiel", kind="hochschulinstitut")
    coach_partner, _coach = make_coach(name="Carla Coach")
    admin = make_user("admin")
    public = {
        "start page with a search": ("/?near=58332&radius_km=50",
                                     ["Suchen", "Karte im Vollbild", "Name oder Stichwort"],
                                     ["Search", "Full-screen map", "Name or keyword"]),
        "full map": ("/karte?near=58332", ["Suche anpassen", "Legende", "Gesuchter Ort", "Ergebnisliste"],
                     ["Refine search", "Legend", "Searched place", "Result list"]),
        "profile": (f"/partner/{coach_partner.id}",
                    ["Vor-Ort-Termin anfragen", "Auf der Karte zeigen", "« zurück zur Suche"],
                    ["Request an on-site appointment", "Show on map", "« back to search"]),
        "profile without scheduling": (f"/partner/{partner.id}",
                                       ["Angaben veraltet? Melden Sie es uns.", "Einsatzgebiet"],
                                       ["Details out of date? Let us know.", "Service area"]),
        "login": ("/anmelden", ["Anmelden", "Passwort", "Passwort vergessen?"],
                  ["Log in", "Password", "Forgot your password?"]),
        "forgot password": ("/passwort-vergessen", ["Passwort vergessen", "Link anfordern"],
                            ["Forgot password", "Request link"]),
        "suggestion form": ("/vorschlagen", ["Partner vorschlagen", "Vorschlag senden", "Straße und Hausnummer"],
                            ["Suggest a partner", "Send suggestion", "Street and house number"]),
        "report form": (f"/partner/{partner.id}/melden",
                        ["Veralteten Eintrag melden", "Hinweis senden", "Was stimmt nicht (mehr)?"],
                        ["Report an outdated listing", "Send report", "What is wrong or out of date?"]),
        "scheduling request": (f"/partner/{coach_partner.id}/termin",
                               ["Termin anfragen", "Ihre Angaben", "Name der Firma", "Freie Termine anzeigen"],
                               ["Request appointment", "Your details", "Company name", "Show free slots"]),
        "not found": ("/gibt-es-nicht", ["Diese Seite gibt es nicht.", "Zur Startseite"],
                      ["This page does not exist.", "To the start page"]),
    }
    admin_pages = {
        "admin dashboard": ("/admin/", ["Verwaltung", "Einträge pflegen", "Abmelden", "Änderungsprotokoll"],
                            ["Administration", "Manage listings", "Log out", "Audit log"]),
        "admin listings": ("/admin/eintraege", ["Neuer Eintrag", "Filtern", "Bearbeiten", "Aktionen"],
                           ["New listing", "Filter", "Edit", "Actions"]),
        "admin listing form": (f"/admin/eintraege/{partner.id}", ["Eintrag bearbeiten", "Speichern", "Archivieren"],
                               ["Edit listing", "Save", "Archive"]),
        "moderation": ("/admin/moderation", ["Moderation", "Keine Vorschläge für diese Auswahl.", "« Verwaltung"],
                       ["Moderation", "No suggestions for this selection.", "« Administration"]),
        "audit log": ("/admin/protokoll", ["Änderungsprotokoll", "Filter zurücksetzen", "Wer"],
                      ["Audit log", "Reset filters", "Who"]),
        "user accounts": ("/admin/benutzer", ["Benutzerkonten", "Neues Konto anlegen", "Letzte Anmeldung"],
                          ["User accounts", "Create a new account", "Last login"]),
    }
    return public, admin_pages, lambda: login(admin)


def _get(client, path: str, language: str) -> str:
    response = client.get(path, headers={"Accept-Language": language})
    assert response.status_code in (200, 404), (path, response.status_code)
    page = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in page, path
    return page


def _check(client, pages: dict) -> None:
    problems = []
    for name, (path, german, english) in pages.items():
        en_page = _get(client, path, "en")
        en_text = _visible_text(en_page)
        leftovers = [w for w in GERMAN_UI_WORDS if _has_word(en_text, w)]
        # The map's labels and attribution travel in a JSON block inside <script>.
        leftovers += [w for w in MAP_SCRIPT_WORDS if w in en_page]
        if leftovers:
            problems.append(f"{name} ({path}) in English shows German: {sorted(set(leftovers))}")
        missing_en = [w for w in english if w not in en_text]
        if missing_en:
            problems.append(f"{name} ({path}) in English lacks: {missing_en}")
        de_text = _visible_text(_get(client, path, "de"))
        missing_de = [w for w in german if w not in de_text]
        if missing_de:
            problems.append(f"{name} ({path}) in German lacks: {missing_de}")
    assert not problems, "\n".join(problems)


def test_public_pages_read_in_english_and_in_german(client, site):
    public, _admin_pages, _log_in = site
    _check(client, public)


def test_admin_pages_read_in_english_and_in_german(client, site):
    _public, admin_pages, log_in = site
    log_in()
    _check(client, admin_pages)


def test_the_german_words_are_really_on_the_german_pages(client, site):
    """Guards the word lists: every word must occur on some German page, or the English check proves nothing."""
    public, admin_pages, log_in = site
    found, raw_found = set(), set()

    def scan(pages):
        for path, _german, _english in pages.values():
            page = _get(client, path, "de")
            found.update(w for w in GERMAN_UI_WORDS if _has_word(_visible_text(page), w))
            raw_found.update(w for w in MAP_SCRIPT_WORDS if w in page)

    scan(public)
    log_in()
    scan(admin_pages)
    assert set(GERMAN_UI_WORDS) == found, sorted(set(GERMAN_UI_WORDS) - found)
    assert set(MAP_SCRIPT_WORDS) == raw_found, sorted(set(MAP_SCRIPT_WORDS) - raw_found)


def test_api_errors_follow_the_language(client, taxonomy):
    en = client.get("/api/partners?radius_km=abc", headers={"Accept-Language": "en"}).get_json()
    de = client.get("/api/partners?radius_km=abc", headers={"Accept-Language": "de"}).get_json()
    assert en["error"] == "Radius: “abc” is not a number."
    assert de["error"] == "Umkreis: „abc“ ist keine Zahl."
    en = client.post("/api/partners", json={}, headers={"Accept-Language": "en"})
    assert en.status_code == 401 and en.get_json()["error"].startswith("Authentication missing")
