"""Absolute links for mails, calendar feeds and private pages: from PUBLIC_BASE_URL, never from the Host header."""
from __future__ import annotations

from flask import current_app, url_for


def public_url(endpoint: str, *, base: str | None = None, **values) -> str:
    """endpoint's URL under the configured public address (or base, e.g. `remind-stale --base-url`); a forged
    Host header cannot redirect a mailed link."""
    root = base or current_app.config["PUBLIC_BASE_URL"]
    return root.rstrip("/") + url_for(endpoint, _external=False, **values)
