"""Moderation: public suggestions and reports, duplicate detection, the per-region queue and the decisions on it."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session, selectinload

from network import clock
from network.audit import record
from network.directory.csvio import SupportsGeocode, check_listing
from network.directory.listings import PermissionDenied, create_listing, merge_listings
from network.directory.models import SUGGESTION_STATES, SUGGESTION_TYPES, Partner, Region, Suggestion
from network.geo.distance import bounding_box, great_circle_km
from network.geo.gazetteer import normalize
from network.problems import Invalid, Problem

# A proposal this close to an existing listing with a name this similar is probably that listing.
DUPLICATE_RADIUS_KM = 2.0
DUPLICATE_MIN_RATIO = 0.85
MAX_MESSAGE_LENGTH = 5000
MAX_NOTE_LENGTH = 2000
MAX_QUEUE_ITEMS = 200
# What the public may propose for a new listing (CSV column names); coordinates come from geocoding only.
PROPOSAL_FIELDS: tuple[str, ...] = ("name", "kind", "organisation", "region", "topics", "street", "postcode",
                                    "city", "email", "phone", "website")
# NRW-wide listings sit somewhere but stand for no place: they must not decide a proposal's region.
_PLACELESS_AREAS = ("NRW",)
# How an accepted "possible duplicate" is handled.
DUPLICATE_MODES = ("merge", "create")


class AlreadyDecided(Exception):
    """Someone decided this suggestion already; str() is its status."""

    code = "suggestion.already_decided"


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing listing that a proposal resembles."""

    partner: Partner
    ratio: float
    distance_km: float


@dataclass
class QueueGroup:
    """The suggestions of one region (None: no region could be determined; admins only)."""

    region: Region | None
    items: list[Suggestion] = field(default_factory=list)


# --- public side ----------------------------------------------------------------------------------


def _check_contact(problems: list[Problem], message: str, reporter_email: str, *,
                   message_required: bool) -> tuple[str, str]:
    message = (message or "").strip()
    reporter_email = (reporter_email or "").strip()
    if message_required and not message:
        problems.append(Problem("message", "report.message_missing"))
    if len(message) > MAX_MESSAGE_LENGTH:
        problems.append(Problem("message", "message.too_long", {"length": len(message), "max": MAX_MESSAGE_LENGTH}))
    if "\x00" in message:
        problems.append(Problem("message", "message.control_character"))
    if reporter_email:
        if len(reporter_email) > 200:
            problems.append(Problem("reporter_email", "email.too_long", {"max": 200}))
        else:
            try:
                validate_email(reporter_email, check_deliverability=False)
            except EmailNotValidError:
                problems.append(Problem("reporter_email", "email.invalid", {"email": reporter_email}))
    return message, reporter_email


def find_duplicate(session: Session, name: str, lat: float, lon: float, *,
                   exclude_id: int | None = None) -> DuplicateMatch | None:
    """The most similar listing (normalised-name ratio ≥ 0.85) within 2 km, or None; archived ones do not count."""
    key = normalize(name)
    if not key:
        return None
    box = bounding_box(lat, lon, DUPLICATE_RADIUS_KM)
    stmt = select(Partner).where(Partner.is_archived.is_(False),
                                 Partner.latitude.between(box.min_lat, box.max_lat))
    if box.min_lon is not None and box.max_lon is not None:
        stmt = stmt.where(Partner.longitude.between(box.min_lon, box.max_lon))
    if exclude_id is not None:
        stmt = stmt.where(Partner.id != exclude_id)
    best: DuplicateMatch | None = None
    for partner in session.scalars(stmt):
        distance = great_circle_km(lat, lon, partner.latitude, partner.longitude)
        if distance > DUPLICATE_RADIUS_KM:
            continue
        other = partner.sort_name or normalize(partner.name)
        ratio = 1.0 if other == key else difflib.SequenceMatcher(None, key, other).ratio()
        if ratio < DUPLICATE_MIN_RATIO:
            continue
        if best is None or (ratio, -distance) > (best.ratio, -best.distance_km):
            best = DuplicateMatch(partner, ratio, distance)
    return best


