"""Scheduler pages: the firm's request and manage pages, the coach's calendar; each part in its own module."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("scheduling", __name__)


# The route modules register their views on bp, which they import from here: hence at the end.
from network.scheduling import (  # noqa: E402,F401
    availability_routes,
    coach_booking_routes,
    coach_calendar_routes,
    feed_routes,
    public_routes,
    request_routes,
)
