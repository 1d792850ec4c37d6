"""Configuration: every README variable is read and honoured; production refuses to start without its secrets."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import null

from config import BASE_DIR, Config, ProductionConfig, TestConfig
from conftest import csrf_from
from network import create_app
from network.accounts.models import ApiToken
from network.extensions import db, limiter
from network.scheduling.booking import Settings
from network.scheduling.views import settings as scheduling_settings


def _isolated(base: type[Config], instance: Path) -> type[Config]:
    """base, with everything that would touch the disk inside instance (never the repository's instance folder)."""

    class Isolated(base):  # type: ignore[valid-type, misc]
        INSTANCE_PATH = str(instance)
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{instance / 'app.sqlite'}"
        GEOCODE_CACHE_PATH = str(instance / "geocode_cache.sqlite")

    if base is Config:
        Isolated.SECRET_KEY = None  # as without SECRET_KEY in the environment at import time
    return Isolated


@pytest.mark.parametrize("missing", [["SECRET_KEY"], ["DATABASE_URL"], ["SECRET_KEY", "DATABASE_URL"]])
def test_production_refuses_to_start_without_secret_key_or_database_url(tmp_path, monkeypatch, missing):
    monkeypatch.setenv("SECRET_KEY", "ein-langer-geheimer-schluessel")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    for name in missing:
        monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    with pytest.raises(RuntimeError) as excinfo:
        create_app(_isolated(ProductionConfig, instance))
    for name in missing:
        assert name in str(excinfo.value)
    # It refused before anything was written, not even a generated key.
    assert not (instance / "secret_key").exists()


def test_production_refuses_an_empty_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_isolated(ProductionConfig, tmp_path / "instance"))


def test_production_starts_with_both_and_marks_the_session_cookie_secure(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "ein-langer-geheimer-schluessel")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    app = create_app(_isolated(ProductionConfig, tmp_path / "instance"))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not app.config.get("TESTING")


