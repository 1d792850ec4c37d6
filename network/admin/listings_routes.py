"""Admin views for listings: filtered list with CSV/GeoJSON export, create and edit with a small map."""
from __future__ import annotations

import io
from math import ceil
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from network import clock
from network.accounts.models import User
from network.admin.blueprint import bp
from network.directory.api import partner_feature
from network.directory.csvio import COLUMNS, export_partners, partner_values
from network.directory.freshness import is_stale
from network.directory.listings import (
    COACH_FIELDS,
    EDITABLE_FIELDS,
    PermissionDenied,
    create_listing,
    update_listing,
)
from network.directory.maintenance import ListingFilter, listing_query, with_relations
from network.directory.mapview import OSM_TILES
from network.directory.models import Kind, Organisation, Partner, Region, Topic
from network.directory.search import Hit
from network.errors import form_errors
from network.extensions import db
from network.i18n import current_language
from network.problems import Invalid

PER_PAGE = 50
# --- helpers of the views ------------------------------------------------------------------------


def _geocoder():
    return current_app.extensions["partnernetz.geocoder"]


def _partner_or_404(partner_id: int) -> Partner:
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        abort(404)
    return partner


def _require_maintainer() -> None:
    """Lists, exports, creation: admins and editors; a coach only ever sees their own listing."""
    if not (current_user.is_admin or current_user.is_editor):
        abort(403)


def _regions_for(user: User, partner: Partner | None = None) -> list[Region]:
    regions = list(db.session.scalars(select(Region).order_by(Region.sort_order, Region.id)))
    if user.is_admin:
        return regions
    keep = set(user.region_ids)
    if partner is not None and partner.region_id is not None:
        keep.add(partner.region_id)
    return [region for region in regions if region.id in keep]


def _taxonomy() -> dict[str, Any]:
    return {
        "kinds": list(db.session.scalars(select(Kind).order_by(Kind.sort_order, Kind.id))),
        "topics": list(db.session.scalars(select(Topic).order_by(Topic.sort_order, Topic.id))),
        "lang": current_language(),
    }


def _map_settings() -> dict[str, Any]:
    cfg = current_app.config
    tiles = cfg["MAP_TILES"]
    center = cfg["MAP_CENTER"]
    return {
        "tiles": "" if tiles == "none" else (OSM_TILES if tiles == "osm" else tiles),
        # Trusted HTML from the deployment's configuration, as on the public map.
        "attribution": cfg["MAP_TILES_ATTRIBUTION"] if tiles != "none" else "",
        "center_lat": center[0],
        "center_lon": center[1],
        "zoom": cfg["MAP_ZOOM"],
    }


def _allowed_fields() -> tuple[str, ...]:
    return COACH_FIELDS if current_user.is_coach else EDITABLE_FIELDS


