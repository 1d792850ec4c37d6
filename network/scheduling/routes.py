"""Scheduler pages: the firm's request and manage pages, the coach's calendar; each part in its own module."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app

from network.dbutil import utcnow

bp = Blueprint("scheduling", __name__)


def clock() -> datetime:
    """The current instant; tests set app.config["CLOCK"] to a callable to inject time."""
    override = current_app.config.get("CLOCK")
    return override() if override else utcnow()


def settings():
    from network.scheduling.booking import settings_from_config

    return settings_from_config(current_app.config)


from network.scheduling import coach_routes, public_routes  # noqa: E402,F401  (register views on bp)
