"""The directory's words: suggestion types and states, its audit actions and entities, listing and search fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from network.directory.models import DirectoryAction, SuggestionStatus, SuggestionType
from network.labels import register, register_enum

register_enum("suggestion_type", SuggestionType, {
    SuggestionType.NEW_LISTING: _l("Neuer Eintrag"),
    SuggestionType.OUTDATED: _l("Veraltete Angaben"),
    SuggestionType.DUPLICATE: _l("Mögliches Duplikat"),
})

register_enum("suggestion_status", SuggestionStatus, {
    SuggestionStatus.PENDING: _l("offen"),
    SuggestionStatus.ACCEPTED: _l("angenommen"),
    SuggestionStatus.REJECTED: _l("abgelehnt"),
})

register_enum("audit_action", DirectoryAction, {
    DirectoryAction.ARCHIVE: _l("archiviert"),
    DirectoryAction.RESTORE: _l("wiederhergestellt"),
    DirectoryAction.MERGE: _l("zusammengeführt"),
    DirectoryAction.IMPORT: _l("importiert"),
    DirectoryAction.ACCEPT: _l("angenommen"),
    DirectoryAction.REJECT: _l("abgelehnt"),
})

# AuditEntry.entity_type of the directory's rows.
register("audit_entity", {
    "partners": _l("Eintrag"),
    "organisations": _l("Organisation"),
    "suggestions": _l("Vorschlag"),
    "csv_import": _l("CSV-Import"),
})

register("field", {
    # A listing (forms, history, audit log, moderation).
    "name": _l("Name"),
    "kind": _l("Art"),
    "organisation": _l("Organisation"),
    "region": _l("Region"),
    "topics": _l("Themen"),
    "street": _l("Straße und Hausnummer"),
    "postcode": _l("PLZ"),
    "city": _l("Ort"),
    "latitude": _l("Breitengrad"),
    "longitude": _l("Längengrad"),
    "service_radius_km": _l("Einsatzradius (km)"),
    "email": _l("E-Mail"),
    "phone": _l("Telefon"),
    "website": _l("Website"),
    "languages": _l("Sprachen"),
    "description": _l("Beschreibung"),
    "is_person": _l("Eintrag für eine Person"),
    "is_archived": _l("Archiviert"),
    "is_demo": _l("Demo-Eintrag"),
    "confirmed_at": _l("Zuletzt bestätigt"),
    "duplicate": _l("Eintrag"),  # the listing to merge into this one
    # A suggestion and its moderation.
    "message": _l("Nachricht"),
    "reporter_email": _l("E-Mail der meldenden Person"),
    "note": _l("Notiz"),
    "mode": _l("Entscheidung"),
    "status": _l("Status"),
    "type": _l("Art des Vorschlags"),
    "partner_id": _l("Eintrag"),
    "duplicate_of_id": _l("mögliches Duplikat von"),
    "decision_note": _l("Notiz"),
    # Search parameters (pages and API).
    "near": _l("Ort oder PLZ"),
    "lat": _l("Breitengrad"),
    "lon": _l("Längengrad"),
    "radius_km": _l("Umkreis"),
    "topic": _l("Thema"),
    "q": _l("Suchtext"),
    "page": _l("Seite"),
    "per_page": _l("Treffer pro Seite"),
})
