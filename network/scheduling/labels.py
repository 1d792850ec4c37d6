"""The scheduler's words: visit states, absence reasons, who asked, its audit actions, entities and fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from network.labels import register, register_enum
from network.scheduling.models import AbsenceReason, RequestedBy, SchedulingAction, VisitStatus

# Short, for the coach's lists and the audit log.
register_enum("visit_status", VisitStatus, {
    VisitStatus.REQUESTED: _l("angefragt"),
    VisitStatus.CONFIRMED: _l("bestätigt"),
    VisitStatus.DECLINED: _l("abgelehnt"),
    VisitStatus.CANCELLED: _l("abgesagt"),
    VisitStatus.EXPIRED: _l("abgelaufen"),
})

# Spelled out, for the firm's private page of its visit.
register_enum("visit_status_firm", VisitStatus, {
    VisitStatus.REQUESTED: _l("Angefragt – wartet auf die Bestätigung"),
    VisitStatus.CONFIRMED: _l("Bestätigt"),
    VisitStatus.DECLINED: _l("Abgelehnt"),
    VisitStatus.CANCELLED: _l("Abgesagt"),
    VisitStatus.EXPIRED: _l("Abgelaufen – die Anfrage wurde nicht rechtzeitig bestätigt"),
})

register_enum("absence_reason", AbsenceReason, {
    AbsenceReason.VACATION: _l("Urlaub"),
    AbsenceReason.SICK: _l("Krankheit"),
    AbsenceReason.OTHER: _l("Sonstiges"),
})

# Shown to the coach under "Angelegt von".
register_enum("requested_by", RequestedBy, {
    RequestedBy.FIRM: _l("der Firma (Anfrage)"),
    RequestedBy.COACH: _l("Ihnen (direkt eingetragen)"),
})

register_enum("audit_action", SchedulingAction, {
    SchedulingAction.REQUEST: _l("angefragt"),
    SchedulingAction.BOOK: _l("direkt eingetragen"),
    SchedulingAction.DECLINE: _l("abgelehnt"),
    SchedulingAction.RESCHEDULE: _l("verschoben"),
    SchedulingAction.CANCEL: _l("abgesagt"),
    SchedulingAction.OUTCOME: _l("Ergebnis eingetragen"),
    SchedulingAction.WORKING_HOURS: _l("Arbeitszeiten geändert"),
    SchedulingAction.FEED_ROTATE: _l("Kalender-Abo erneuert"),
})

register("audit_entity", {
    "visits": _l("Besuch"),
    "scheduling_profiles": _l("Kalender"),  # working hours, service base, feed
    "absences": _l("Abwesenheit"),
})

# The audited fields of a visit, an absence and the working hours ("status" is the directory's word).
register("field", {
    "start_at": _l("Beginn"),
    "end_at": _l("Ende"),
    "firm_name": _l("Firma"),
    "firm_address": _l("Adresse der Firma"),
    "contact_name": _l("Ansprechperson"),
    "contact_email": _l("E-Mail der Ansprechperson"),
    "contact_phone": _l("Telefon der Ansprechperson"),
    "sequence": _l("Version"),
    "took_place": _l("fand statt"),
    "start_date": _l("Von"),
    "end_date": _l("Bis einschließlich"),
    "reason": _l("Grund"),
    "hours": _l("Arbeitszeiten"),
    "home_address": _l("Dienstort"),
    "min_notice_hours": _l("Mindestvorlauf (Stunden)"),
    "horizon_days": _l("Buchungshorizont (Tage)"),
})