@pytest.mark.slow
def test_production_uses_the_environments_secret_key_and_database(tmp_path):
    """In a fresh interpreter, as a WSGI server would start it: the values come from the environment."""
    instance = tmp_path / "instance"
    database = tmp_path / "prod.sqlite"
    env = {key: value for key, value in os.environ.items()
           if key not in ("SECRET_KEY", "DATABASE_URL", "TEST_DATABASE_URL")}
    env.update(SECRET_KEY="schluessel-aus-der-umgebung", DATABASE_URL=f"sqlite:///{database}",
               PARTNERNETZ_INSTANCE=str(instance), GEOCODE_CACHE_PATH=str(instance / "geocode.sqlite"))
    script = (
        "from config import ProductionConfig\n"
        "from network import create_app\n"
        "app = create_app(ProductionConfig)\n"
        "print(app.config['SECRET_KEY'])\n"
        "print(app.config['SQLALCHEMY_DATABASE_URI'])\n"
        "print(app.config['SESSION_COOKIE_SECURE'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["schluessel-aus-der-umgebung", f"sqlite:///{database}", "True"]
    assert not (instance / "secret_key").exists()  # production never falls back to a generated key

    env.pop("SECRET_KEY")
    refused = subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr


def test_development_config_does_not_mark_the_cookie_secure(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app(_isolated(Config, tmp_path / "instance"))
    assert not app.config.get("SESSION_COOKIE_SECURE")


def test_default_config_generates_the_secret_key_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    instance = tmp_path / "fresh-instance"
    config = _isolated(Config, instance)
    first = create_app(config)
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.config["SECRET_KEY"]
    assert key and len(key) >= 32 and key == key_file.read_text().strip()

    second = create_app(config)
    assert second.config["SECRET_KEY"] == key  # sessions survive a restart

    other = create_app(_isolated(Config, tmp_path / "another-instance"))
    assert other.config["SECRET_KEY"] != key  # each installation its own key


# --- every variable of README's configuration table is read and honoured ---------------------------------------


def documented_variables() -> list[str]:
    """The environment variables in README.md's configuration table (first column), in table order."""
    readme = (BASE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1])
    return names


def test_readme_documents_exactly_the_variables_config_reads():
    documented = documented_variables()
    assert len(documented) == len(set(documented)), "a variable is documented twice"
    assert set(documented) == Config.environment_variables()
    for subclass in (TestConfig, ProductionConfig):
        assert subclass.environment_variables() <= set(documented)
        assert set(getattr(subclass, "required_variables", ())) <= set(documented)


@dataclass(frozen=True)
class Case:
    """A non-default value for one variable and a check that fails unless the app honours exactly that value.

    value: the text to set, or a function of the test's tmp_path; also: other variables the check needs
    (set for the baseline app too, so that only the variable under test differs).
    """

    value: str | Callable[[Path], str]
    check: Callable[..., None]
    also: dict[str, str] = field(default_factory=dict)


def _post_statuses(app: Flask, requests: list[tuple[str, dict]]) -> list[int]:
    limiter.reset()
    client = app.test_client()
    return [client.post(path, **kwargs).status_code for path, kwargs in requests]


def _get_statuses(app: Flask, paths: list[str]) -> list[int]:
    limiter.reset()
    client = app.test_client()
    return [client.get(path).status_code for path in paths]


def _geocode_limit_is_two(app, value, given):
    codes = _get_statuses(app, ["/api/geocode?q=Hagen"] * 3)
    assert 429 not in codes[:2] and codes[2] == 429, codes


def _geocode_limit_is_generous(app, value, given):
    codes = _get_statuses(app, ["/api/geocode?q=Hagen"] * 31)
    assert 429 not in codes, codes


def _search_limit_is_two(app, value, given):
    # One budget for the search page and GET /api/partners when a place is searched.
    codes = _get_statuses(app, ["/api/partners?near=58332", "/?near=58332", "/api/partners?near=58332"])
    assert 429 not in codes[:2] and codes[2] == 429, codes


def _search_limit_is_generous(app, value, given):
    codes = _get_statuses(app, ["/api/partners?near=58332"] * 61)
    assert 429 not in codes, codes


def _only_trusted_hosts_answer(app, value, given):
    client = app.test_client()
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": value}).status_code == 200


def _visit_limit_is_two(app, value, given):
    # One budget for POST /api/visits and the firm's reschedule (docs/architecture.md "CSRF exemptions").
    codes = _post_statuses(app, [("/api/visits", {"json": {}}), ("/termin/unbekannt/reschedule", {"json": {}}),
                                 ("/api/visits", {"json": {}})])
    assert 429 not in codes[:2] and codes[2] == 429, codes


def _visit_limit_is_generous(app, value, given):
    codes = _post_statuses(app, [("/api/visits", {"json": {}})] * 21)
    assert 429 not in codes, codes


def _suggestion_posts(app: Flask, count: int) -> list[int]:
    limiter.reset()
    client = app.test_client()
    token = csrf_from(client.get("/vorschlagen").get_data(as_text=True))
    return [client.post("/vorschlagen", data={"csrf_token": token}).status_code for _ in range(count)]


def _suggestion_limit_is_two(app, value, given):
    codes = _suggestion_posts(app, 3)
    assert 429 not in codes[:2] and codes[2] == 429, codes


def _suggestion_limit_is_generous(app, value, given):
    codes = _suggestion_posts(app, 11)
    assert 429 not in codes, codes


def _api_writes(app: Flask, given, count: int) -> list[int]:
    token, plain = ApiToken.issue(given.make_user("admin"), "Skript")
    db.session.add(token)
    db.session.commit()
    # An empty listing is refused (400), but every write spends the token's budget.
    return _post_statuses(app, [("/api/partners", {"json": {}, "headers": {"Authorization": f"Bearer {plain}"}})]
                          * count)


def _api_write_limit_is_two(app, value, given):
    codes = _api_writes(app, given, 3)
    assert 429 not in codes[:2] and codes[2] == 429, codes


def _api_write_limit_is_generous(app, value, given):
    codes = _api_writes(app, given, 61)
    assert 429 not in codes, codes


def _config_is(key: str, parse: Callable[[str], object] = str):
    def check(app, value, given):
        assert app.config[key] == parse(value)

    return check


def _database_is_used(app, value, given):
    assert app.config["SQLALCHEMY_DATABASE_URI"] == value
    with app.app_context():
        assert str(db.engine.url) == value


def _secret_key_is_used(app, value, given):
    assert app.secret_key == value


def _instance_is_used(app, value, given):
    instance = Path(value).resolve()
    assert app.instance_path == str(instance)
    assert (instance / "secret_key").exists()  # the generated key went there
    assert Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")).parent == instance
    assert Path(app.config["GEOCODE_CACHE_PATH"]).parent == instance
    assert Path(app.config["IMPORT_STAGE_DIR"]).parent == instance


def _tiles_are_allowed_by_the_csp(app, value, given):
    csp = app.test_client().get("/anmelden").headers["Content-Security-Policy"]
    assert "https://tiles.example.org" in csp


def _attribution_is_on_the_map(app, value, given):
    assert value in app.test_client().get("/").get_data(as_text=True)


def _remote(app):
    remote = app.extensions["partnernetz.geocoder"].remote
    assert remote is not None
    return remote


def _nominatim_is_asked(app, value, given):
    remote = _remote(app)
    assert (remote.scheme, remote.domain) == ("http", "127.0.0.1:9/nominatim")


def _nominatim_hears_the_user_agent(app, value, given):
    assert _remote(app).headers["User-Agent"] == value


def _nominatim_waits(app, value, given):
    assert _remote(app).timeout == float(value)


def _geocode_cache_is_there(app, value, given):
    assert Path(value).exists()  # the geocoder opened its cache there


def _import_stage_is_there(app, value, given):
    from network.admin.import_routes import _stage

    with app.test_request_context():
        assert _stage().directory == Path(value)


def _rate_limits_go_to_redis(app, value, given):
    from limits.storage import RedisStorage

    assert app.config["RATELIMIT_STORAGE_URI"] == value
    assert isinstance(limiter.storage, RedisStorage)


def _search_uses_the_default_radius(app, value, given):
    given.make_partner(name="Siegener Scout", latitude=50.8748, longitude=8.0243, city="Siegen")  # ~75 km from Schwelm
    assert "Siegener Scout" in app.test_client().get("/?near=58332").get_data(as_text=True)


def _upload_limit(app, value, given):
    response = app.test_client().post("/anmelden", data={"x": "y" * 4096})
    assert response.status_code == 413


def _mailer_has(attribute: str, parse: Callable[[str], object] = str):
    def check(app, value, given):
        assert getattr(app.extensions["partnernetz.mailer"], attribute) == parse(value)

    return check


def _mails_come_from(app, value, given):
    mailer = app.extensions["partnernetz.mailer"]
    assert mailer.new_message("firma@example.org", "Betreff", "Text")["From"] == value


def _reminder_links_use(app, value, given):
    recipient = f"{uuid.uuid4().hex}@example.org"
    given.make_partner(email=recipient, confirmed_at=null())
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["remind-stale"])
        db.session.remove()
    assert result.exit_code == 0, result.output
    outbox = Path(app.instance_path) / "outbox"  # no MAIL_SERVER: the mails are files
    mails = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in outbox.glob("*.eml")]
    (mail,) = [mail for mail in mails if mail["To"] == recipient]
    assert f"{value}/bestaetigen/" in mail.get_content()


