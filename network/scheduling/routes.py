"""Scheduler pages: the firm's request and manage pages, the coach's calendar; each part in its own module."""
from __future__ import annotations

from flask import Blueprint, current_app
from flask_babel import gettext as _

from network.clock import now as clock  # noqa: F401  (the view modules' name for the app clock)
from network.geo.geocoding import ADDRESS_MAX_LENGTH
from network.scheduling.booking import Settings, settings_from_config

bp = Blueprint("scheduling", __name__)


def settings() -> Settings:
    return settings_from_config(current_app.config)


def address_too_long(query: str) -> bool:
    """Too long to be an address: the views refuse it before the geocoder reads it (README, "Input limits")."""
    return len(query.strip()) > ADDRESS_MAX_LENGTH


def address_too_long_message() -> str:
    return _("Die Adresse ist zu lang (höchstens %(max)d Zeichen).", max=ADDRESS_MAX_LENGTH)


def place_too_long_message() -> str:
    return _("Die Ortsangabe ist zu lang (höchstens %(max)d Zeichen).", max=ADDRESS_MAX_LENGTH)


from network.scheduling import coach_routes, public_routes  # noqa: E402,F401  (register views on bp)
