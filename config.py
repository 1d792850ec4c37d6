"""Configuration classes: environment first, safe development defaults second."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("PARTNERNETZ_INSTANCE", BASE_DIR / "instance"))


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


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class Config:
    """Development and embedded default: SQLite in the instance folder, nothing leaves the machine."""

    INSTANCE_PATH = str(INSTANCE_DIR)
    SECRET_KEY = os.environ.get("SECRET_KEY") or None  # filled from the instance folder in create_app
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'partnernetz.sqlite'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    # Absolute base URL for links in mails sent from the command line (remind-stale).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")

    # Languages: German first, English second.
    LANGUAGES = ["de", "en"]
    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"

    # Sessions and forms
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 5 * 1024 * 1024)

    # Rate limiting (Redis when REDIS_URL is set, memory otherwise)
    REDIS_URL = os.environ.get("REDIS_URL")
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    API_WRITE_RATE_LIMIT = os.environ.get("API_WRITE_RATE_LIMIT", "60 per minute")
    # Per address: GET /api/geocode, and searches with a place or text (/, /karte, /api/partners; one budget).
    GEOCODE_RATE_LIMIT = os.environ.get("GEOCODE_RATE_LIMIT", "30 per minute")
    SEARCH_RATE_LIMIT = os.environ.get("SEARCH_RATE_LIMIT", "60 per minute")

    # gunicorn (read by gunicorn.conf.py, not by the app): address, worker processes, threads per worker,
    # and the seconds after which a silent worker is replaced.
    GUNICORN_BIND = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
    GUNICORN_WORKERS = _env_int("GUNICORN_WORKERS", 3)
    GUNICORN_THREADS = _env_int("GUNICORN_THREADS", 1)
    GUNICORN_TIMEOUT = _env_int("GUNICORN_TIMEOUT", 30)

    # Map. MAP_TILES: a URL template, "osm" for OpenStreetMap, or "none" for no tile layer.
    MAP_TILES = os.environ.get("MAP_TILES", "osm")
    MAP_TILES_ATTRIBUTION = os.environ.get(
        "MAP_TILES_ATTRIBUTION",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>-Mitwirkende',
    )
    MAP_CENTER = (51.45, 7.65)  # between Ruhr and Südwestfalen
    MAP_ZOOM = 9

    # Search defaults
    SEARCH_DEFAULT_RADIUS_KM = _env_float("SEARCH_DEFAULT_RADIUS_KM", 50.0)
    SEARCH_MAX_RADIUS_KM = 500.0
    SEARCH_PER_PAGE = 20

    # Geocoding: offline gazetteer; NOMINATIM_URL opts in to a remote Nominatim.
    NOMINATIM_URL = os.environ.get("NOMINATIM_URL") or None
    NOMINATIM_USER_AGENT = os.environ.get("NOMINATIM_USER_AGENT", "Partnernetz/1.0 (+admin contact)")
    GEOCODE_CACHE_PATH = os.environ.get("GEOCODE_CACHE_PATH") or str(INSTANCE_DIR / "geocode_cache.sqlite")

    # Visit scheduler: travel time = great-circle km x road factor / speed + buffer (docs/scheduling.md)
    SCHEDULING_ROAD_FACTOR = _env_float("SCHEDULING_ROAD_FACTOR", 1.3)
    SCHEDULING_SPEED_KMH = _env_float("SCHEDULING_SPEED_KMH", 50.0)
    SCHEDULING_BUFFER_MIN = _env_float("SCHEDULING_BUFFER_MIN", 15.0)
    SCHEDULING_REQUEST_TTL_DAYS = _env_int("SCHEDULING_REQUEST_TTL_DAYS", 7)

    # Mail: without MAIL_SERVER messages go as .eml files to the instance outbox.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
    MAIL_FROM = os.environ.get("MAIL_FROM", "Partnernetz <no-reply@partnernetz.invalid>")


class TestConfig(Config):
    """Tests: in-memory-like SQLite unless TEST_DATABASE_URL points at PostgreSQL."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    WTF_CSRF_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    # The whole suite searches from one address; tests of these limits set their own (tests/test_security_geocode.py).
    GEOCODE_RATE_LIMIT = "100000 per minute"
    SEARCH_RATE_LIMIT = "100000 per minute"
    MAP_TILES = "none"
    NOMINATIM_URL = None


class ProductionConfig(Config):
    """Production: refuses to start without SECRET_KEY and DATABASE_URL from the environment."""

    SESSION_COOKIE_SECURE = True

    @classmethod
    def check(cls) -> dict:
        """Refuse to start without the secrets; return them as config values, read now from the environment."""
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"ProductionConfig needs the environment variables: {', '.join(missing)}")
        return {"SECRET_KEY": os.environ["SECRET_KEY"], "SQLALCHEMY_DATABASE_URI": os.environ["DATABASE_URL"]}
