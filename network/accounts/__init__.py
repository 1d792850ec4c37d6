"""Accounts: users, roles, login, password reset and API tokens."""
from __future__ import annotations

from flask import Flask

# Tables, DSGVO erasers, labels and error labels (messages) register on import.
from network.accounts import labels, messages, models, privacy, routes  # noqa: F401


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
