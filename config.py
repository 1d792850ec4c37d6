"""Configuration classes: every setting the app reads, its default, and the environment variable that sets it."""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent


def _secret_key_from_instance(instance_dir: Path) -> str:
    """Return a secret key generated once and kept in the instance folder.

    Development convenience only: sessions survive restarts without anyone
    having to invent a key. Production must set SECRET_KEY (see ProductionConfig).
    """
    instance_dir.mkdir(parents=True, exist_ok=True)
    key_file = instance_dir / "secret_key"
    if not key_file.exists():
        # O_EXCL: two workers starting together must not write two different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return key_file.read_text().strip()


@dataclass(frozen=True)
class InInstance:
    """A default path inside the instance folder, wherever PARTNERNETZ_INSTANCE puts that folder."""

    name: str
    template: str = "{}"

    def at(self, instance: Path) -> str:
        return self.template.format(instance / self.name)


@dataclass(frozen=True)
class Env:
    """A setting the environment may set: the variable, the default without it, and how its text is read.

    An empty variable counts as unset. README.md's configuration table lists every
    variable declared this way (tests/test_config.py checks both directions).
    """

    variable: str
    default: Any = None
    parse: Callable[[str], Any] = str


def _flag(text: str) -> bool:
    return text == "1"


def _host_list(text: str) -> list[str]:
    return [host.strip() for host in text.split(",") if host.strip()]


