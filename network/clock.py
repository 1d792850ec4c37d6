"""The current instant for every domain: real UTC time, or the test clock set in app.config["CLOCK"]."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, has_app_context


def utcnow() -> datetime:
    """The machine's current instant in UTC, timezone-aware (column defaults, log stamps)."""
    return datetime.now(timezone.utc)


def now() -> datetime:
    """The application's current instant: tests set app.config["CLOCK"] to a callable to move time."""
    if has_app_context():
        override = current_app.config["CLOCK"]
        if override is not None:
            return override()
    return utcnow()
