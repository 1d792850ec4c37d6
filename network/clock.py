"""The current instant for every domain: real UTC time, or the test clock set in app.config["CLOCK"]."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context


def utcnow() -> datetime:
    """The machine's current instant in UTC, timezone-aware; now() falls back to it."""
    return datetime.now(UTC)


def require_aware(moment: datetime) -> datetime:
    """moment itself if it is timezone-aware; a naive datetime names no instant and is refused (ValueError)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} where an instant is needed: attach a zone first")
    return moment


def now() -> datetime:
    """The application's current instant, aware UTC: tests set app.config["CLOCK"] to a callable to move time.

    Column defaults, services and routes all read this one clock, so a moved test clock
    moves created_at and updated_at too.
    """
    if has_app_context():
        override = current_app.config["CLOCK"]
        if override is not None:
            return require_aware(override()).astimezone(UTC)
    return utcnow()
