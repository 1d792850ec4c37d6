"""Test fixtures: the app from TestConfig on SQLite (or PostgreSQL via TEST_DATABASE_URL), schema from migrations."""
from __future__ import annotations

import email
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask, g
from sqlalchemy import func, select, text
from werkzeug.security import generate_password_hash

from config import TestConfig
from network import create_app
from network.accounts.models import User
from network.audit import AuditEntry
from network.directory.models import Partner
from network.extensions import db, limiter
from network.geo.gazetteer import Gazetteer
from network.mail import Mailer
from network.scheduling.localtime import local_to_utc
from network.scheduling.models import Visit

ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"))


def _reset_postgres_schema(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")

    class _Config(TestConfig):
        INSTANCE_PATH = str(instance)
        SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{instance / 'test.sqlite'}"
        GEOCODE_CACHE_PATH = str(instance / "geocode_cache.sqlite")

    if ON_POSTGRES:
        _reset_postgres_schema(_Config.SQLALCHEMY_DATABASE_URI)
    application = create_app(_Config)
    with application.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(Path(__file__).resolve().parents[1] / "migrations"))
    yield application


def _wipe(application: Flask) -> None:
    with application.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture()
def app_ctx(app: Flask) -> Iterator[Flask]:
    """An app context with empty tables before and after the test."""
    _wipe(app)
    with app.app_context():
        yield app
        db.session.remove()
    _wipe(app)


@pytest.fixture()
def client(app_ctx: Flask):
    return app_ctx.test_client()


@pytest.fixture()
def taxonomy(app_ctx: Flask):
    from network.directory.taxonomy import ensure_taxonomy

    ensure_taxonomy(db.session)
    db.session.commit()
    return db.session


@pytest.fixture()
def make_partner(taxonomy) -> Callable[..., Partner]:
    """Return a callable that creates a committed partner with sensible defaults; keyword args override."""
    from sqlalchemy import select

    from network.directory.models import Kind, Organisation, Partner, Region, Topic

    counter = {"n": 0}

    def _make(**overrides):
        counter["n"] += 1
        kind = overrides.pop("kind", "innovationscoach")
        region = overrides.pop("region", "ennepe-ruhr-kreis")
        topics = overrides.pop("topics", ["prozessoptimierung"])
        org_name = overrides.pop("organisation", "Wirtschaftsförderung Test")
        org = db.session.scalar(select(Organisation).where(Organisation.name == org_name)) if org_name else None
        if org_name and org is None:
            org = Organisation(name=org_name, org_type="agency")
            db.session.add(org)
        values = dict(
            name=f"Testpartner {counter['n']}",
            street="Hauptstraße 1",
            postcode="58332",
            city="Schwelm",
            latitude=51.2857,
            longitude=7.2930,
            service_radius_km=30.0,
            email=f"partner{counter['n']}@example.org",
            phone="+49 2336 0000",
        )
        values.update(
            kind=db.session.scalar(select(Kind).where(Kind.slug == kind)),
            region=db.session.scalar(select(Region).where(Region.slug == region)),
            organisation=org,
            topics=list(db.session.scalars(select(Topic).where(Topic.slug.in_(topics)))),
        )
        values.update(overrides)
        partner = Partner(**values)
        partner.refresh_search_fields()
        db.session.add(partner)
        db.session.commit()
        return partner

    return _make


TEST_PASSWORD = "richtig-geheim-123"


@pytest.fixture()
def make_user(taxonomy) -> Callable[..., User]:
    """Return a callable that creates a committed account: make_user("editor", regions=["dortmund"]).

    The password hash is a cheap PBKDF2 one: Werkzeug's scrypt costs ~0.4 s per hash and per login on
    a busy machine; test_accounts checks that User.set_password itself uses scrypt.
    """
    from sqlalchemy import select

    from network.accounts.models import User
    from network.directory.models import Region

    counter = {"n": 0}

    def _make(role: str = "coach", *, regions: list[str] = (), partner=None, email: str | None = None,
              password: str = TEST_PASSWORD, name: str | None = None, is_enabled: bool = True):
        counter["n"] += 1
        user = User(
            email=email or f"{role}{counter['n']}@example.org",
            name=name or f"{role.title()} {counter['n']}",
            role=role,
            is_enabled=is_enabled,
            regions=list(db.session.scalars(select(Region).where(Region.slug.in_(list(regions))))),
            partner=partner,
        )
        user.password_hash = generate_password_hash(password, method="pbkdf2:sha256:1000")
        db.session.add(user)
        db.session.commit()
        return user

    return _make


