"""The /admin blueprint; every view behind it needs a logged-in account, per-object checks come on top."""
from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from network.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _require_account():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.can_use_admin():
        abort(403)
    return None
