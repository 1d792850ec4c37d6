"""Translated, field-naming messages for search parameter errors (shared by pages and API)."""
from __future__ import annotations

from flask_babel import gettext as _

from network.directory.params import MAX_LENGTHS, ParamError

FIELD_LABELS = {
    "near": lambda: _("Ort oder PLZ"),
    "lat": lambda: _("Breitengrad"),
    "lon": lambda: _("Längengrad"),
    "radius_km": lambda: _("Umkreis"),
    "kind": lambda: _("Art"),
    "topic": lambda: _("Thema"),
    "region": lambda: _("Region"),
    "q": lambda: _("Suchtext"),
    "page": lambda: _("Seite"),
    "per_page": lambda: _("Treffer pro Seite"),
}


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, lambda: field)()


def param_error_message(error: ParamError) -> str:
    label = field_label(error.field)
    if error.code == "not_found":
        return _("Ort oder PLZ nicht gefunden: %(value)s", value=error.value)
    if error.code == "not_a_number":
        return _("%(field)s: „%(value)s“ ist keine Zahl.", field=label, value=error.value)
    if error.code == "out_of_range":
        return _("%(field)s: „%(value)s“ liegt außerhalb des erlaubten Bereichs.", field=label, value=error.value)
    if error.code == "unknown_value":
        return _("%(field)s: „%(value)s“ ist unbekannt.", field=label, value=error.value)
    if error.code == "missing_pair":
        return _("Breitengrad und Längengrad müssen zusammen angegeben werden.")
    if error.code == "missing":
        return _("%(field)s fehlt.", field=label)
    if error.code == "too_long":
        return _("%(field)s: Die Eingabe ist zu lang (höchstens %(max)d Zeichen).", field=label,
                 max=MAX_LENGTHS[error.field])
    return _("%(field)s ist ungültig.", field=label)
