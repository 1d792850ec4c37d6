"""The partner directory: listings, search and the map, moderation, freshness, CSV import and export."""
from __future__ import annotations

from flask import Flask

from network.audit import register_scope
from network.demo import register_demo

# labels, messages: the directory's words and error labels register on import.
from network.directory import (  # noqa: F401
    api,
    api_write,
    commands,
    demo,
    demo_accounts,
    labels,
    maintenance,
    messages,
    models,
    privacy,
    routes,
)
from network.extensions import db


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_write.bp)
    for command in commands.directory_commands:
        app.cli.add_command(command)
    register_demo("accounts", demo_accounts.seed_demo_users)
    register_scope("directory", maintenance.audit_scope)
    app.jinja_env.globals["has_demo_data"] = lambda: demo.has_demo_data(db.session)
