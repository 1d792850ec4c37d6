"""The coach's calendar subscription: the page, a new secret link, and the .ics feed itself (the token is the key)."""
from __future__ import annotations

from dataclasses import replace

from flask import abort, make_response
from flask_login import login_required

from network.directory.models import Partner
from network.extensions import db
from network.links import public_url
from network.scheduling import agenda, ical
from network.scheduling.availability import profile_or_defaults
from network.scheduling.booking import partner_by_feed_token, rotate_feed_token
from network.scheduling.notify import invite_data
from network.scheduling.routes import bp
from network.scheduling.views import actor, coach_visit_url, now, render, require_partner


def _feed_urls(token: str) -> tuple[str, str]:
    https_url = public_url("scheduling.feed", token=token)
    webcal_url = "webcal://" + https_url.split("://", 1)[1]
    return webcal_url, https_url


@bp.get("/kalender/abo")
@login_required
def coach_feed():
    partner = require_partner()
    if not isinstance(partner, Partner):
        return partner
    profile = profile_or_defaults(db.session, partner)
    return render("scheduling/coach_feed.html", partner, has_feed=bool(profile.feed_token_hash))


@bp.post("/kalender/abo/neu")
@login_required
def coach_feed_rotate():
    partner = require_partner()
    if not isinstance(partner, Partner):
        return partner
    token = rotate_feed_token(db.session, partner, actor=actor())
    db.session.commit()
    webcal_url, https_url = _feed_urls(token)
    # Shown once, in the answer to the POST: only the hash is stored, so nothing can show it again later.
    return render("scheduling/coach_feed.html", partner, has_feed=True, webcal_url=webcal_url, https_url=https_url)


@bp.get("/feed/<token>.ics")
def feed(token: str):
    """The coach's subscribed calendar (no login: the unguessable token is the key)."""
    partner = partner_by_feed_token(db.session, token)
    if partner is None:
        abort(404)
    moment = now()
    items = [replace(invite_data(visit, coach_visit_url(visit)), status=status)
             for visit, status in agenda.feed_entries(db.session, partner, moment)]
    response = make_response(ical.feed(items, moment, f"Vor-Ort-Termine {partner.name}"))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="termine.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
