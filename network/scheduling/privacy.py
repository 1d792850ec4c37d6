"""DSGVO for the visit scheduler: the coach's profile, absences and visits (visits stay anonymised for statistics)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from network.privacy import (
    ErasureTarget,
    batched,
    erase_audit_fields,
    register_eraser,
    register_exporter,
    register_third_party_fields,
    round_coordinate,
    row_data,
)
from network.scheduling.models import ACTIVE_STATES, Absence, SchedulingProfile, Visit, WorkingHours

VISIT_PERSONAL_FIELDS = ("firm_address", "contact_name", "contact_email", "contact_phone", "message",
                         "decline_reason", "outcome_notes")
VISIT_TEXT_FIELDS = ("firm_name", *VISIT_PERSONAL_FIELDS)
# Other people's data in rows about the person (a firm's contact on the coach's visit): left out of the export.
VISIT_THIRD_PARTY_FIELDS = ("contact_name", "contact_email", "contact_phone", "message")
register_third_party_fields("visits", VISIT_THIRD_PARTY_FIELDS)


@register_eraser("scheduling_profiles")
def _erase_scheduling_profile(session: Session, target: ErasureTarget) -> int:
    changed = 0
    for profile in session.scalars(select(SchedulingProfile).where(
            SchedulingProfile.partner_id.in_(target.partner_ids))):
        # The home address is where travel starts: private. Without the feed token the calendar feed dies too.
        profile.home_address, profile.home_lat, profile.home_lon = "", None, None
        profile.feed_token_hash = None
        changed += 1
    return changed


@register_eraser("absences")
def _erase_absences(session: Session, target: ErasureTarget) -> int:
    # Absences say when someone was sick: of no use once the listing is archived, so they go entirely.
    own = list(session.scalars(select(Absence).where(Absence.partner_id.in_(target.partner_ids))))
    for absence in own:
        session.delete(absence)
    changed = len(own)
    for absence in session.scalars(select(Absence).where(Absence.partner_id.notin_(target.partner_ids))):
        note = target.scrub(absence.note or "")
        if note != absence.note:
            absence.note, changed = note[:200], changed + 1
    return changed


def upcoming_visits(session: Session, target: ErasureTarget, now: datetime) -> int:
    """Requested or confirmed visits still ahead: a firm expects them, so they should be cancelled before erasing."""
    return session.scalar(select(func.count(Visit.id)).where(
        Visit.partner_id.in_(target.partner_ids), Visit.status.in_(ACTIVE_STATES), Visit.end_at > now)) or 0


@register_eraser("visits")
def _erase_visits(session: Session, target: ErasureTarget) -> int:
    changed = 0
    own_ids: set[int] = set()
    for visit in batched(session, Visit):
        if visit.partner_id in target.partner_ids:
            # The coach's visits stay for statistics (when, how long, topic, status, firm, rough place) but
            # lose contact data and free text; the firm's manage link stops working.
            own_ids.add(visit.id)
            for name in VISIT_PERSONAL_FIELDS:
                setattr(visit, name, "")
            visit.firm_lat, visit.firm_lon = round_coordinate(visit.firm_lat), round_coordinate(visit.firm_lon)
            visit.manage_token_hash = None
            visit.firm_name = target.scrub(visit.firm_name or "")
            changed += 1
            continue
        # Other coaches' visits: the person may have been a firm's contact or be named in a note.
        new = {name: target.scrub(getattr(visit, name) or "") for name in VISIT_TEXT_FIELDS}
        if any(getattr(visit, name) != value for name, value in new.items()):
            for name, value in new.items():
                setattr(visit, name, value)
            changed += 1
    erase_audit_fields(session, "visits", own_ids, VISIT_PERSONAL_FIELDS)
    return changed


@register_exporter("scheduling")
def _export_scheduling(session: Session, target: ErasureTarget) -> dict[str, Any]:
    """The coach's profile, working hours, absences and visits; firms' contact data and messages stay out,
    they are other people's data (Art. 15 (4) DSGVO)."""
    ids = target.partner_ids
    profiles = session.scalars(select(SchedulingProfile).where(SchedulingProfile.partner_id.in_(ids)))
    hours = session.scalars(select(WorkingHours).where(WorkingHours.partner_id.in_(ids))
                            .order_by(WorkingHours.weekday, WorkingHours.start_minute))
    absences = session.scalars(select(Absence).where(Absence.partner_id.in_(ids)).order_by(Absence.start_date))
    visits = session.scalars(select(Visit).where(Visit.partner_id.in_(ids)).order_by(Visit.start_at))
    return {
        "profiles": [row_data(profile, exclude=("feed_token_hash",)) for profile in profiles],
        "working_hours": [row_data(row) for row in hours],
        "absences": [row_data(absence) for absence in absences],
        "visits": [row_data(visit, exclude=("manage_token_hash", *VISIT_THIRD_PARTY_FIELDS)) for visit in visits],
    }
