"""Token-authenticated write API for scripts: create, change and archive listings with the forms' rules."""
from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from network.accounts.service import user_from_api_token
from network.directory.api import partner_feature
from network.directory.csvio import TOPIC_SEPARATOR
from network.directory.listings import (
    EDITABLE_FIELDS,
    PermissionDenied,
    create_listing,
    set_archived,
    update_listing,
)
from network.directory.models import Partner
from network.errors import invalid_response, json_error
from network.extensions import csrf, db, limiter
from network.i18n import current_language
from network.problems import Invalid

bp = Blueprint("directory_api_write", __name__, url_prefix="/api")
# Authenticated only by the Authorization header, never by the session cookie: a cross-site
# request cannot set that header (no CORS here), so CSRF does not apply. Listed in
# docs/architecture.md under "CSRF exemptions".
csrf.exempt(bp)

_LIST_FIELDS = {"topics": TOPIC_SEPARATOR, "languages": ","}


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _rate_key() -> str:
    # Per token when there is one (several scripts behind one proxy address do not share a budget),
    # per address otherwise. Only a hash of the token goes into the limiter's storage (Redis).
    token = _bearer_token()
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "addr:" + get_remote_address()


def _rate_limit() -> str:
    return current_app.config["API_WRITE_RATE_LIMIT"]


write_limit = limiter.shared_limit(_rate_limit, scope="api_write", key_func=_rate_key)


def _unauthorized(message: str, error_code: str = "invalid_token"):
    response, status = json_error(message, 401, code="token.invalid")
    response.headers["WWW-Authenticate"] = f'Bearer realm="Partnernetz", error="{error_code}"'
    return response, status


@bp.before_request
def _authenticate():
    token = _bearer_token()
    if not token:
        response, status = json_error(_("Anmeldung fehlt: Bitte senden Sie „Authorization: Bearer <Token>“."), 401,
                                      code="token.missing")
        response.headers["WWW-Authenticate"] = 'Bearer realm="Partnernetz"'
        return response, status
    user = user_from_api_token(db.session, token)
    if user is None:
        return _unauthorized(_("Der Token ist ungültig, widerrufen oder gehört zu einem gesperrten Konto."))
    g.api_user = user
    return None


def _values(body: Any, *, partial: bool) -> dict[str, str] | tuple[Any, int]:
    """JSON body -> column values as strings, or an error response naming the field."""
    if not isinstance(body, dict):
        return invalid_response(Invalid.one(None, "json.not_an_object"), 400)
    values: dict[str, str] = {}
    for key, value in body.items():
        if key not in EDITABLE_FIELDS:
            # "field": the JSON key as sent, not a label.
            return invalid_response(Invalid.one(key, "json.unknown_field", field=key), 422)
        if value is None:
            values[key] = ""
        elif isinstance(value, bool):
            values[key] = "ja" if value else "nein"
        elif isinstance(value, (int, float)):
            values[key] = repr(value)
        elif isinstance(value, str):
            values[key] = value
        elif isinstance(value, list) and key in _LIST_FIELDS and all(isinstance(v, str) for v in value):
            values[key] = _LIST_FIELDS[key].join(value)
        else:
            return invalid_response(Invalid.one(key, "json.wrong_type", field=key), 422)
    if partial and not values:
        return invalid_response(Invalid.one(None, "json.no_fields"), 422)
    return values


def _invalid(exc: Invalid):
    db.session.rollback()
    return invalid_response(exc, 422)


def _forbidden(exc: PermissionDenied | None = None):
    db.session.rollback()
    return json_error(_("Dafür fehlt Ihnen die Berechtigung."), 403, code=exc.code if exc else "permission.partner")


def _not_found():
    db.session.rollback()
    return json_error(_("Diesen Eintrag gibt es nicht."), 404, code="partner.not_found")


def partner_document(partner: Partner) -> dict[str, Any]:
    """The GeoJSON Feature of the public API plus the maintained fields a script writes."""
    feature = partner_feature(SimpleNamespace(partner=partner, distance_km=None, reaches=None), current_language())
    confirmed = partner.confirmed_at.isoformat() if partner.confirmed_at else None
    feature["properties"].update(
        street=partner.street, postcode=partner.postcode, email=partner.email, phone=partner.phone,
        website=partner.website, languages=partner.language_list, description=partner.description or "",
        is_person=partner.is_person, is_archived=partner.is_archived, confirmed_at=confirmed,
        latitude=partner.latitude, longitude=partner.longitude,
    )
    return feature


@bp.get("/partners/<int:partner_id>")
def get_partner(partner_id: int):
    partner = db.session.get(Partner, partner_id)
    # Archived listings have left the public directory; only their maintainers still see them.
    if partner is None or (partner.is_archived and not g.api_user.can_edit_partner(partner)):
        return _not_found()
    db.session.commit()  # last_used_at of the token
    return jsonify(partner_document(partner))


@bp.post("/partners")
@write_limit
def create_partner():
    values = _values(request.get_json(silent=True), partial=False)
    if isinstance(values, tuple):
        db.session.rollback()
        return values
    try:
        partner = create_listing(db.session, values, current_app.extensions["partnernetz.geocoder"],
                                 actor=g.api_user)
    except Invalid as exc:
        return _invalid(exc)
    except PermissionDenied as exc:
        return _forbidden(exc)
    db.session.commit()
    response = jsonify(partner_document(partner))
    response.status_code = 201
    response.headers["Location"] = url_for("directory_api_write.get_partner", partner_id=partner.id, _external=True)
    return response


@bp.patch("/partners/<int:partner_id>")
@write_limit
def update_partner(partner_id: int):
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        return _not_found()
    if not g.api_user.can_edit_partner(partner):
        return _forbidden()  # before looking at the body, so the answer does not depend on it
    values = _values(request.get_json(silent=True), partial=True)
    if isinstance(values, tuple):
        db.session.rollback()
        return values
    try:
        update_listing(db.session, partner, values, current_app.extensions["partnernetz.geocoder"],
                       actor=g.api_user)
    except Invalid as exc:
        return _invalid(exc)
    except PermissionDenied as exc:
        return _forbidden(exc)
    db.session.commit()
    return jsonify(partner_document(partner))


@bp.delete("/partners/<int:partner_id>")
@write_limit
def archive_partner(partner_id: int):
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        return _not_found()
    try:
        set_archived(db.session, partner, True, actor=g.api_user)
    except PermissionDenied as exc:
        return _forbidden(exc)
    db.session.commit()
    return "", 204
