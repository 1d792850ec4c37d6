"""The accounts' words: roles, account audit actions and entities, account fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from network.accounts.models import AccountAction, Role
from network.labels import register, register_enum

register_enum("role", Role, {
    Role.ADMIN: _l("Administration"),
    Role.EDITOR: _l("Regionale Redaktion"),
    Role.COACH: _l("Coach / Scout"),
})

register_enum("audit_action", AccountAction, {
    AccountAction.ENABLE: _l("aktiviert"),
    AccountAction.DISABLE: _l("deaktiviert"),
    AccountAction.REVOKE: _l("widerrufen"),
    AccountAction.PASSWORD_RESET: _l("Passwort zurückgesetzt"),
    AccountAction.PASSWORD_LINK: _l("Link zum Setzen des Passworts verschickt"),
})

register("audit_entity", {
    "users": _l("Benutzerkonto"),
    "api_tokens": _l("API-Token"),
})

# An account's audited fields; name, email and partner_id are the directory's words ("field").
register("field", {
    "role": _l("Rolle"),
    "regions": _l("Regionen"),
    "is_enabled": _l("aktiv"),
})
