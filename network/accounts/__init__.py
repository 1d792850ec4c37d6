"""Accounts: users, roles, login, password reset and API tokens."""
from __future__ import annotations

from flask import Flask

from network.accounts import models, privacy, routes  # noqa: F401  (tables and DSGVO erasers register on import)
from network.accounts import labels  # noqa: F401  (the accounts words register with the core on import)


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
