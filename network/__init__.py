"""Application factory for Partnernetz."""
from __future__ import annotations

from pathlib import Path

from flask import Flask

from config import BASE_DIR, Config, _secret_key_from_instance


def create_app(config_class: type[Config] = Config) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, commands."""
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
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


# Per-request values that Flask-Babel, Flask-Login, Flask-WTF and our CSP cache on g.
REQUEST_STATE_ON_G = ("_flask_babel", "_login_user", "csrf_token", "csp_nonce")


def register_request_state(app: Flask) -> None:
    """Start every request with a clean g.

    g belongs to the app context, and an outer context (tests, CLI, a worker that
    keeps one) is shared by all requests inside it: a cached login, locale, CSRF
    token or CSP nonce would leak from one request into the next.
    """
    from flask import g

    @app.before_request
    def _fresh_request_state() -> None:
        for key in REQUEST_STATE_ON_G:
            g.pop(key, None)


def register_extensions(app: Flask) -> None:
    from network.extensions import babel, csrf, db, limiter, login_manager, migrate
    from network.i18n import select_locale

    import network.models  # noqa: F401  (all tables known to the metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Bitte melden Sie sich an, um diese Seite zu sehen.")
    login_manager.login_message_category = "info"
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(BASE_DIR / "network" / "translations"))
    from network.geo.geocoding import make_geocoder

    app.extensions["partnernetz.geocoder"] = make_geocoder(app.config)
    from network.mail import Mailer

    app.extensions["partnernetz.mailer"] = Mailer(app.config, app.instance_path)
    from network.security import register as register_security

    register_security(app)
    from network.templating import register as register_templating

    register_templating(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from network.dbutil import configure_sqlite

        with app.app_context():
            configure_sqlite(db.engine)


def register_blueprints(app: Flask) -> None:
    from network.accounts.routes import bp as accounts_bp
    from network.admin.routes import bp as admin_bp
    from network.directory.api import bp as api_bp
    from network.directory.api_write import bp as api_write_bp
    from network.directory.routes import bp as directory_bp
    from network.i18n import bp as i18n_bp

    app.register_blueprint(directory_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_write_bp)
    app.register_blueprint(i18n_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    from network.scheduling.api import bp as scheduling_api_bp
    from network.scheduling.routes import bp as scheduling_bp

    app.register_blueprint(scheduling_bp)
    app.register_blueprint(scheduling_api_bp)


def register_errorhandlers(app: Flask) -> None:
    from network.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from network.cli import register

    register(app)
