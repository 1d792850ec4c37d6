"""The /admin area (web layer): listings, moderation, audit log, imports, users, personal data; CLI for admins."""
from __future__ import annotations

from flask import Flask

from network.admin import account_commands, commands, routes


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    for command in [*account_commands.account_commands, *commands.admin_commands]:
        app.cli.add_command(command)
