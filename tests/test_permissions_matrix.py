"""Issue #3: every route of the app × every role, against one table of who may use what.

The table EXPECTED lists, per (endpoint, method), the roles that are ALLOWED. The test walks
app.url_map (every method but HEAD/OPTIONS, only 'static' skipped) and fails when it meets a
route or a URL parameter the table does not know: a new route must be entered here.

- A role that is not allowed must get 401, 403, 404, 405, 409, or (anonymous only) a redirect to
  the login page; never a 2xx and never a redirect elsewhere (a redirect-on-success hides a hole).
  After every such request the whole database (every row of every table) and the mail outbox must
  be unchanged.
- An allowed role must not be refused (401/403/404/405, a redirect to the login page) nor crash (5xx);
  validation errors of the deliberately minimal form data (400/409/422) are fine.
- Tokens in URLs (firm's manage link, feed, password reset, listing confirmation, staged CSV import)
  are deliberately WRONG: nobody may get anything through them.
- Writes carry a valid CSRF token of the same session (the point here is permissions; tests/test_csrf.py
  covers CSRF); JSON API writes carry the admin's bearer token for the admin role only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from conftest import changes, csrf_from, log_in, snapshot
from network.accounts.models import ApiToken, User
from network.audit import AuditEntry
from network.directory.models import Partner, Region, Suggestion
from network.extensions import db, limiter
from network.scheduling.booking import FirmDetails, book_visit, settings_from_config
from network.scheduling.localtime import local_to_utc
from network.scheduling.locking import booking_transaction
from network.scheduling.models import Absence, Visit

# Monday 2026-11-30, 09:00 in Berlin; coach A's visit is on Wednesday at 10:00.
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)

# --- the roles, least privileged on partner A first (so their denied attempts meet the untouched world) ---

ROLES = ("anonymous", "coach_b", "editor_other", "coach_a", "admin")
ALL = frozenset(ROLES)
LOGGED_IN = ALL - {"anonymous"}
MAINTAINERS = frozenset({"editor_other", "admin"})  # admins and editors; the editor here maintains Dortmund only
OWNER = frozenset({"coach_a", "admin"})  # partner A's own coach, and admins who help out
ADMIN = frozenset({"admin"})
NOBODY = frozenset()  # routes reached only through a (here: wrong) secret token in the URL

# --- the expectation table: (endpoint, method) -> roles allowed -------------------------------------------

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # public directory
    ("directory.index", "GET"): ALL,
    ("directory.full_map", "GET"): ALL,
    ("directory.profile", "GET"): ALL,
    ("directory.suggest", "GET"): ALL,
    ("directory.suggest", "POST"): ALL,
    ("directory.report", "GET"): ALL,
    ("directory.report", "POST"): ALL,
    ("directory.confirm", "GET"): NOBODY,  # wrong confirmation token
    ("directory.confirm", "POST"): NOBODY,
    ("directory_api.partners", "GET"): ALL,
    ("directory_api.geocode", "GET"): ALL,
    # write API: bearer token only (the admin's), never the session
    ("directory_api_write.get_partner", "GET"): ADMIN,
    ("directory_api_write.create_partner", "POST"): ADMIN,
    ("directory_api_write.update_partner", "PATCH"): ADMIN,
    ("directory_api_write.archive_partner", "DELETE"): ADMIN,
    ("i18n.set_language", "POST"): ALL,
    # accounts
    ("accounts.login", "GET"): ALL,
    ("accounts.login", "POST"): ALL,
    ("accounts.logout", "POST"): LOGGED_IN,
    ("accounts.forgot_password", "GET"): ALL,
    ("accounts.forgot_password", "POST"): ALL,
    ("accounts.reset_password", "GET"): NOBODY,  # wrong reset token
    ("accounts.reset_password", "POST"): NOBODY,
    ("accounts.api_tokens", "GET"): MAINTAINERS,
    ("accounts.api_tokens", "POST"): MAINTAINERS,
    ("accounts.revoke_token", "POST"): ADMIN,  # the admin's own token; anyone else's answer is 404
    # admin area (every account passes the blueprint gate; the views decide)
    ("admin.dashboard", "GET"): LOGGED_IN,
    ("admin.listings", "GET"): LOGGED_IN,  # coaches are sent to their own listing
    ("admin.export_listings_csv", "GET"): MAINTAINERS,
    ("admin.export_listings_geojson", "GET"): MAINTAINERS,
    ("admin.new_listing", "GET"): MAINTAINERS,
    ("admin.new_listing", "POST"): MAINTAINERS,
    ("admin.edit_listing", "GET"): OWNER,
    ("admin.edit_listing", "POST"): OWNER,
    ("admin.listing_history", "GET"): OWNER,
    ("admin.archive_listing", "POST"): ADMIN,
    ("admin.restore_listing", "POST"): ADMIN,
    ("admin.merge_listing", "GET"): ADMIN,
    ("admin.merge_listing", "POST"): ADMIN,
    ("admin.export_personal_data", "GET"): ADMIN,
    ("admin.erase_personal_data", "GET"): ADMIN,
    ("admin.erase_personal_data", "POST"): ADMIN,
    ("admin.users", "GET"): ADMIN,
    ("admin.new_user", "GET"): ADMIN,
    ("admin.new_user", "POST"): ADMIN,
    ("admin.edit_user", "GET"): ADMIN,
    ("admin.edit_user", "POST"): ADMIN,
    ("admin.send_password_link", "POST"): ADMIN,
    ("admin.csv_import", "GET"): MAINTAINERS,
    ("admin.csv_import", "POST"): MAINTAINERS,
    ("admin.csv_import_preview", "GET"): NOBODY,  # wrong staged-import token: 404 even for importers
    ("admin.csv_import_confirm", "POST"): NOBODY,
    ("admin.csv_import_discard", "POST"): MAINTAINERS,  # discarding an unknown upload is a no-op redirect
    ("admin.moderation", "GET"): MAINTAINERS,
    ("admin.moderation_item", "GET"): ADMIN,  # the suggestion is in Hagen, the editor maintains Dortmund
    ("admin.moderation_accept", "POST"): ADMIN,
    ("admin.moderation_reject", "POST"): ADMIN,
    ("admin.audit_log", "GET"): MAINTAINERS,
    # scheduler: the firm's side
    ("scheduling.request_visit", "GET"): ALL,
    ("scheduling.request_visit", "POST"): ALL,
    ("scheduling.manage_visit", "GET"): NOBODY,  # wrong manage token
    ("scheduling.visit_ics", "GET"): NOBODY,
    ("scheduling.firm_cancel_visit", "POST"): NOBODY,
    ("scheduling.firm_reschedule_visit", "POST"): NOBODY,
    ("scheduling.feed", "GET"): NOBODY,  # wrong feed token
    ("scheduling_api.partner_slots", "GET"): ALL,
    ("scheduling_api.create_visit", "POST"): ALL,
    # scheduler: the coach's side, all on partner A (?partner=<A>, see QUERY)
    ("scheduling.coach_calendar", "GET"): OWNER,
    ("scheduling.coach_book", "GET"): OWNER,
    ("scheduling.coach_book", "POST"): OWNER,
    ("scheduling.coach_hours", "GET"): OWNER,
    ("scheduling.coach_hours", "POST"): OWNER,
    ("scheduling.coach_absences", "GET"): OWNER,
    ("scheduling.coach_absences", "POST"): OWNER,
    ("scheduling.coach_absence_delete", "POST"): OWNER,
    ("scheduling.coach_feed", "GET"): OWNER,
    ("scheduling.coach_feed_rotate", "POST"): OWNER,
    ("scheduling.coach_visit", "GET"): OWNER,
    ("scheduling.coach_visit_ics", "GET"): OWNER,
    ("scheduling.coach_confirm", "POST"): OWNER,
    ("scheduling.coach_decline", "POST"): OWNER,
    ("scheduling.coach_reschedule", "POST"): OWNER,
    ("scheduling.coach_cancel", "POST"): OWNER,
    ("scheduling.coach_outcome", "POST"): OWNER,
}

# URL parameters by name -> which object of the world fills them. A name missing here fails the test.
PARAMS = {
    "partner_id": "partner_a",
    "visit_id": "visit",
    "id": "visit",
    "suggestion_id": "suggestion",
    "user_id": "coach_a_user",
    "token_id": "admin_token",
    "absence_id": "absence",
    "token": "wrong_token",
}
WRONG_TOKEN = "falsch-0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

# Query strings: the coach views act on ?partner=<id> (without it, a coach acts on their own listing).
_ON_A = "partner={partner_a}"
QUERY = {
    "scheduling.coach_calendar": _ON_A,
    "scheduling.coach_book": _ON_A,
    "scheduling.coach_hours": _ON_A,
    "scheduling.coach_absences": _ON_A,
    "scheduling.coach_absence_delete": _ON_A,
    "scheduling.coach_feed": _ON_A,
    "scheduling.coach_feed_rotate": _ON_A,
    "directory_api.geocode": "q=58095",
}

# A wrong reset link sends everyone to "forgot password": a redirect that is a refusal, not a success.
DENIAL_REDIRECTS = {"accounts.reset_password": "/passwort-vergessen"}

# Run last within a role, in this order: they change what later requests would see (or end the session).
LATE = (
    "scheduling.coach_absence_delete",
    "scheduling.coach_cancel",
    "directory_api_write.archive_partner",
    "admin.archive_listing",
    "admin.restore_listing",
    "accounts.revoke_token",
    "accounts.logout",
)

# Pages of the admin area whose body must not mention partner A, its suggestion, its audit entry or the
# admin's token when a role that has no business with them (coach B, the other region's editor) sees them.
LEAK_CHECKED = {
    "admin.dashboard",
    "admin.listings",
    "admin.export_listings_csv",
    "admin.export_listings_geojson",
    "admin.moderation",
    "admin.audit_log",
    "accounts.api_tokens",
}
OUTSIDERS = {"coach_b", "editor_other"}

JSON_BLUEPRINTS = {"directory_api_write", "scheduling_api"}
DENIED_STATUSES = {401, 403, 404, 405, 409}
REFUSED_STATUSES = {401, 403, 404, 405}
LOGIN_PATH = "/anmelden"

PARTNER_A_NAME = "Matrixpartnerin Alpha Hagen"
SUGGESTION_MARKER = "Meldungsmarker-4711"
AUDIT_MARKER = "Protokollmarker-4711"
TOKEN_NAME = "Tokenmarker-4711"


# --- the table against the app ------------------------------------------------------------------------------


def routes(app: Flask) -> list[tuple]:
    """(rule, method) for every route but 'static', methods without HEAD/OPTIONS."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method))
    return found