class Config:
    """Development and embedded default: SQLite in the instance folder, nothing leaves the machine.

    The environment is read when the app is created (settings()), not when this
    module is imported. A subclass that assigns a plain value to a setting pins it:
    the environment no longer changes it (TestConfig, the test fixtures).
    """

    # Variables without which settings() refuses (ProductionConfig).
    required_variables: ClassVar[tuple[str, ...]] = ()

    INSTANCE_PATH = Env("PARTNERNETZ_INSTANCE", str(BASE_DIR / "instance"))
    SECRET_KEY = Env("SECRET_KEY")  # None: generated once into the instance folder by create_app
    SQLALCHEMY_DATABASE_URI = Env("DATABASE_URL", InInstance("partnernetz.sqlite", "sqlite:///{}"))
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    # Absolute base URL for links in mails sent from the command line (remind-stale).
    PUBLIC_BASE_URL = Env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    # Host names the app answers to (Flask refuses any other Host header with 400); None: any. Production
    # defaults to the host of PUBLIC_BASE_URL.
    TRUSTED_HOSTS = Env("TRUSTED_HOSTS", None, _host_list)

    # Languages: German first, English second.
    LANGUAGES = ["de", "en"]
    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"

    # Sessions and forms
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = Env("MAX_CONTENT_LENGTH", 5 * 1024 * 1024, int)

    # Rate limiting: Redis when REDIS_URL is set (shared by all workers), memory otherwise.
    RATELIMIT_STORAGE_URI = Env("REDIS_URL", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    API_WRITE_RATE_LIMIT = Env("API_WRITE_RATE_LIMIT", "60 per minute")
    # One budget per address for the request form, POST /api/visits and the firm's reschedule.
    VISIT_REQUEST_RATE_LIMIT = Env("VISIT_REQUEST_RATE_LIMIT", "20 per hour")
    # One budget per address for the public suggestion and report forms.
    PUBLIC_SUGGESTION_RATE_LIMIT = Env("PUBLIC_SUGGESTION_RATE_LIMIT", "10 per hour")
    # Per address: GET /api/geocode, and searches with a place or text (/, /karte, /api/partners; one budget).
    GEOCODE_RATE_LIMIT = Env("GEOCODE_RATE_LIMIT", "30 per minute")
    SEARCH_RATE_LIMIT = Env("SEARCH_RATE_LIMIT", "60 per minute")

    # gunicorn (read by gunicorn.conf.py, not by the app): address, worker processes, threads per worker,
    # and the seconds after which a silent worker is replaced.
    GUNICORN_BIND = Env("GUNICORN_BIND", "127.0.0.1:8000")
    GUNICORN_WORKERS = Env("GUNICORN_WORKERS", 3, int)
    GUNICORN_THREADS = Env("GUNICORN_THREADS", 1, int)
    GUNICORN_TIMEOUT = Env("GUNICORN_TIMEOUT", 30, int)

    # Map. MAP_TILES: a URL template, "osm" for OpenStreetMap, or "none" for no tile layer.
    MAP_TILES = Env("MAP_TILES", "osm")
    MAP_TILES_ATTRIBUTION = Env(
        "MAP_TILES_ATTRIBUTION",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>-Mitwirkende',
    )
    MAP_CENTER = (51.45, 7.65)  # between Ruhr and Südwestfalen
    MAP_ZOOM = 9

    # Search defaults
    SEARCH_DEFAULT_RADIUS_KM = Env("SEARCH_DEFAULT_RADIUS_KM", 50.0, float)
    SEARCH_MAX_RADIUS_KM = 500.0
    SEARCH_PER_PAGE = 20

    # Geocoding: offline gazetteer; NOMINATIM_URL opts in to a remote Nominatim.
    NOMINATIM_URL = Env("NOMINATIM_URL")
    NOMINATIM_USER_AGENT = Env("NOMINATIM_USER_AGENT", "Partnernetz/1.0 (+admin contact)")
    NOMINATIM_TIMEOUT = Env("NOMINATIM_TIMEOUT", 10.0, float)
    GEOCODE_CACHE_PATH = Env("GEOCODE_CACHE_PATH", InInstance("geocode_cache.sqlite"))

    # CSV imports wait here between preview and confirmation.
    IMPORT_STAGE_DIR = Env("IMPORT_STAGE_DIR", InInstance("imports"))

    # Visit scheduler: travel time = great-circle km x road factor / speed + buffer (docs/scheduling.md)
    SCHEDULING_ROAD_FACTOR = Env("SCHEDULING_ROAD_FACTOR", 1.3, float)
    SCHEDULING_SPEED_KMH = Env("SCHEDULING_SPEED_KMH", 50.0, float)
    SCHEDULING_BUFFER_MIN = Env("SCHEDULING_BUFFER_MIN", 15.0, float)
    SCHEDULING_REQUEST_TTL_DAYS = Env("SCHEDULING_REQUEST_TTL_DAYS", 7, int)

    # Mail: without MAIL_SERVER messages go as .eml files to the instance outbox.
    MAIL_SERVER = Env("MAIL_SERVER")
    MAIL_PORT = Env("MAIL_PORT", 25, int)
    MAIL_USERNAME = Env("MAIL_USERNAME")
    MAIL_PASSWORD = Env("MAIL_PASSWORD")
    MAIL_USE_TLS = Env("MAIL_USE_TLS", False, _flag)
    MAIL_FROM = Env("MAIL_FROM", "Partnernetz <no-reply@partnernetz.invalid>")

    # Test-only hook, no environment variable: a callable returning the current UTC instant
    # replaces the real clock (tests set app.config["CLOCK"]); None is the real clock.
    CLOCK = None

    @classmethod
    def settings(cls, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
        """Every setting, read now: a value the class pins, else the environment, else the default."""
        missing = [name for name in cls.required_variables if not environ.get(name)]
        if missing:
            raise RuntimeError(f"{cls.__name__} needs the environment variables: {', '.join(missing)}")
        values: dict[str, Any] = {}
        for key in dir(cls):
            if not key.isupper():
                continue
            value = getattr(cls, key)
            if isinstance(value, Env):
                text = environ.get(value.variable)
                value = value.parse(text) if text else value.default
            values[key] = value
        instance = Path(values["INSTANCE_PATH"]).resolve()
        values["INSTANCE_PATH"] = str(instance)
        for key, value in values.items():
            if isinstance(value, InInstance):
                values[key] = value.at(instance)
        return values

    @classmethod
    def environment_variables(cls) -> set[str]:
        """The environment variables this class reads."""
        return {value.variable for key in dir(cls) if isinstance(value := getattr(cls, key), Env)}


class TestConfig(Config):
    """Tests: in-memory SQLite unless the fixture points it elsewhere; nothing leaves the machine."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    MAP_TILES = "none"
    NOMINATIM_URL = None
    # The test client's host: links in mails point where the tests can follow them.
    PUBLIC_BASE_URL = "http://localhost"
    # The suite sends many searches from one address; the limit tests set their own values.
    GEOCODE_RATE_LIMIT = "100000 per minute"
    SEARCH_RATE_LIMIT = "100000 per minute"


class ProductionConfig(Config):
    """Production: refuses to start without SECRET_KEY and DATABASE_URL from the environment."""

    required_variables = ("SECRET_KEY", "DATABASE_URL")
    SESSION_COOKIE_SECURE = True

    @classmethod
    def settings(cls, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
        values = super().settings(environ)
        if values["TRUSTED_HOSTS"] is None:
            # A forged Host header gets 400, not a page whose links point elsewhere.
            values["TRUSTED_HOSTS"] = [urlsplit(values["PUBLIC_BASE_URL"]).hostname]
        return values