def _scheduler_uses(attribute: Callable[[Settings], object], parse: Callable[[str], object]):
    def check(app, value, given):
        with app.test_request_context():
            assert attribute(scheduling_settings()) == parse(value)

    return check


NOMINATIM = {"NOMINATIM_URL": "http://127.0.0.1:9/nominatim"}  # nothing listens: the checks send nothing

CASES: dict[str, list[Case]] = {
    "DATABASE_URL": [Case(lambda tmp: f"sqlite:///{tmp / 'other.sqlite'}", _database_is_used)],
    "SECRET_KEY": [Case("ein-geheimer-schluessel-aus-der-umgebung", _secret_key_is_used)],
    # An empty variable counts as unset: the database goes to its default place in the instance folder.
    "PARTNERNETZ_INSTANCE": [Case(lambda tmp: str(tmp / "elsewhere"), _instance_is_used, {"DATABASE_URL": ""})],
    "MAP_TILES": [Case("https://tiles.example.org/{z}/{x}/{y}.png", _tiles_are_allowed_by_the_csp)],
    "MAP_TILES_ATTRIBUTION": [Case("Kacheln von Beispielkarten", _attribution_is_on_the_map)],
    "NOMINATIM_URL": [Case(NOMINATIM["NOMINATIM_URL"], _nominatim_is_asked)],
    "NOMINATIM_USER_AGENT": [Case("Partnernetz-Test/2.0 (it@example.org)", _nominatim_hears_the_user_agent,
                                  NOMINATIM)],
    "NOMINATIM_TIMEOUT": [Case("2.5", _nominatim_waits, NOMINATIM)],
    "GEOCODE_CACHE_PATH": [Case(lambda tmp: str(tmp / "caches" / "geo.sqlite"), _geocode_cache_is_there, NOMINATIM)],
    "IMPORT_STAGE_DIR": [Case(lambda tmp: str(tmp / "staging"), _import_stage_is_there)],
    "REDIS_URL": [Case("redis://127.0.0.1:9/0", _rate_limits_go_to_redis)],
    "SEARCH_DEFAULT_RADIUS_KM": [Case("100", _search_uses_the_default_radius)],
    "MAX_CONTENT_LENGTH": [Case("2048", _upload_limit)],
    "MAIL_SERVER": [Case("smtp.example.org", _mailer_has("server"))],
    "MAIL_USERNAME": [Case("partnernetz", _mailer_has("username"))],
    "MAIL_PASSWORD": [Case("smtp-geheim", _mailer_has("password"))],
    "MAIL_PORT": [Case("2525", _mailer_has("port", int))],
    "MAIL_USE_TLS": [Case("1", _mailer_has("use_tls", lambda text: True))],
    "MAIL_FROM": [Case("Partnernetz Test <partnernetz@example.org>", _mails_come_from)],
    "PUBLIC_BASE_URL": [Case("https://partnernetz.example.org", _reminder_links_use)],
    "SCHEDULING_ROAD_FACTOR": [Case("2.0", _scheduler_uses(lambda s: s.rules.road_factor, float))],
    "SCHEDULING_SPEED_KMH": [Case("30", _scheduler_uses(lambda s: s.rules.speed_kmh, float))],
    "SCHEDULING_BUFFER_MIN": [Case("5", _scheduler_uses(lambda s: s.rules.buffer_min, float))],
    "SCHEDULING_REQUEST_TTL_DAYS": [Case("3", _scheduler_uses(lambda s: s.request_ttl,
                                                              lambda text: timedelta(days=int(text))))],
    "VISIT_REQUEST_RATE_LIMIT": [Case("2 per hour", _visit_limit_is_two),
                                 Case("1000 per hour", _visit_limit_is_generous)],
    "PUBLIC_SUGGESTION_RATE_LIMIT": [Case("2 per hour", _suggestion_limit_is_two),
                                     Case("1000 per hour", _suggestion_limit_is_generous)],
    "API_WRITE_RATE_LIMIT": [Case("2 per minute", _api_write_limit_is_two),
                             Case("1000 per minute", _api_write_limit_is_generous)],
    "GEOCODE_RATE_LIMIT": [Case("2 per minute", _geocode_limit_is_two),
                           Case("1000 per minute", _geocode_limit_is_generous)],
    "SEARCH_RATE_LIMIT": [Case("2 per minute", _search_limit_is_two),
                          Case("1000 per minute", _search_limit_is_generous)],
    # Read by gunicorn.conf.py from the same settings (tests/test_production_start.py starts it).
    "TRUSTED_HOSTS": [Case("partnernetz.example.org", _only_trusted_hosts_answer)],
    "GUNICORN_BIND": [Case("127.0.0.1:8123", _config_is("GUNICORN_BIND"))],
    "GUNICORN_WORKERS": [Case("5", _config_is("GUNICORN_WORKERS", int))],
    "GUNICORN_THREADS": [Case("2", _config_is("GUNICORN_THREADS", int))],
    "GUNICORN_TIMEOUT": [Case("45", _config_is("GUNICORN_TIMEOUT", int))],
}


