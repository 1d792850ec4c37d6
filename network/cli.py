"""Flask CLI commands; each domain contributes its own in its commands module."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from network.accounts.commands import account_commands
    from network.admin.commands import admin_commands
    from network.directory.commands import directory_commands

    for command in [*directory_commands, *account_commands, *admin_commands]:
        app.cli.add_command(command)
