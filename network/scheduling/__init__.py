"""The visit scheduler: working hours, travel-aware free slots, conflict-free bookings, iCal invites."""
from __future__ import annotations

from flask import Flask

from network.demo import register_demo

# labels, messages: the scheduler's words and error labels register on import.
from network.scheduling import api, demo, labels, messages, models, privacy, routes  # noqa: F401


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    app.register_blueprint(api.bp)
    # After the directory's demo listings: every demo coach and scout gets a calendar.
    register_demo("scheduling", demo.seed_demo_schedule)
