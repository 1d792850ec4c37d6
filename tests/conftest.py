"""Test fixtures: the app from TestConfig on SQLite (or PostgreSQL via TEST_DATABASE_URL), schema from the migrations."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from config import TestConfig
from network import create_app
from network.extensions import db

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
def make_partner(taxonomy) -> Callable[..., "Partner"]:  # noqa: F821
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
def make_user(taxonomy) -> Callable[..., "User"]:  # noqa: F821
    """Return a callable that creates a committed account: make_user("editor", regions=["dortmund"])."""
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
        user.set_password(password)
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
    import re

    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture()
def csrf_token(client) -> Callable[[str], str]:
    """csrf_token(path) -> the CSRF token of the form on that page (GET)."""

    def _token(path: str = "/anmelden") -> str:
        return csrf_from(client.get(path).get_data(as_text=True))

    return _token


@pytest.fixture()
def login(client) -> Callable[..., None]:
    """login(user) logs the test client in through the real login form."""

    def _login(user, password: str = TEST_PASSWORD) -> None:
        token = csrf_from(client.get("/anmelden").get_data(as_text=True))
        response = client.post("/anmelden", data={"email": user.email, "password": password, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]

    return _login


@pytest.fixture()
def set_clock(app):
    """set_clock(datetime) fixes the app's notion of now (config CLOCK) for the test; restored afterwards."""
    previous = app.config.get("CLOCK")

    def _set(moment) -> None:
        app.config["CLOCK"] = (lambda: moment) if moment is not None else None

    yield _set
    app.config["CLOCK"] = previous


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
