"""Error labels of the core: codes that no single domain owns (an e-mail address, a JSON request body).

The domains register their own codes in <domain>/messages.py; these are shared by several of them.
German msgids, English in translations/en; "%(field)s" is the label of the problem's field (errors.problem_message).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from network.labels import register

register("error", {
    "email.invalid": _l("„%(email)s“ ist keine gültige E-Mail-Adresse."),
    # JSON bodies of the write APIs: what cannot even be read as the expected shape.
    "json.not_an_object": _l("Der Inhalt muss ein JSON-Objekt sein (Content-Type: application/json)."),
    "json.not_text": _l("„%(field)s“ muss Text sein."),
    "json.not_an_integer": _l("„%(field)s“ muss eine ganze Zahl sein."),
    "json.wrong_type": _l("Das Feld „%(field)s“ hat einen unzulässigen Typ."),
    "json.unknown_field": _l("Unbekanntes oder nicht änderbares Feld „%(field)s“."),
    "json.no_fields": _l("Keine Felder zum Ändern angegeben."),
})
