"""Admin views for listings: filtered list with CSV/GeoJSON export, create/edit with a small map, archive, merge, history."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from difflib import SequenceMatcher
from math import ceil
from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.datastructures import MultiDict

from network.accounts.models import User
from network.admin.blueprint import bp
from network.directory.freshness import is_stale, stale_clause
from network.audit import AuditEntry
from network.clock import utcnow
from network.directory.csvio import COLUMNS, export_partners, partner_values
from network.directory.listings import (
    COACH_FIELDS,
    EDITABLE_FIELDS,
    PermissionDenied,
    create_listing,
    merge_listings,
    set_archived,
    update_listing,
)
from network.directory.api import partner_feature
from network.directory.mapview import OSM_TILES
from network.directory.search import Hit
from network.directory.models import Kind, Organisation, Partner, Region, Topic, partner_topics
from network.errors import form_errors, problem_message
from network.extensions import db
from network.geo.distance import bounding_box, great_circle_km
from network.geo.gazetteer import normalize
from network.i18n import current_language
from network.problems import Invalid

PER_PAGE = 50
ARCHIVED_CHOICES = ("", "include", "only")  # "" = active listings only
# Duplicates are usually the same person entered twice by two agencies: close by, similar name.
MERGE_RADIUS_KM = 25.0
MERGE_NAME_SIMILARITY = 0.6
MERGE_CANDIDATE_LIMIT = 8


# --- rules without the request ---------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ListingFilter:
    """The admin list's filters; slugs as in the public search."""

    region: str = ""
    kind: str = ""
    topic: str = ""
    q: str = ""
    stale: bool = False
    archived: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> "ListingFilter":
        archived = args.get("archived", "")
        try:
            page = max(1, int(args.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            region=args.get("region", "").strip(),
            kind=args.get("kind", "").strip(),
            topic=args.get("topic", "").strip(),
            q=args.get("q", "").strip()[:200],
            stale=args.get("stale", "") in ("1", "on", "ja"),
            archived=archived if archived in ARCHIVED_CHOICES else "",
            page=page,
        )

    def args(self, **overrides: Any) -> dict[str, Any]:
        """Non-empty filters as query arguments (for links, pagination and exports)."""
        values: dict[str, Any] = {"region": self.region, "kind": self.kind, "topic": self.topic, "q": self.q,
                                  "stale": "1" if self.stale else "", "archived": self.archived,
                                  "page": self.page if self.page > 1 else ""}
        values.update(overrides)
        return {key: value for key, value in values.items() if value not in ("", None)}

    @property
    def is_active(self) -> bool:
        return bool(self.region or self.kind or self.topic or self.q or self.stale or self.archived)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def listing_query(flt: ListingFilter, user: User, now: datetime) -> Select[Any]:
    """Listings the user maintains that match the filter, ordered by name."""
    stmt = select(Partner)
    if flt.archived == "only":
        stmt = stmt.where(Partner.is_archived.is_(True))
    elif flt.archived != "include":
        stmt = stmt.where(Partner.is_archived.is_(False))
    if not user.is_admin:
        # Editors maintain their regions only; an empty set must still match nothing.
        stmt = stmt.where(Partner.region_id.in_(user.region_ids or {-1}))
    if flt.region:
        stmt = stmt.join(Region, Region.id == Partner.region_id).where(Region.slug == flt.region)
    if flt.kind:
        stmt = stmt.join(Kind, Kind.id == Partner.kind_id).where(Kind.slug == flt.kind)
    if flt.topic:
        stmt = stmt.where(
            select(partner_topics.c.partner_id)
            .join(Topic, Topic.id == partner_topics.c.topic_id)
            .where(partner_topics.c.partner_id == Partner.id, Topic.slug == flt.topic)
            .exists()
        )
    if flt.q and normalize(flt.q):
        stmt = stmt.where(Partner.search_text.like(_like_pattern(normalize(flt.q)), escape="\\"))
    if flt.stale:
        stmt = stmt.where(stale_clause(now))
    return stmt.order_by(Partner.sort_name, Partner.id)


def _with_relations(stmt: Select[Any]) -> Select[Any]:
    return stmt.options(selectinload(Partner.kind), selectinload(Partner.region),
                        selectinload(Partner.organisation), selectinload(Partner.topics))


@dataclass(frozen=True)
class MergeCandidate:
    partner: Partner
    distance_km: float
    similarity: float


def merge_candidates(session: Session, keep: Partner, user: User,
                     limit: int = MERGE_CANDIDATE_LIMIT) -> list[MergeCandidate]:
    """Active listings near keep with a similar name (or the same e-mail/phone) that the user may archive."""
    box = bounding_box(keep.latitude, keep.longitude, MERGE_RADIUS_KM)
    stmt = select(Partner).where(Partner.id != keep.id, Partner.is_archived.is_(False),
                                 Partner.latitude.between(box.min_lat, box.max_lat))
    if box.min_lon is not None:
        stmt = stmt.where(Partner.longitude.between(box.min_lon, box.max_lon))
    if not user.is_admin:
        stmt = stmt.where(Partner.region_id.in_(user.region_ids or {-1}))
    key = normalize(keep.name)
    found: list[MergeCandidate] = []
    for other in session.scalars(_with_relations(stmt)):
        distance = great_circle_km(keep.latitude, keep.longitude, other.latitude, other.longitude)
        if distance > MERGE_RADIUS_KM:
            continue
        similarity = SequenceMatcher(None, key, other.sort_name or normalize(other.name)).ratio()
        same_contact = bool((keep.email and keep.email.lower() == other.email.lower())
                            or (keep.phone and normalize(keep.phone) == normalize(other.phone)))
        if similarity >= MERGE_NAME_SIMILARITY or same_contact:
            found.append(MergeCandidate(other, distance, max(similarity, 1.0 if same_contact else 0.0)))
    found.sort(key=lambda c: (-c.similarity, c.distance_km, c.partner.id))
    return found[:limit]


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
    tiles = cfg.get("MAP_TILES", "osm")
    center = cfg.get("MAP_CENTER", (51.45, 7.65))
    return {
        "tiles": "" if tiles == "none" else (OSM_TILES if tiles == "osm" else tiles),
        # Trusted HTML from the deployment's configuration, as on the public map.
        "attribution": cfg.get("MAP_TILES_ATTRIBUTION", "") if tiles != "none" else "",
        "center_lat": center[0],
        "center_lon": center[1],
        "zoom": cfg.get("MAP_ZOOM", 9),
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
    now = utcnow()
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
    now = utcnow()
    flt = ListingFilter.from_args(request.args)
    stmt = listing_query(flt, current_user, now)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, ceil(total / PER_PAGE))
    page = min(flt.page, pages)
    partners = list(db.session.scalars(_with_relations(stmt).limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
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
    stmt = listing_query(ListingFilter.from_args(request.args), current_user, utcnow())
    buffer = io.BytesIO()
    export_partners(db.session, buffer, stmt)
    filename = f"eintraege-{utcnow().date().isoformat()}.csv"
    response = current_app.response_class(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/eintraege.geojson")
def export_listings_geojson():
    _require_maintainer()
    # The public API's feature shape, so scripts can read both the same way.
    lang = current_language()
    stmt = listing_query(ListingFilter.from_args(request.args), current_user, utcnow())
    features = []
    for partner in db.session.scalars(_with_relations(stmt)):
        feature = partner_feature(Hit(partner, None, None), lang)
        # Extra to the public shape: the export may include archived listings and is about freshness.
        feature["properties"]["is_archived"] = partner.is_archived
        feature["properties"]["confirmed_at"] = (
            _aware(partner.confirmed_at).isoformat() if partner.confirmed_at is not None else None
        )
        features.append(feature)
    response = jsonify({"type": "FeatureCollection", "features": features, "total": len(features)})
    response.mimetype = "application/geo+json"
    filename = f"eintraege-{utcnow().date().isoformat()}.geojson"
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


# --- archive, restore, merge -----------------------------------------------------------------------


def _archive(partner_id: int, archived: bool):
    partner = _partner_or_404(partner_id)
    if not current_user.can_archive_partner(partner):
        abort(403)
    try:
        set_archived(db.session, partner, archived, actor=current_user)
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    db.session.commit()
    if archived:
        flash(_("Der Eintrag „%(name)s“ ist archiviert: er erscheint nicht mehr auf der Karte und in der API.",
                name=partner.name), "info")
    else:
        flash(_("Der Eintrag „%(name)s“ ist wiederhergestellt.", name=partner.name), "info")
    return redirect(url_for("admin.edit_listing", partner_id=partner.id))


@bp.post("/eintraege/<int:partner_id>/archivieren")
def archive_listing(partner_id: int):
    return _archive(partner_id, True)


@bp.post("/eintraege/<int:partner_id>/wiederherstellen")
def restore_listing(partner_id: int):
    return _archive(partner_id, False)


def _parse_duplicate_id(form: MultiDict[str, str]) -> tuple[int | None, str]:
    raw = (form.get("duplicate_id") or form.get("candidate") or "").strip().lstrip("#")
    if not raw:
        return None, _("Bitte wählen Sie einen Eintrag aus der Liste oder geben Sie seine Nummer ein.")
    if not raw.isdigit():
        return None, _("„%(value)s“ ist keine Eintragsnummer.", value=raw)
    return int(raw), ""


@bp.route("/eintraege/<int:partner_id>/zusammenfuehren", methods=["GET", "POST"])
def merge_listing(partner_id: int):
    keep = _partner_or_404(partner_id)
    if not current_user.can_archive_partner(keep):
        abort(403)
    candidates = merge_candidates(db.session, keep, current_user)
    context: dict[str, Any] = dict(keep=keep, candidates=candidates, duplicate=None, errors={}, entered="",
                                   lang=current_language())
    if request.method == "GET":
        return render_template("admin/merge.html", **context)

    duplicate_id, message = _parse_duplicate_id(request.form)
    context["entered"] = (request.form.get("duplicate_id") or "").strip()
    duplicate = db.session.get(Partner, duplicate_id) if duplicate_id is not None else None
    if keep.is_archived:
        message = _("Ein archivierter Eintrag kann keine Dublette aufnehmen. Bitte stellen Sie ihn zuerst wieder her.")
    elif duplicate_id is not None and duplicate is None:
        message = _("Es gibt keinen Eintrag mit der Nummer %(id)s.", id=duplicate_id)
    elif duplicate is not None and duplicate.id == keep.id:
        message = _("Ein Eintrag kann nicht mit sich selbst zusammengeführt werden.")
    elif duplicate is not None and duplicate.merged_into_id is not None:
        message = _("Dieser Eintrag wurde bereits mit #%(id)s zusammengeführt.", id=duplicate.merged_into_id)
    if message:
        context["errors"] = {"duplicate_id": [message]}
        return render_template("admin/merge.html", **context), 400
    assert duplicate is not None
    if not current_user.can_archive_partner(duplicate):
        abort(403)
    if request.form.get("confirm") != "1":
        # Merging archives the duplicate: show both side by side before doing it.
        context["duplicate"] = duplicate
        context["filled"] = [field for field in ("email", "phone", "website", "description", "street", "postcode",
                                                 "city") if not getattr(keep, field) and getattr(duplicate, field)]
        context["new_topics"] = [topic for topic in duplicate.topics if topic not in keep.topics]
        return render_template("admin/merge.html", **context)
    try:
        merge_listings(db.session, keep, duplicate, actor=current_user)
    except Invalid as exc:
        db.session.rollback()
        context["errors"] = {"duplicate_id": [problem_message(problem) for problem in exc.problems]}
        return render_template("admin/merge.html", **context), 400
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    db.session.commit()
    flash(_("„%(dup)s“ (#%(dup_id)s) ist in diesen Eintrag übernommen und archiviert.",
            dup=duplicate.name, dup_id=duplicate.id), "info")
    return redirect(url_for("admin.edit_listing", partner_id=keep.id))


# --- history ---------------------------------------------------------------------------------------


def _field_labels() -> dict[str, str]:
    return {
        "name": _("Name"), "kind": _("Art"), "organisation": _("Organisation"), "region": _("Region"),
        "topics": _("Themen"), "street": _("Straße"), "postcode": _("PLZ"), "city": _("Ort"),
        "latitude": _("Breitengrad"), "longitude": _("Längengrad"), "service_radius_km": _("Einsatzradius (km)"),
        "email": _("E-Mail"), "phone": _("Telefon"), "website": _("Website"), "languages": _("Sprachen"),
        "description": _("Beschreibung"), "is_person": _("Person"), "is_archived": _("Archiviert"),
        "is_demo": _("Demo-Eintrag"), "confirmed_at": _("Zuletzt bestätigt"),
    }


def _action_labels() -> dict[str, str]:
    return {
        "create": _("angelegt"), "update": _("geändert"), "archive": _("archiviert"),
        "restore": _("wiederhergestellt"), "merge": _("zusammengeführt"), "confirm": _("bestätigt"),
        "erase": _("personenbezogene Daten gelöscht"), "import": _("importiert"),
    }


def display_value(value: Any, field: str = "") -> str:
    """An audited value as text for the history table."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("ja") if value else _("nein")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if field.endswith("_at") and isinstance(value, str):
        # Snapshots store instants as ISO text; show them in the reader's time zone.
        try:
            return format_datetime(_aware(datetime.fromisoformat(value)))
        except ValueError:
            return value
    return str(value)


@bp.get("/eintraege/<int:partner_id>/verlauf")
def listing_history(partner_id: int):
    partner = _partner_or_404(partner_id)
    if not current_user.can_edit_partner(partner):
        abort(403)
    entries = list(db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == Partner.__tablename__, AuditEntry.entity_id == partner.id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    ))
    return render_template("admin/listing_history.html", partner=partner, entries=entries,
                           field_labels=_field_labels(), action_labels=_action_labels(),
                           display_value=display_value, format_datetime=format_datetime)