def _submitted_values(form: MultiDict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in fields:
        if name == "topics":
            values[name] = "|".join(slug.strip() for slug in form.getlist("topics") if slug.strip())
        elif name == "is_person":
            # An unchecked box sends nothing; the CSV rules want ja/nein.
            values[name] = "ja" if form.get("is_person") else "nein"
        else:
            values[name] = form.get(name, "")
    return values


def _render_form(partner: Partner | None, values: dict[str, str], errors: dict[str, list[str]], status: int = 200):
    editable = set(_allowed_fields())
    selected_topics = {slug for slug in values.get("topics", "").split("|") if slug}
    organisations = list(db.session.scalars(select(Organisation.name).order_by(Organisation.name)))
    now = clock.now()
    context = dict(
        partner=partner,
        values=values,
        errors=errors,
        editable=editable,
        selected_topics=selected_topics,
        regions=_regions_for(current_user, partner),
        organisations=organisations,
        map=_map_settings(),
        stale=is_stale(partner, now) if partner is not None else False,
        can_archive=partner is not None and current_user.can_archive_partner(partner),
        **_taxonomy(),
    )
    return render_template("admin/listing_form.html", **context), status


# --- list and exports ------------------------------------------------------------------------------


@bp.get("/eintraege")
def listings():
    if current_user.is_coach:
        if current_user.partner_id is None:
            abort(403)
        return redirect(url_for("admin.edit_listing", partner_id=current_user.partner_id))
    _require_maintainer()
    now = clock.now()
    flt = ListingFilter.from_args(request.args)
    stmt = listing_query(flt, current_user, now)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, ceil(total / PER_PAGE))
    page = min(flt.page, pages)
    partners = list(db.session.scalars(with_relations(stmt).limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    rows = [(partner, is_stale(partner, now)) for partner in partners]
    return render_template(
        "admin/listings.html",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        flt=flt,
        regions=_regions_for(current_user),
        **_taxonomy(),
    )


@bp.get("/eintraege.csv")
def export_listings_csv():
    _require_maintainer()
    stmt = listing_query(ListingFilter.from_args(request.args), current_user, clock.now())
    buffer = io.BytesIO()
    export_partners(db.session, buffer, stmt)
    filename = f"eintraege-{clock.now().date().isoformat()}.csv"
    response = current_app.response_class(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/eintraege.geojson")
def export_listings_geojson():
    _require_maintainer()
    # The public API's feature shape, so scripts can read both the same way.
    lang = current_language()
    stmt = listing_query(ListingFilter.from_args(request.args), current_user, clock.now())
    features = []
    for partner in db.session.scalars(with_relations(stmt)):
        feature = partner_feature(Hit(partner, None, None), lang)
        # Extra to the public shape: the export may include archived listings and is about freshness.
        feature["properties"]["is_archived"] = partner.is_archived
        feature["properties"]["confirmed_at"] = (
            partner.confirmed_at.isoformat() if partner.confirmed_at is not None else None
        )
        features.append(feature)
    response = jsonify({"type": "FeatureCollection", "features": features, "total": len(features)})
    response.mimetype = "application/geo+json"
    filename = f"eintraege-{clock.now().date().isoformat()}.geojson"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- create and edit -------------------------------------------------------------------------------


@bp.route("/eintraege/neu", methods=["GET", "POST"])
def new_listing():
    _require_maintainer()
    if request.method == "GET":
        values = {column: "" for column in COLUMNS}
        values.update(is_person="ja", languages="de", service_radius_km="50")
        regions = _regions_for(current_user)
        if len(regions) == 1:
            values["region"] = regions[0].slug
        return _render_form(None, values, {})
    values = _submitted_values(request.form, EDITABLE_FIELDS)
    try:
        partner = create_listing(db.session, values, _geocoder(), actor=current_user)
    except Invalid as exc:
        db.session.rollback()
        return _render_form(None, values, form_errors(exc), 400)
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    db.session.commit()
    flash(_("Der Eintrag „%(name)s“ ist angelegt.", name=partner.name), "info")
    return redirect(url_for("admin.edit_listing", partner_id=partner.id))


@bp.route("/eintraege/<int:partner_id>", methods=["GET", "POST"])
def edit_listing(partner_id: int):
    partner = _partner_or_404(partner_id)
    if not current_user.can_edit_partner(partner):
        abort(403)
    if request.method == "GET":
        return _render_form(partner, partner_values(partner), {})
    before = (partner.latitude, partner.longitude)
    submitted = _submitted_values(request.form, _allowed_fields())
    try:
        update_listing(db.session, partner, submitted, _geocoder(), actor=current_user)
    except Invalid as exc:
        db.session.rollback()
        # Fields the user may not change show the stored value, the others what was typed.
        values = partner_values(partner)
        values.update(submitted)
        return _render_form(partner, values, form_errors(exc), 400)
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    db.session.commit()
    flash(_("Gespeichert."), "info")
    if (partner.latitude, partner.longitude) != before and _same_point(submitted, before):
        flash(_("Die Adresse hat sich geändert: die Position wurde neu aus der Adresse bestimmt. "
                "Bitte prüfen Sie den Punkt auf der Karte."), "info")
    return redirect(url_for("admin.edit_listing", partner_id=partner.id))


def _same_point(submitted: dict[str, str], point: tuple[float, float]) -> bool:
    try:
        lat = float(submitted.get("latitude", "").replace(",", "."))
        lon = float(submitted.get("longitude", "").replace(",", "."))
    except ValueError:
        return True  # left empty: the address decided
    return (lat, lon) == point
