"""Maintaining listings: create, update, archive, restore, merge, confirm — validated like CSV rows and audited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from network import clock
from network.accounts.models import User
from network.audit import record
from network.directory.csvio import (
    _ORG_TYPE_BY_KIND,
    COLUMNS,
    PartnerRow,
    SupportsGeocode,
    check_listing,
    partner_values,
)
from network.directory.models import Organisation, Partner, partner_snapshot
from network.geo.gazetteer import normalize
from network.problems import Invalid

# confirmed_at is not edited in a form: saving a listing is the confirmation.
EDITABLE_FIELDS = tuple(column for column in COLUMNS if column != "confirmed_at")
# What a coach may change on their own listing; kind, region and organisation are the editors' business.
COACH_FIELDS = ("street", "postcode", "city", "latitude", "longitude", "service_radius_km", "email", "phone",
                "website", "languages", "description", "topics")
ADDRESS_FIELDS = ("street", "postcode", "city")


class PermissionDenied(Exception):
    """The user may not do this to this object; str() and .code name what ("region": "permission.region")."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.code = f"permission.{what}"


def _organisation(session: Session, name: str, kind_slug: str) -> Organisation | None:
    if not name:
        return None
    for org in session.scalars(select(Organisation)):
        if normalize(org.name) == normalize(name):
            return org
    org = Organisation(name=name, org_type=_ORG_TYPE_BY_KIND.get(kind_slug, "agency"))
    session.add(org)
    return org


def _apply(session: Session, partner: Partner, row: PartnerRow) -> None:
    partner.name = row.name
    partner.is_person = row.is_person
    partner.kind = row.kind
    partner.region = row.region
    partner.organisation = _organisation(session, row.organisation, row.kind.slug)
    partner.topics = list(row.topics)
    partner.street, partner.postcode, partner.city = row.street, row.postcode, row.city
    assert row.latitude is not None and row.longitude is not None
    partner.latitude, partner.longitude = row.latitude, row.longitude
    partner.service_radius_km = row.service_radius_km
    partner.email, partner.phone, partner.website = row.email, row.phone, row.website
    partner.languages = row.languages
    partner.description = row.description
    partner.refresh_search_fields()


def _merged_values(partner: Partner | None, changes: dict[str, str], allowed: tuple[str, ...]) -> dict[str, str]:
    base = partner_values(partner) if partner is not None else {column: "" for column in COLUMNS}
    values = dict(base)
    for key, value in changes.items():
        if key in allowed:
            values[key] = "" if value is None else str(value)
    if partner is not None:
        address_changed = any(values[f].strip() != base[f].strip() for f in ADDRESS_FIELDS)
        coords_unchanged = all(values[f].strip() == base[f].strip() for f in ("latitude", "longitude"))
        if address_changed and coords_unchanged:
            # A new address with the old point would put the listing in the wrong town: geocode again.
            values["latitude"] = values["longitude"] = ""
    values["confirmed_at"] = ""
    return values


def create_listing(session: Session, values: dict[str, str], geocoder: SupportsGeocode | None, *, actor,
                   now: datetime | None = None) -> Partner:
    """Create a listing from column values; raises Invalid or PermissionDenied; flushes."""
    now = now or clock.now()
    row, errors = check_listing(session, _merged_values(None, values, EDITABLE_FIELDS), geocoder, now)
    if errors:
        raise Invalid(errors)
    assert row is not None
    if actor is not None and not actor.can_create_partner_in(row.region.id):
        raise PermissionDenied("region")
    partner = Partner(latitude=0.0, longitude=0.0, confirmed_at=now)
    session.add(partner)
    _apply(session, partner, row)
    session.flush()
    record(session, actor=actor, entity=partner, action="create", before=None, after=partner_snapshot(partner))
    return partner


def update_listing(session: Session, partner: Partner, values: dict[str, str], geocoder: SupportsGeocode | None,
                   *, actor, now: datetime | None = None) -> Partner:
    """Apply changed column values (others keep their value); raises Invalid or PermissionDenied; flushes."""
    if actor is not None and not actor.can_edit_partner(partner):
        raise PermissionDenied("partner")
    allowed = COACH_FIELDS if actor is not None and actor.is_coach else EDITABLE_FIELDS
    now = now or clock.now()
    row, errors = check_listing(session, _merged_values(partner, values, allowed), geocoder, now)
    if errors:
        raise Invalid(errors)
    assert row is not None
    if actor is not None and not actor.can_create_partner_in(row.region.id) and not actor.is_coach:
        # An editor may not move a listing into a region they do not maintain.
        raise PermissionDenied("region")
    before = partner_snapshot(partner)
    _apply(session, partner, row)
    partner.confirmed_at = now
    session.flush()
    record(session, actor=actor, entity=partner, action="update", before=before, after=partner_snapshot(partner))
    return partner


def set_archived(session: Session, partner: Partner, archived: bool, *, actor) -> Partner:
    """Archive (soft delete) or restore a listing; flushes."""
    if actor is not None and not actor.can_archive_partner(partner):
        raise PermissionDenied("partner")
    if partner.is_archived == archived:
        return partner
    before = partner_snapshot(partner)
    partner.is_archived = archived
    session.flush()
    record(session, actor=actor, entity=partner, action="archive" if archived else "restore",
           before=before, after=partner_snapshot(partner))
    return partner


def confirm_listing(session: Session, partner: Partner, *, actor, now: datetime | None = None,
                    note: str = "") -> Partner:
    """Mark a listing as still correct (the confirm link or an editor); flushes."""
    before = partner_snapshot(partner)
    partner.confirmed_at = now or clock.now()
    session.flush()
    record(session, actor=actor, entity=partner, action="confirm", before=before, after=partner_snapshot(partner),
           note=note)
    session.flush()
    return partner


def merge_listings(session: Session, keep: Partner, duplicate: Partner, *, actor) -> Partner:
    """Merge a duplicate into keep: topics are united, empty fields of keep filled, the duplicate archived."""
    if keep.id == duplicate.id:
        raise Invalid.one("duplicate", "duplicate.same_listing")
    if actor is not None and not (actor.can_archive_partner(keep) and actor.can_archive_partner(duplicate)):
        raise PermissionDenied("partner")
    before_keep, before_dup = partner_snapshot(keep), partner_snapshot(duplicate)
    for topic in duplicate.topics:
        if topic not in keep.topics:
            keep.topics.append(topic)
    for field in ("email", "phone", "website", "description", "street", "postcode", "city"):
        if not getattr(keep, field) and getattr(duplicate, field):
            setattr(keep, field, getattr(duplicate, field))
    keep.refresh_search_fields()
    duplicate.is_archived = True
    duplicate.merged_into_id = keep.id
    # Accounts that pointed at the duplicate now maintain the kept listing.
    session.execute(update(User).where(User.partner_id == duplicate.id).values(partner_id=keep.id))
    session.flush()
    record(session, actor=actor, entity=keep, action="merge", before=before_keep, after=partner_snapshot(keep),
           note=f"Zusammengeführt mit #{duplicate.id}")
    record(session, actor=actor, entity=duplicate, action="merge", before=before_dup,
           after=partner_snapshot(duplicate), note=f"Aufgegangen in #{keep.id}")
    return keep
