"""Issue #3: CSRF on every state-changing route, and one documented list of exemptions.

- The exemptions are the table under "## CSRF exemptions" in docs/architecture.md: a backticked name
  without a dot in a row's first cell is a blueprint, one with a dot (``scheduling.firm_cancel_visit``)
  is a single view. CSRFProtect's exempt sets must be exactly that list, both ways.
- Every route with a method CSRFProtect checks (POST/PUT/PATCH/DELETE) outside that list, posted
  without a token by a logged-in admin and anonymously, gets 400 and changes nothing: no row of any
  table, no mail, no staged upload, not the session (still logged in, no language switched). The data
  sent is what would change something with a token (real reset/confirm/import tokens, valid forms).
- The exempt write routes work without a token (the JSON API with its bearer token, the firm's
  private-link JSON calls); the firm's private-link HTML form posts are still CSRF-checked in the view.
"""
from __future__ import annotations

import io
import logging
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from conftest import TEST_PASSWORD, changes, csrf_from, log_in, snapshot
from network.accounts.models import ApiToken
from network.accounts.service import make_reset_token
from network.directory.csvio import export_partners
from network.directory.freshness import make_confirm_token
from network.directory.models import Partner, Region, Suggestion
from network.extensions import db, limiter
from network.scheduling.booking import FirmDetails, request_visit, settings_from_config
from network.scheduling.localtime import local_to_utc
from network.scheduling.locking import booking_transaction
from network.scheduling.models import Absence, Visit

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday, 09:00 in Berlin
FIRM_ADDRESS = "Ruhrstraße 55, 58332 Schwelm"
CSRF_MESSAGE = "Das Formular ist abgelaufen"  # the error page's text for a CSRF failure (German by default)


# --- the documented list against CSRFProtect ---------------------------------------------------------------


def documented_exemptions() -> tuple[set[str], set[str]]:
    """(blueprints, view endpoints) named in the first column of the "CSRF exemptions" table."""
    text = DOC.read_text(encoding="utf-8")
    assert "## CSRF exemptions" in text, "docs/architecture.md has no section '## CSRF exemptions'"
    section = text.split("## CSRF exemptions", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) >= 3, "the CSRF exemptions table has no rows"
    blueprints: set[str] = set()
    views: set[str] = set()
    for row in rows[2:]:  # after the header and the |---| line
        first_cell = row.strip().strip("|").split("|")[0]
        # Identifiers only: `directory_api`, `scheduling.firm_cancel_visit`; not `POST /api/visits` or `GET`.
        for name in re.findall(r"`([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)`", first_cell):
            (views if "." in name else blueprints).add(name)
    return blueprints, views


def actual_exemptions(app: Flask) -> tuple[set[str], set[str], set[str]]:
    """(exempt blueprint names, exempt view endpoints, exempt view names that match no endpoint)."""
    csrf = app.extensions["csrf"]
    blueprints = {bp if isinstance(bp, str) else bp.name for bp in csrf._exempt_blueprints}
    by_dest = {f"{view.__module__}.{view.__name__}": endpoint for endpoint, view in app.view_functions.items()}
    views = {by_dest[dest] for dest in csrf._exempt_views if dest in by_dest}
    unknown = {dest for dest in csrf._exempt_views if dest not in by_dest}
    return blueprints, views, unknown


def blueprint_of(endpoint: str) -> str:
    return endpoint.rpartition(".")[0]  # what request.blueprint is for this endpoint