def table_problems(app: Flask) -> list[str]:
    problems = []
    seen = set()
    for rule, method in routes(app):
        key = (rule.endpoint, method)
        seen.add(key)
        if key not in EXPECTED:
            problems.append(f"route without an entry in EXPECTED: {method} {rule.rule} ({rule.endpoint})")
        for name in sorted(rule.arguments - PARAMS.keys()):
            problems.append(f"URL parameter without an entry in PARAMS: <{name}> in {rule.rule} ({rule.endpoint})")
    for key in sorted(EXPECTED.keys() - seen):
        problems.append(f"EXPECTED lists a route the app does not have: {key}")
    for endpoint in sorted((QUERY.keys() | set(LATE) | LEAK_CHECKED | DENIAL_REDIRECTS.keys())
                           - {endpoint for endpoint, _method in EXPECTED}):
        problems.append(f"helper tables name an unknown endpoint: {endpoint}")
    return problems


def test_the_table_covers_every_route_and_parameter(app):
    problems = table_problems(app)
    assert not problems, "\n".join(problems)


# --- the world --------------------------------------------------------------------------------------------


@dataclass
class World:
    users: dict  # role -> User (no entry for anonymous)
    values: dict  # PARAMS value names -> ids / strings
    token_plain: str


@pytest.fixture()
def world(app, make_coach, make_user, set_clock, lifted_rate_limits):
    # One client address for all roles: lifted_rate_limits keeps the limits from refusing a request here.
    set_clock(NOW)

    # Ids that differ between object types (users 1-4, visit 1, the rest fixed), so that a view
    # which looks up the wrong kind of object by the right number cannot pass by accident. (No request
    # here inserts partners, absences, suggestions or tokens, so the fixed ids never meet a PostgreSQL
    # sequence; were one to, the clash would show as a 500 in the violations, not pass silently.)
    editor = make_user("editor", regions=["dortmund"])
    admin = make_user("admin")
    make_coach(id=502, name="Matrixpartner Beta Hagen", region="hagen", email="beta@example.org")
    partner_a, coach_a = make_coach(id=501, name=PARTNER_A_NAME, region="hagen", email="alpha@example.org")
    coach_b = db.session.scalar(select(User).where(User.partner_id == 502))

    start = local_to_utc(datetime(2026, 12, 2, 10, 0))
    firm = FirmDetails(name="Hagener Federnwerk GmbH", address="Elberfelder Straße 1, 58095 Hagen",
                       contact="Michael Becker", email="m.becker@federnwerk.example.org", phone="+49 2331 123456",
                       lat=51.3594, lon=7.4746)
    with booking_transaction(db.session, partner_a.id):
        visit = book_visit(db.session, db.session.get(Partner, partner_a.id), coach_a, start, 60, firm, None, "",
                           NOW, settings_from_config(app.config))
        visit_id = visit.id

    hagen = db.session.scalar(select(Region).where(Region.slug == "hagen"))
    absence = Absence(id=701, partner_id=partner_a.id, start_date=date(2026, 12, 14), end_date=date(2026, 12, 15),
                      reason="vacation", note="")
    suggestion = Suggestion(id=801, suggestion_type="outdated", status="pending", region_id=hagen.id,
                            partner_id=partner_a.id, name=PARTNER_A_NAME,
                            message=f"{SUGGESTION_MARKER}: die Telefonnummer stimmt nicht mehr", payload={})
    token, plain = ApiToken.issue(admin, TOKEN_NAME)
    token.id = 901
    db.session.add(token)
    entry = AuditEntry(actor_id=admin.id, actor_label="Admin", entity_type="partners", entity_id=partner_a.id,
                       entity_label=AUDIT_MARKER, action="update", changes={"phone": ["1", "2"]})
    db.session.add_all([absence, suggestion, token, entry])
    db.session.commit()
    yield World(
        users={"coach_a": coach_a, "coach_b": coach_b, "editor_other": editor, "admin": admin},
        values={"partner_a": partner_a.id, "visit": visit_id, "suggestion": suggestion.id,
                "coach_a_user": coach_a.id, "admin_token": token.id, "absence": absence.id,
                "wrong_token": WRONG_TOKEN},
        token_plain=plain,
    )
    limiter.reset()  # the budgets used here (forgot-password: 5 a minute) are not the next test's business


