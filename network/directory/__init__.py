"""The partner directory: listings, search and the map, moderation, freshness, CSV import and export."""
from __future__ import annotations

from flask import Flask

from network.demo import register_demo
# messages: the directory's error labels register on import.
from network.directory import (  # noqa: F401
    api, api_write, commands, demo, demo_accounts, messages, models, privacy, routes,
)
from network.extensions import db


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_write.bp)
    for command in commands.directory_commands:
        app.cli.add_command(command)
    register_demo("accounts", demo_accounts.seed_demo_users)
    app.jinja_env.globals["has_demo_data"] = lambda: demo.has_demo_data(db.session)