def nearest_region(session: Session, lat: float, lon: float, city: str = "") -> Region | None:
    """The region of the nearest listing with a real place; else the region named like the city; else None."""
    rows = session.execute(
        select(Partner.latitude, Partner.longitude, Partner.region_id)
        .join(Region, Region.id == Partner.region_id)
        .where(Partner.is_archived.is_(False), Region.area.not_in(_PLACELESS_AREAS))
    ).all()
    if rows:
        best = min(rows, key=lambda r: great_circle_km(lat, lon, r.latitude, r.longitude))
        return session.get(Region, best.region_id)
    if city:
        for region in session.scalars(select(Region)):
            if normalize(region.name) == normalize(city):
                return region
    return None


def submit_new_listing(session: Session, values: dict[str, Any], geocoder: SupportsGeocode | None, *,
                       message: str = "", reporter_email: str = "", now: datetime | None = None) -> Suggestion:
    """Check a proposed listing like any other, then queue it (as a possible duplicate if one is near); flushes.

    The region is the one chosen in the form, or else that of the nearest listing
    in the directory (see nearest_region). Raises Invalid; nothing is added then.
    """
    now = now or clock.now()
    proposal = {key: str(values.get(key) or "").strip() for key in PROPOSAL_FIELDS}
    problems: list[Problem] = []
    message, reporter_email = _check_contact(problems, message, reporter_email, message_required=False)
    probe = dict(proposal)
    if not proposal["region"]:
        # The region follows from the place, which check_listing geocodes; a stand-in passes its required check.
        probe["region"] = session.scalar(select(Region.slug).order_by(Region.sort_order, Region.id).limit(1)) or ""
    row, row_errors = check_listing(session, probe, geocoder, now)
    problems.extend(row_errors)
    if problems or row is None:
        raise Invalid(problems)
    assert row.latitude is not None and row.longitude is not None
    region = row.region if proposal["region"] else nearest_region(session, row.latitude, row.longitude, row.city)
    payload: dict[str, Any] = dict(proposal)
    payload["region"] = region.slug if region is not None else ""
    # The geocoded point travels along, so accepting the proposal does not depend on the geocoder again.
    payload["latitude"], payload["longitude"] = repr(row.latitude), repr(row.longitude)
    match = find_duplicate(session, row.name, row.latitude, row.longitude)
    suggestion = Suggestion(
        created_at=now,
        suggestion_type="duplicate" if match else "new_listing",
        status="pending",
        region_id=region.id if region is not None else None,
        duplicate_of_id=match.partner.id if match else None,
        name=row.name[:200],
        message=message,
        reporter_email=reporter_email,
        payload=payload,
    )
    session.add(suggestion)
    session.flush()
    return suggestion


def submit_report(session: Session, partner: Partner, *, message: str, reporter_email: str = "",
                  now: datetime | None = None) -> Suggestion:
    """Queue a report that a listing is out of date; raises Invalid; flushes."""
    problems: list[Problem] = []
    message, reporter_email = _check_contact(problems, message, reporter_email, message_required=True)
    if problems:
        raise Invalid(problems)
    suggestion = Suggestion(
        created_at=now or clock.now(),
        suggestion_type="outdated",
        status="pending",
        region_id=partner.region_id,
        partner_id=partner.id,
        name=partner.name[:200],
        message=message,
        reporter_email=reporter_email,
        payload={},
    )
    session.add(suggestion)
    session.flush()
    return suggestion


# --- the queue ------------------------------------------------------------------------------------


def visible_suggestions(user) -> Select[tuple[Suggestion]]:
    """Suggestions the user may moderate: admins all, editors their regions, everybody else none."""
    stmt = select(Suggestion)
    if user.is_admin and user.is_active:
        return stmt
    if user.is_editor and user.is_active and user.region_ids:
        return stmt.where(Suggestion.region_id.in_(user.region_ids))
    return stmt.where(false())


def moderation_queue(session: Session, user, *, suggestion_type: str | None = None,
                     status: str | None = "pending") -> list[QueueGroup]:
    """The visible suggestions grouped by region (regions in their usual order, the unknown region last)."""
    stmt = visible_suggestions(user).options(
        selectinload(Suggestion.region), selectinload(Suggestion.partner),
        selectinload(Suggestion.duplicate_of), selectinload(Suggestion.decided_by),
    )
    if suggestion_type in SUGGESTION_TYPES:
        stmt = stmt.where(Suggestion.suggestion_type == suggestion_type)
    if status in SUGGESTION_STATES:
        stmt = stmt.where(Suggestion.status == status)
    stmt = stmt.order_by(Suggestion.created_at.desc(), Suggestion.id.desc()).limit(MAX_QUEUE_ITEMS)
    groups: dict[int | None, QueueGroup] = {}
    for suggestion in session.scalars(stmt):
        group = groups.setdefault(suggestion.region_id, QueueGroup(suggestion.region))
        group.items.append(suggestion)
    return sorted(groups.values(), key=lambda g: (g.region is None, g.region.sort_order if g.region else 0,
                                                  g.region.id if g.region else 0))


