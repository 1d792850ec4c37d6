"""The accounts' error labels: creating and changing accounts (service and admin forms), German msgids.

Registered on import (network.accounts imports this module); the web layer words a problem with
errors.problem_message, in the user's language. email.invalid is the core's (network.messages).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from network.labels import register

register("error", {
    "email.missing": _l("Bitte geben Sie eine E-Mail-Adresse ein."),
    "email.taken": _l("Es gibt schon ein Konto für %(email)s."),
    "name.too_long": _l("Höchstens %(max)d Zeichen."),
    "role.unknown": _l("Bitte wählen Sie eine der angebotenen Rollen."),
    "role.self_demotion": _l("Sie können sich nicht selbst die Administrationsrolle entziehen. Bitten Sie eine "
                             "andere Person mit Administrationsrechten darum."),
    "is_enabled.self_disable": _l("Sie können Ihr eigenes Konto nicht deaktivieren."),
    "regions.unknown": _l("Bitte wählen Sie nur Regionen aus der Liste."),
    "regions.missing": _l("Eine Redaktion braucht mindestens eine Region."),
    "listing.missing": _l("Ein Coach-Konto braucht seinen Eintrag: bitte die Nummer des Eintrags angeben."),
    "listing.invalid": _l("Bitte geben Sie die Nummer des Eintrags an, z. B. 17."),
    "listing.unknown": _l("Es gibt keinen Eintrag #%(id)s."),
    "listing.taken": _l("Der Eintrag #%(id)s gehört schon zum Konto %(email)s."),
    "password.too_short": _l("Das Passwort muss mindestens %(min)d Zeichen lang sein."),
    "password.and_link": _l("Bitte entweder ein Passwort eingeben oder den Link verschicken lassen – nicht beides."),
    "password.missing": _l("Bitte geben Sie ein Anfangspasswort ein oder lassen Sie einen Link zum Setzen des "
                           "Passworts verschicken."),
})