def visible_text(page: str) -> str:
    """Text nodes and the attributes people see or hear (placeholder, title, aria-label, alt) of an HTML page."""
    import html as htmllib
    import re

    body = re.sub(r"<script\b.*?</script>|<style\b.*?</style>", " ", page, flags=re.S)
    attributes = re.findall(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"', body)
    text = re.sub(r"<[^>]+>", "\n", body)
    return htmllib.unescape("\n".join([text, *attributes]))


def has_word(text: str, word: str) -> bool:
    """word occurs in text as a whole word (not inside a longer one)."""
    import re

    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture()
def csrf_token(client) -> Callable[[str], str]:
    """csrf_token(path) -> the CSRF token of the form on that page (GET)."""

    def _token(path: str = "/anmelden") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    return _token


def log_in(client, user, password: str = TEST_PASSWORD) -> None:
    """Log this test client in through the real login form."""
    token = csrf_from(client.get("/anmelden").get_data(as_text=True))
    response = client.post("/anmelden", data={"email": user.email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


@pytest.fixture()
def login(client) -> Callable[..., None]:
    """login(user) logs the test client in through the real login form."""

    def _login(user, password: str = TEST_PASSWORD) -> None:
        log_in(client, user, password)

    return _login


def post_form(client, path: str, data: dict | None = None, token_page: str = "/"):
    """POST a form to path with the CSRF token of token_page (GET first), as a browser would."""
    token = csrf_from(client.get(token_page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})})


def forget_current_user() -> None:
    # One app context spans the whole test, so the per-request caches on g (Flask-Login's user, Flask-WTF's
    # CSRF token) outlive a request; with two clients (two browsers) they must go before the other one asks.
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


@pytest.fixture()
def lifted_rate_limits(app, monkeypatch) -> None:
    """Many requests come from one test address: the per-address limits must not be what refuses them."""
    for key in ("PUBLIC_SUGGESTION_RATE_LIMIT", "VISIT_REQUEST_RATE_LIMIT", "API_WRITE_RATE_LIMIT"):
        monkeypatch.setitem(app.config, key, "100000 per hour")
    limiter.reset()


# --- counting and snapshots -----------------------------------------------------------------------


def partner_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Partner.id))) or 0


def audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id))) or 0


def visit_count(**where) -> int:
    """Visits in the database (as of now, not the session's cache), optionally with column == value."""
    db.session.expire_all()
    stmt = select(func.count()).select_from(Visit)
    for key, value in where.items():
        stmt = stmt.where(getattr(Visit, key) == value)
    return db.session.scalar(stmt)


def overlapping_active_pairs(connection=None) -> int:
    """Pairs of active visits of one coach that overlap, by SQL alone (the session's, or the connection's view)."""
    return (connection or db.session).execute(text(
        "SELECT count(*) FROM visits a JOIN visits b ON a.partner_id = b.partner_id AND a.id < b.id "
        "WHERE a.status IN ('requested', 'confirmed') AND b.status IN ('requested', 'confirmed') "
        "AND a.start_at < b.end_at AND b.start_at < a.end_at")).scalar()


def snapshot(app: Flask) -> tuple[dict[str, list[tuple]], dict[str, list[str]]]:
    """Every row of every table (as the app's session sees it) and the files in the outbox and import stage."""
    db.session.expire_all()
    rows = {table.name: [tuple(row) for row in db.session.execute(
        table.select().order_by(*table.primary_key.columns))] for table in db.metadata.sorted_tables}
    db.session.rollback()
    files = {}
    for folder in ("outbox", "imports"):
        path = Path(app.instance_path) / folder
        files[folder] = sorted(os.listdir(path)) if path.is_dir() else []
    return rows, files


def changes(before, after) -> list[str]:
    """The tables and folders that differ between two snapshots."""
    names = [name for name in before[0] if before[0][name] != after[0][name]]
    names += [f"{folder} ({len(before[1][folder])} -> {len(after[1][folder])} files)"
              for folder in before[1] if before[1][folder] != after[1][folder]]
    return names