# --- decisions ------------------------------------------------------------------------------------


def _snapshot(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "status": suggestion.status,
        "type": suggestion.suggestion_type,
        "partner_id": suggestion.partner_id,
        "duplicate_of_id": suggestion.duplicate_of_id,
        "decision_note": suggestion.decision_note or "",
    }


def _start_decision(session: Session, suggestion: Suggestion, actor, note: str) -> str:
    if actor is None or not actor.can_moderate_region(suggestion.region_id):
        raise PermissionDenied("suggestion")
    # Two moderators clicking at once: on PostgreSQL the row lock makes the second one see the first decision.
    session.refresh(suggestion, with_for_update=True)
    if suggestion.status != "pending":
        raise AlreadyDecided(suggestion.status)
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise Invalid.one("note", "note.too_long", length=len(note), max=MAX_NOTE_LENGTH)
    return note


def _finish(session: Session, suggestion: Suggestion, actor, status: str, note: str, now: datetime,
            before: dict[str, Any]) -> None:
    suggestion.status = status
    suggestion.decided_by_id = actor.id
    suggestion.decided_at = now
    suggestion.decision_note = note
    session.flush()
    record(session, actor=actor, entity=suggestion, action="accept" if status == "accepted" else "reject",
           before=before, after=_snapshot(suggestion), note=note, entity_label=suggestion.name)


def _listing_values(suggestion: Suggestion) -> dict[str, str]:
    return {key: "" if value is None else str(value) for key, value in (suggestion.payload or {}).items()}


def accept(session: Session, suggestion: Suggestion, *, actor, geocoder: SupportsGeocode | None, note: str = "",
           mode: str | None = None, now: datetime | None = None) -> Partner | None:
    """Accept a suggestion; returns the listing it created or merged into (None for a report); flushes.

    new_listing: the listing is created with the usual validation. outdated: only
    marked done, the editor then edits the listing. duplicate: mode "create" creates
    the proposal anyway, mode "merge" creates it and merges it into the existing
    listing at once (its topics and empty fields go there; the copy is archived).
    Raises PermissionDenied, AlreadyDecided or Invalid; the caller rolls back on them.
    """
    now = now or clock.now()
    note = _start_decision(session, suggestion, actor, note)
    before = _snapshot(suggestion)
    partner: Partner | None = None
    try:
        if suggestion.suggestion_type == "outdated":
            pass
        elif suggestion.suggestion_type == "new_listing" or mode == "create":
            partner = create_listing(session, _listing_values(suggestion), geocoder, actor=actor, now=now)
            suggestion.partner_id = partner.id
        elif mode == "merge":
            keep = suggestion.duplicate_of
            if keep is None or keep.is_archived:
                raise Invalid.one("mode", "duplicate.gone")
            if not actor.can_archive_partner(keep):
                raise Invalid.one("mode", "duplicate.foreign_region")
            copy = create_listing(session, _listing_values(suggestion), geocoder, actor=actor, now=now)
            partner = merge_listings(session, keep, copy, actor=actor)
            suggestion.partner_id = keep.id
        else:
            raise Invalid.one("mode", "mode.missing")
    except PermissionDenied as exc:
        region = suggestion.region.name if suggestion.region is not None else ""
        raise Invalid.one("region", "region.not_allowed", region=region) from exc
    _finish(session, suggestion, actor, "accepted", note, now, before)
    return partner


def reject(session: Session, suggestion: Suggestion, *, actor, note: str = "", now: datetime | None = None) -> None:
    """Reject a suggestion with an optional note; raises PermissionDenied, AlreadyDecided, Invalid; flushes."""
    note = _start_decision(session, suggestion, actor, note)
    before = _snapshot(suggestion)
    _finish(session, suggestion, actor, "rejected", note, now or clock.now(), before)