def repair(world: World) -> None:
    """Undo what the previous role was allowed to do to partner A's objects, so every role meets the same world."""
    ids = world.values
    db.session.rollback()
    db.session.expire_all()
    if db.session.get(Absence, ids["absence"]) is None:
        db.session.add(Absence(id=ids["absence"], partner_id=ids["partner_a"], start_date=date(2026, 12, 14),
                               end_date=date(2026, 12, 15), reason="vacation", note=""))
    visit = db.session.get(Visit, ids["visit"])
    visit.status, visit.cancelled_at = "confirmed", None
    db.session.get(Partner, ids["partner_a"]).is_archived = False
    db.session.get(ApiToken, ids["admin_token"]).revoked_at = None
    suggestion = db.session.get(Suggestion, ids["suggestion"])
    suggestion.status, suggestion.decided_at, suggestion.decided_by_id = "pending", None, None
    db.session.commit()


# --- requests ---------------------------------------------------------------------------------------------


def build_url(app: Flask, rule, method: str, world: World) -> str:
    values = {name: world.values[PARAMS[name]] for name in rule.arguments}
    url = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
    if rule.endpoint in QUERY:
        url += "?" + QUERY[rule.endpoint].format(**world.values)
    return url


def send(client, method: str, url: str, endpoint: str, role: str, csrf: str, world: World):
    headers = {}
    if endpoint.startswith("directory_api_write.") and role == "admin":
        headers["Authorization"] = f"Bearer {world.token_plain}"
    if method == "GET":
        return client.get(url, headers=headers)
    if endpoint.split(".", 1)[0] in JSON_BLUEPRINTS:
        return client.open(url, method=method, json={}, headers=headers)
    return client.open(url, method=method, data={"csrf_token": csrf}, headers=headers)