def csrf_routes(app: Flask) -> list[tuple]:
    """(rule, method) for every route and method CSRFProtect checks."""
    methods = app.config["WTF_CSRF_METHODS"]
    return [(rule, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
            for method in sorted(rule.methods & methods)]


def is_exempt(app: Flask, endpoint: str) -> bool:
    blueprints, views, _unknown = actual_exemptions(app)
    return blueprint_of(endpoint) in blueprints or endpoint in views


def test_csrf_protection_is_on_for_the_whole_app(app):
    assert app.config["WTF_CSRF_ENABLED"] and app.config["WTF_CSRF_CHECK_DEFAULT"]
    assert {"POST", "PUT", "PATCH", "DELETE"} <= set(app.config["WTF_CSRF_METHODS"])


def test_the_exempt_set_is_exactly_the_documented_list(app):
    documented_bps, documented_views = documented_exemptions()
    exempt_bps, exempt_views, unknown = actual_exemptions(app)
    problems = []
    for name in sorted(exempt_bps - documented_bps):
        problems.append(f"blueprint {name!r} is CSRF-exempt but not in docs/architecture.md")
    for name in sorted(documented_bps - exempt_bps):
        problems.append(f"blueprint {name!r} is documented as CSRF-exempt but is not exempt")
    for name in sorted(exempt_views - documented_views):
        problems.append(f"view {name!r} is CSRF-exempt but not in docs/architecture.md")
    for name in sorted(documented_views - exempt_views):
        problems.append(f"view {name!r} is documented as CSRF-exempt but is not exempt")
    for dest in sorted(unknown):
        problems.append(f"csrf.exempt names {dest!r}, which is no view of the app")
    for name in sorted(documented_bps - app.blueprints.keys()):
        problems.append(f"documented blueprint {name!r} does not exist")
    for name in sorted(documented_views - app.view_functions.keys()):
        problems.append(f"documented view {name!r} does not exist")
    assert not problems, "\n".join(problems)


# --- a world where every form post would change something --------------------------------------------------


@pytest.fixture()
def world(app, make_coach, make_partner, make_user, set_clock, lifted_rate_limits):
    set_clock(NOW)
    admin = make_user("admin")
    partner, coach = make_coach(name="Erika Musterfrau", region="hagen", email="erika@example.org")
    duplicate = make_partner(name="Erika Mustefrau", region="hagen", email="erika@example.org")
    cfg = settings_from_config(app.config)
    firm = FirmDetails(name="Schwelmer Federnwerk GmbH", address=FIRM_ADDRESS, contact="Michael Becker",
                       email="m.becker@federnwerk.example.org", phone="+49 2336 123456", lat=51.2863, lon=7.2939)
    with booking_transaction(db.session, partner.id):
        visit, manage_token = request_visit(db.session, db.session.get(Partner, partner.id),
                                            local_to_utc(datetime(2026, 12, 2, 10, 0)), 60, firm, None,
                                            "Bitte kommen Sie vorbei.", NOW, cfg)
        visit_id = visit.id
    hagen = db.session.scalar(select(Region).where(Region.slug == "hagen"))
    absence = Absence(id=701, partner_id=partner.id, start_date=date(2026, 12, 14), end_date=date(2026, 12, 15))
    suggestion = Suggestion(id=801, suggestion_type="outdated", status="pending", region_id=hagen.id,
                            partner_id=partner.id, name=partner.name, message="Die Telefonnummer stimmt nicht.",
                            payload={})
    token, plain = ApiToken.issue(admin, "Skript")
    token.id = 901
    db.session.add_all([absence, suggestion, token])
    db.session.commit()

    from network.admin.import_routes import _stage

    csv = io.BytesIO()
    export_partners(db.session, csv, select(Partner).where(Partner.id == partner.id))
    staged = _stage().put(csv.getvalue().replace(b"Erika Musterfrau", b"Importierte Person"),
                          user_id=admin.id, filename="liste.csv")
    secret = app.config["SECRET_KEY"]
    yield {
        "admin": admin, "coach": coach, "partner": partner.id, "duplicate": duplicate.id, "visit": visit_id,
        "absence": absence.id, "suggestion": suggestion.id, "token_id": token.id, "bearer": plain,
        "csv": csv.getvalue(),
        # Real secrets in URLs: with a CSRF token each of these posts would act.
        "tokens": {
            "directory.confirm": make_confirm_token(partner, secret),
            "accounts.reset_password": make_reset_token(coach, secret),
            "admin.csv_import_confirm": staged.token,
            "admin.csv_import_discard": staged.token,
            "scheduling.firm_cancel_visit": manage_token,
            "scheduling.firm_reschedule_visit": manage_token,
        },
    }
    _stage().discard(staged.token)
    limiter.reset()  # the budgets used here (forgot-password: 5 a minute) are not the next test's business


PARAMS = {
    "partner_id": "partner",
    "visit_id": "visit",
    "suggestion_id": "suggestion",
    "user_id": None,  # the coach's account
    "token_id": "token_id",
    "absence_id": "absence",
    "token": None,  # per endpoint, from world["tokens"]
}
ON_PARTNER = {"scheduling.coach_book", "scheduling.coach_hours", "scheduling.coach_absences",
              "scheduling.coach_absence_delete", "scheduling.coach_feed_rotate"}


def url_for_route(app: Flask, rule, method: str, world) -> str:
    values = {}
    for name in rule.arguments:
        assert name in PARAMS, f"URL parameter <{name}> of {rule.rule} has no entry in PARAMS"
        if name == "token":
            assert rule.endpoint in world["tokens"], f"{rule.endpoint} needs a real token in the world fixture"
            values[name] = world["tokens"][rule.endpoint]
        elif name == "user_id":
            values[name] = world["coach"].id
        else:
            values[name] = world[PARAMS[name]]
    url = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
    if rule.endpoint in ON_PARTNER:
        url += f"?partner={world['partner']}"
    return url


# What each form would do with a token: valid data, so that "nothing changed" means something.
LISTING = {"name": "Gekaperter Eintrag", "kind": "innovationscoach", "organisation": "Wirtschaftsförderung Test",
           "region": "hagen", "topics": "prozessoptimierung", "street": "Elberfelder Straße 1",
           "postcode": "58095", "city": "Hagen", "email": "gekapert@example.org", "service_radius_km": "30",
           "languages": "de", "is_person": "ja"}
FORMS = {
    "accounts.login": lambda w: {"email": w["admin"].email, "password": TEST_PASSWORD},
    "accounts.logout": lambda w: {},
    "accounts.forgot_password": lambda w: {"email": w["coach"].email},
    "accounts.reset_password": lambda w: {"password": "ganz-neues-passwort", "confirm": "ganz-neues-passwort"},
    "accounts.api_tokens": lambda w: {"name": "Untergeschoben"},
    "accounts.revoke_token": lambda w: {},
    "i18n.set_language": lambda w: {"lang": "en", "next": "/"},
    "directory.suggest": lambda w: {"name": "Neue Beraterin", "kind": "innovationscoach", "street": "Markt 1",
                                    "postcode": "58095", "city": "Hagen", "region": "hagen",
                                    "email": "neu@example.org", "topics": "prozessoptimierung",
                                    "message": "Bitte aufnehmen"},
    "directory.report": lambda w: {"message": "Die Adresse stimmt nicht mehr.", "reporter_email": "x@example.org"},
    "directory.confirm": lambda w: {},
    "admin.new_user": lambda w: {"email": "neu@example.org", "name": "Neu", "role": "admin",
                                 "password": "langes-passwort-123"},
    "admin.edit_user": lambda w: {"name": "Gekapert", "role": "admin", "listing": "", "is_enabled": "y"},
    "admin.send_password_link": lambda w: {},
    "admin.new_listing": lambda w: dict(LISTING),
    "admin.edit_listing": lambda w: dict(LISTING, region="hagen"),
    "admin.archive_listing": lambda w: {},
    "admin.restore_listing": lambda w: {},
    "admin.merge_listing": lambda w: {"duplicate_id": str(w["duplicate"]), "confirm": "1"},
    "admin.erase_personal_data": lambda w: {"confirm": "yes"},
    "admin.csv_import": lambda w: {"file": (io.BytesIO(w["csv"]), "liste.csv")},
    "admin.csv_import_confirm": lambda w: {},
    "admin.csv_import_discard": lambda w: {},
    "admin.moderation_accept": lambda w: {"note": "erledigt"},
    "admin.moderation_reject": lambda w: {"note": "abgelehnt"},
    "scheduling.request_visit": lambda w: {"start": "2026-12-03T10:00", "duration": "60",
                                           "firm_name": "Ennepe Schmiede GmbH", "firm_address": FIRM_ADDRESS,
                                           "contact": "Eva Schmidt", "email": "eva@example.org"},
    "scheduling.coach_book": lambda w: {"date": "2026-12-04", "time": "10:00", "duration": "60",
                                        "firm_name": "Neue Firma", "firm_address": FIRM_ADDRESS},
    "scheduling.coach_hours": lambda w: {"h0-0-start": "09:00", "h0-0-end": "12:00", "home_address": FIRM_ADDRESS,
                                         "min_notice_hours": "24", "horizon_weeks": "8"},
    "scheduling.coach_absences": lambda w: {"start_date": "2026-12-07", "end_date": "2026-12-08",
                                            "reason": "vacation"},
    "scheduling.coach_absence_delete": lambda w: {},
    "scheduling.coach_feed_rotate": lambda w: {},
    "scheduling.coach_confirm": lambda w: {},
    "scheduling.coach_decline": lambda w: {"reason": "Keine Zeit"},
    "scheduling.coach_reschedule": lambda w: {"date": "2026-12-03", "time": "11:00"},
    "scheduling.coach_cancel": lambda w: {},
    "scheduling.coach_outcome": lambda w: {"took_place": "ja", "notes": "gut"},
}


def csrf_refusal(response, records) -> bool:
    """A 400 from CSRFProtect: it logs why ("The CSRF token is missing.") and the page says the form expired."""
    logged = any(record.name == "flask_wtf.csrf" and "CSRF token" in record.getMessage() for record in records)
    return response.status_code == 400 and logged and CSRF_MESSAGE in response.get_data(as_text=True)


# --- every protected route refuses a post without a token ----------------------------------------------------


@pytest.mark.slow
def test_every_form_post_without_a_token_is_refused_and_changes_nothing(app, world, caplog):
    caplog.set_level(logging.INFO, logger="flask_wtf.csrf")
    # Login and logout last: were either to work without a token, it would not change who sends the rest.
    late = ("accounts.login", "accounts.logout")
    protected = sorted(((rule, method) for rule, method in csrf_routes(app) if not is_exempt(app, rule.endpoint)),
                       key=lambda item: late.index(item[0].endpoint) if item[0].endpoint in late else -1)
    missing = sorted({rule.endpoint for rule, _method in protected} - FORMS.keys())
    assert not missing, f"state-changing routes without an entry in FORMS: {missing}"
    stale = sorted(FORMS.keys() - {rule.endpoint for rule, _method in protected})
    assert not stale, f"FORMS lists endpoints that are no CSRF-protected route: {stale}"

    admin = app.test_client()
    log_in(admin, world["admin"])
    anonymous = app.test_client()
    violations = []
    before = snapshot(app)
    for who, client in (("admin", admin), ("anonymous", anonymous)):
        for rule, method in protected:
            url = url_for_route(app, rule, method, world)
            caplog.clear()
            response = client.open(url, method=method, data=FORMS[rule.endpoint](world))
            problem = [] if csrf_refusal(response, caplog.records) else ["not refused as CSRF"]
            changed = changes(before, snapshot(app))
            if changed:
                problem.append("changed " + ", ".join(changed))
                before = snapshot(app)
            if problem:
                violations.append(f"({who}, {method}, {url}, {response.status_code}): {'; '.join(problem)}")

    # The sessions are what they were: the admin still logged in, the anonymous client still not, no language.
    if admin.get("/admin/benutzer").status_code != 200:
        violations.append("a logout without a token logged the admin out")
    if anonymous.get("/admin/").status_code != 302:
        violations.append("a login without a token logged the anonymous client in")
    for who, client in (("admin", admin), ("anonymous", anonymous)):
        with client.session_transaction() as session:
            if "lang" in session:
                violations.append(f"the language switch worked without a token ({who})")
    assert not violations, f"{len(violations)} CSRF violations:\n" + "\n".join(violations)


# --- the exemptions: exactly these work without a token --------------------------------------------------------

API_PARTNER = {"name": "Skript-Eintrag", "kind": "innovationscoach", "organisation": "Wirtschaftsförderung Test",
               "region": "hagen", "topics": ["prozessoptimierung"], "street": "Elberfelder Straße 1",
               "postcode": "58095", "city": "Hagen", "email": "skript@example.org", "service_radius_km": 40,
               "is_person": True}
VISIT_BODY = {"start": "2026-12-04T10:00", "duration_min": 60,
              "firm": {"name": "Beispiel GmbH", "address": FIRM_ADDRESS, "contact": "Erika Muster",
                       "email": "erika.muster@example.org", "phone": "+49 2336 12345"},
              "message": "Digitalisierung der Fertigung"}
# (endpoint, method) -> (JSON body, bearer token?, expected status); run in this order.
EXEMPT_WRITES = {
    ("directory_api_write.create_partner", "POST"): (API_PARTNER, True, 201),
    ("directory_api_write.update_partner", "PATCH"): ({"phone": "+49 2331 999999"}, True, 200),
    ("scheduling_api.create_visit", "POST"): (VISIT_BODY, False, 201),
    ("scheduling.firm_reschedule_visit", "POST"): ({"start": "2026-12-03T14:00"}, False, 200),
    ("scheduling.firm_cancel_visit", "POST"): ({}, False, 200),
    ("directory_api_write.archive_partner", "DELETE"): (None, True, 204),
}


def test_the_exempt_writes_work_without_a_token(app, world, caplog):
    caplog.set_level(logging.INFO, logger="flask_wtf.csrf")
    exempt = {(rule.endpoint, method): rule for rule, method in csrf_routes(app) if is_exempt(app, rule.endpoint)}
    assert exempt.keys() == EXEMPT_WRITES.keys(), (
        f"exempt write routes without an entry in EXEMPT_WRITES: {sorted(exempt.keys() - EXEMPT_WRITES.keys())}; "
        f"entries that are no exempt write route: {sorted(EXEMPT_WRITES.keys() - exempt.keys())}")
    client = app.test_client()
    failures = []
    for (endpoint, method), (body, bearer, expected) in EXEMPT_WRITES.items():
        url = url_for_route(app, exempt[(endpoint, method)], method, world)
        if endpoint == "scheduling_api.create_visit":
            body = dict(body, partner_id=world["partner"])
        headers = {"Authorization": f"Bearer {world['bearer']}"} if bearer else {}
        caplog.clear()
        response = client.open(url, method=method, json=body, headers=headers)
        if response.status_code != expected or csrf_refusal(response, caplog.records):
            failures.append(f"{method} {url}: {response.status_code} (expected {expected}) "
                            f"{response.get_data(as_text=True)[:200]}")
    assert not failures, "\n".join(failures)
    db.session.expire_all()
    assert db.session.get(Visit, world["visit"]).status == "cancelled"
    assert db.session.get(Partner, world["partner"]).is_archived


def test_the_firms_private_link_forms_are_still_csrf_checked(app, world):
    """The two exempt views check HTML form posts themselves (docs/architecture.md): 400, nothing changes."""
    client = app.test_client()
    before = snapshot(app)
    for endpoint, data in (("scheduling.firm_cancel_visit", {}),
                           ("scheduling.firm_reschedule_visit", {"start": "2026-12-03T14:00"})):
        url = app.url_map.bind("localhost").build(endpoint, {"token": world["tokens"][endpoint]}, method="POST")
        response = client.post(url, data=data)
        assert response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True), endpoint
        assert changes(before, snapshot(app)) == [], endpoint
    # With the page's token the same form post works.
    page = client.get(f"/termin/{world['tokens']['scheduling.firm_cancel_visit']}")
    response = client.post(f"/termin/{world['tokens']['scheduling.firm_cancel_visit']}/cancel",
                           data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Visit, world["visit"]).status == "cancelled"
