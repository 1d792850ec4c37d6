"""Scheduler pages: the firm's request and manage pages, the coach's calendar; each part in its own module."""
from __future__ import annotations

from flask import Blueprint, current_app

from network.clock import now as clock  # noqa: F401  (the view modules' name for the app clock)
from network.scheduling.booking import Settings, settings_from_config

bp = Blueprint("scheduling", __name__)


def settings() -> Settings:
    return settings_from_config(current_app.config)


from network.scheduling import coach_routes, public_routes  # noqa: E402,F401  (register views on bp)