@pytest.fixture()
def set_clock(app):
    """set_clock(datetime) fixes the app's notion of now (config CLOCK) for the test; restored afterwards."""
    previous = app.config.get("CLOCK")

    def _set(moment) -> None:
        app.config["CLOCK"] = (lambda: moment) if moment is not None else None

    yield _set
    app.config["CLOCK"] = previous


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Berlin wall-clock time as the UTC instant."""
    return local_to_utc(datetime(year, month, day, hour, minute))


@pytest.fixture()
def make_coach(make_partner, make_user):
    """make_coach(**partner_overrides) -> (partner, user): a coach listing with Mon–Fri 08:00–17:00 and an account."""
    from network.scheduling.models import WorkingHours

    def _make(hours=((0, 480, 1020), (1, 480, 1020), (2, 480, 1020), (3, 480, 1020), (4, 480, 1020)),
              **overrides):
        partner = make_partner(**overrides)
        for weekday, start, end in hours:
            db.session.add(WorkingHours(partner_id=partner.id, weekday=weekday, start_minute=start, end_minute=end))
        db.session.commit()
        user = make_user("coach", partner=partner)
        return partner, user

    return _make


@pytest.fixture()
def live_server(app, app_ctx) -> Iterator[str]:
    """The app served by a real threaded HTTP server on loopback; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking switches Chromium tries to reach Google's hosts at
# start, which this (and many CI) networks refuse.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture()
def chromium():
    """A headless Debian Chromium driven by Playwright (never a downloaded browser).

    Missing Chromium skips locally and fails in CI, where .ci/run installs it.
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs /usr/bin/chromium (apt-get install -y chromium); .ci/run installs it",
                        pytrace=False)
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- scheduling: the firm-facing tests (test_scheduling_public, test_scheduling_api) ----------------

FIRM_NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday; 2026-12-01 is the Tuesday after


@pytest.fixture()
def now(set_clock) -> datetime:
    set_clock(FIRM_NOW)
    return FIRM_NOW


@pytest.fixture()
def coach(make_coach, now) -> Partner:
    """A bookable coach listing (Mon–Fri 08:00–17:00), the clock at FIRM_NOW.

    Modules that need the coach's account as well override this fixture.
    """
    partner, _user = make_coach()
    return partner


# --- mail: a real SMTP server on loopback ---------------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback that nothing listens on at this moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """aiosmtpd handler keeping every message the server received, parsed, with its envelope recipients."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [message for _rcpts, message in self.received]

    def take(self) -> list[tuple[list[str], EmailMessage]]:
        """(recipients, message) of everything received since the last take() or clear()."""
        with self._lock:
            taken = list(self.received)
            self.received.clear()
        return taken

    def clear(self) -> None:
        self.take()


@contextmanager
def smtp_server() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a free loopback port while the block runs."""
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@contextmanager
def _mailer_on_port(app: Flask, port: int) -> Iterator[None]:
    saved = app.extensions["partnernetz.mailer"]
    app.extensions["partnernetz.mailer"] = Mailer({**app.config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port},
                                                  app.instance_path)
    try:
        yield
    finally:
        app.extensions["partnernetz.mailer"] = saved


@pytest.fixture()
def smtp(app) -> Iterator[SmtpSink]:
    """A real SMTP server on loopback; the app's mailer sends to it for the test."""
    with smtp_server() as sink, _mailer_on_port(app, sink.port):
        yield sink


@pytest.fixture()
def broken_smtp(app) -> Iterator[None]:
    """The app's mailer points at a loopback port where nothing listens: every send fails."""
    with _mailer_on_port(app, free_port()):
        yield


# --- geography and the browser --------------------------------------------------------------------


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return Gazetteer.default()


@pytest.fixture()
def browser_page(chromium):
    """A German-locale page in headless Chromium; page.errors collects script errors and console errors."""
    context = chromium.new_context(locale="de-DE")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield page
    finally:
        context.close()


def browser_log_in(page, base: str, email: str, password: str = TEST_PASSWORD) -> None:
    """Log the browser in through the login form; staff land on /admin/."""
    page.goto(f"{base}/anmelden")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