def redirect_path(response) -> str | None:
    if response.status_code in (301, 302, 303, 307, 308):
        return urlsplit(response.headers.get("Location", "")).path
    return None


def refusal_problem(role: str, endpoint: str, response) -> str | None:
    """None when the response is an acceptable refusal, else what is wrong with it."""
    if response.status_code in DENIED_STATUSES:
        return None
    target = redirect_path(response)
    if target is not None:
        if role == "anonymous" and target == LOGIN_PATH:
            return None
        if target == DENIAL_REDIRECTS.get(endpoint):
            return None
        return f"not refused: redirect to {target}"
    return "not refused"


def acceptance_problem(role: str, response) -> str | None:
    """None when an allowed role was served (or merely told its minimal form data is incomplete)."""
    status = response.status_code
    if status in REFUSED_STATUSES or status == 429:
        return "refused"
    if status >= 500:
        return "server error"
    if redirect_path(response) == LOGIN_PATH:
        return "sent to the login page"
    return None


def leak_problem(response) -> str | None:
    if not 200 <= response.status_code < 300:
        return None
    body = response.get_data(as_text=True)
    leaked = [marker for marker in (PARTNER_A_NAME, SUGGESTION_MARKER, AUDIT_MARKER, TOKEN_NAME) if marker in body]
    return f"shows {', '.join(leaked)}" if leaked else None


