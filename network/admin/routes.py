"""Admin dashboard; the other admin views live in their own modules and register on the same blueprint."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from network.admin import (  # noqa: F401  (each module registers its views on bp)
    audit_routes,
    import_routes,
    listing_actions_routes,
    listings_routes,
    moderation_routes,
    privacy_routes,
    users_routes,
)
from network.admin.blueprint import bp
from network.directory.models import Partner, Suggestion
from network.extensions import db


@bp.get("/")
def dashboard():
    pending = 0
    if not current_user.is_coach:
        stmt = select(func.count(Suggestion.id)).where(Suggestion.status == "pending")
        if not current_user.is_admin:
            stmt = stmt.where(Suggestion.region_id.in_(current_user.region_ids or {-1}))
        pending = db.session.scalar(stmt) or 0
    own = db.session.get(Partner, current_user.partner_id) if current_user.partner_id else None
    return render_template("admin/dashboard.html", pending=pending, own=own)
