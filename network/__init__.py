"""Application factory for Partnernetz: the core, then each domain lowest first, then the admin area."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, g
from flask_babel import lazy_gettext

from config import BASE_DIR, Config, _secret_key_from_instance
from network import accounts, admin, directory, errors, i18n, scheduling, security, templating
from network.dbutil import configure_sqlite
from network.extensions import babel, csrf, db, limiter, login_manager, migrate
from network.geo.geocoding import make_geocoder
from network.mail import Mailer

# The domains, lowest layer first (see docs/architecture.md); each registers its blueprints, commands,
# DSGVO erasers and demo data with the core in init_app.
DOMAINS = (accounts, directory, scheduling)


def create_app(config_class: type[Config] = Config) -> Flask:
    """Build the app: config, extensions, domains, admin area, error handlers."""
    # Read the environment now, when the app starts, not when config.py was imported.
    settings = config_class.settings()
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    app.config.from_mapping(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key_from_instance(Path(app.instance_path))

    register_request_state(app)
    register_extensions(app)
    app.register_blueprint(i18n.bp)
    for domain in DOMAINS:
        domain.init_app(app)
    admin.init_app(app)
    errors.register(app)
    return app


# Per-request values that Flask-Babel, Flask-Login, Flask-WTF and our CSP cache on g.
REQUEST_STATE_ON_G = ("_flask_babel", "_login_user", "csrf_token", "csp_nonce")


def register_request_state(app: Flask) -> None:
    """Start every request with a clean g.

    g belongs to the app context, and an outer context (tests, CLI, a worker that
    keeps one) is shared by all requests inside it: a cached login, locale, CSRF
    token or CSP nonce would leak from one request into the next.
    """
    @app.before_request
    def _fresh_request_state() -> None:
        for key in REQUEST_STATE_ON_G:
            g.pop(key, None)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = lazy_gettext("Bitte melden Sie sich an, um diese Seite zu sehen.")
    login_manager.login_message_category = "info"
    limiter.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale,
                   default_translation_directories=str(BASE_DIR / "network" / "translations"))
    app.extensions["partnernetz.geocoder"] = make_geocoder(app.config)
    app.extensions["partnernetz.mailer"] = Mailer(app.config, app.instance_path)
    security.register(app)
    templating.register(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            configure_sqlite(db.engine)