def ordered_routes(app: Flask) -> list[tuple]:
    late = {endpoint: index for index, endpoint in enumerate(LATE)}
    return sorted(routes(app), key=lambda item: (late.get(item[0].endpoint, -1), item[0].rule, item[1]))


# --- the matrix -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_route_for_every_role(app, world):
    problems = table_problems(app)
    assert not problems, "\n".join(problems)

    violations: list[str] = []
    checked = 0
    for role in ROLES:
        repair(world)
        client = app.test_client()
        if role != "anonymous":
            log_in(client, world.users[role])
        csrf = csrf_from(client.get("/").get_data(as_text=True))
        current = snapshot(app)
        for rule, method in ordered_routes(app):
            endpoint = rule.endpoint
            url = build_url(app, rule, method, world)
            response = send(client, method, url, endpoint, role, csrf, world)
            checked += 1
            after = snapshot(app)
            allowed = role in EXPECTED[(endpoint, method)]
            if allowed:
                problem = acceptance_problem(role, response)
                if problem is None and role in OUTSIDERS and endpoint in LEAK_CHECKED:
                    problem = leak_problem(response)
            else:
                problem = refusal_problem(role, endpoint, response)
                changed = changes(current, after)
                if changed:
                    problem = (problem + "; " if problem else "") + "changed " + ", ".join(changed)
            if problem:
                verdict = "allowed" if allowed else "denied"
                violations.append(f"({role}, {method}, {url}, {response.status_code}) {verdict}: {problem}")
            current = after
    assert checked >= len(ROLES) * len(EXPECTED)
    assert not violations, f"{len(violations)} permission violations:\n" + "\n".join(violations)