@pytest.fixture()
def app_from_environment(app, app_ctx, tmp_path, monkeypatch) -> Iterator[Callable[..., Flask]]:
    """app_from_environment(**variables) -> a new app from Config, with only these variables (and the test
    database and a fresh instance folder) in the environment; the environment is restored afterwards."""
    for name in Config.environment_variables():
        monkeypatch.delenv(name, raising=False)
    base = {"PARTNERNETZ_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    built: list[Flask] = []

    def build(**variables: str) -> Flask:
        with monkeypatch.context() as env:
            for name, value in {**base, **variables}.items():
                env.setenv(name, value)
            built.append(create_app(Config))
        return built[-1]

    yield build
    for other in built:
        with other.app_context():
            db.engine.dispose()
    # create_app gave the one shared limiter the new app's storage (Redis, even); give it back the session app's.
    limiter.init_app(app)


@pytest.mark.parametrize("variable", documented_variables())
def test_the_app_honours_every_documented_variable(variable, app_from_environment, make_partner, make_user,
                                                   tmp_path):
    assert variable in CASES, f"README.md documents {variable}, but tests/test_config.py has no case for it"
    given = SimpleNamespace(make_partner=make_partner, make_user=make_user)
    for case in CASES[variable]:
        value = case.value(tmp_path) if callable(case.value) else case.value
        baseline = app_from_environment(**case.also)
        with pytest.raises(AssertionError):  # the check tells the value from the default
            case.check(baseline, value, given)
        case.check(app_from_environment(**case.also, **{variable: value}), value, given)
