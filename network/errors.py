"""Error pages and JSON errors (web boundary): coded problems in the user's language, rollback on 500."""
from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, jsonify, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, SecurityError

from network import messages  # noqa: F401  (the core's own error labels register on import)
from network.extensions import db
from network.labels import label
from network.problems import Invalid, Problem


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def json_error(message: str, status: int, field: str | None = None, **extra):
    body = {"error": message}
    if field:
        body["field"] = field
    body.update(extra)
    return jsonify(body), status


def problem_message(problem: Problem) -> str:
    """A problem in the user's language (the "error" labels registered by the domains).

    A message may name the field at fault as %(field)s: unless the problem's params say otherwise, that is
    the field's label (namespace "field"), or the field's own name when it has none. Decimal numbers are
    written the user's way (1,5 or 1.5).
    """
    params = {key: format_decimal(value) if isinstance(value, float) else value
              for key, value in problem.params.items()}
    if problem.field is not None:
        params.setdefault("field", label("field", problem.field))
    return label("error", problem.code, **params)


def form_errors(exc: Invalid, fields: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Field -> messages, for HTML forms; problems without a field go under "" (shown above the form).

    fields renames the service's field names to the form's (e.g. "firm.name" -> "firm_name").
    """
    result: dict[str, list[str]] = {}
    for problem in exc.problems:
        name = problem.field or ""
        result.setdefault((fields or {}).get(name, name), []).append(problem_message(problem))
    return result


def attach_errors(form, exc: Invalid, fields: Mapping[str, str] | None = None) -> list[str]:
    """Put each message on its WTForms field; returns the messages that belong to no visible field."""
    general: list[str] = []
    for name, texts in form_errors(exc, fields).items():
        field = form._fields.get(name) if name not in ("csrf_token", "homepage") else None
        if field is None:
            general.extend(texts)
        else:
            field.errors = [*field.errors, *texts]
    return general


def invalid_response(exc: Invalid, status: int = 400, **extra):
    """JSON for refused input: the first problem as {"error", "field", "code"}, then all of them.

    "field" is null when the request as a whole is at fault. "problems" lists every problem with its field,
    code and message; "errors" maps each field to its messages.
    """
    first = exc.first
    body = {"error": problem_message(first), "field": first.field, "code": first.code,
            "problems": [{"field": p.field, "code": p.code, "error": problem_message(p)} for p in exc.problems],
            "errors": form_errors(exc)}
    body.update(extra)
    return jsonify(body), status


_MESSAGES = {
    400: lambda: _("Die Anfrage ist ungültig."),
    403: lambda: _("Dafür fehlt Ihnen die Berechtigung."),
    404: lambda: _("Diese Seite gibt es nicht."),
    405: lambda: _("Diese Methode ist hier nicht erlaubt."),
    413: lambda: _("Die Datei ist zu groß."),
    429: lambda: _("Zu viele Anfragen. Bitte warten Sie einen Moment."),
    500: lambda: _("Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut."),
}


def register(app: Flask) -> None:
    @app.errorhandler(SecurityError)
    def handle_untrusted_host(error: SecurityError):
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no page is rendered (plain text, 400).
        return "400 – Unbekannter Host / unknown host\n", 400, {"Content-Type": "text/plain; charset=utf-8"}

    app.jinja_env.globals["problem_message"] = problem_message

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        status = error.code or 500
        message = _MESSAGES.get(status, lambda: error.description)()
        if status == 400 and getattr(error, "description", None) and "CSRF" in str(error.description):
            message = _("Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und senden Sie es erneut.")
        if wants_json():
            return json_error(message, status)
        return render_template("errors/error.html", status=status, message=message), status

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return handle_http(error)
        db.session.rollback()
        app.logger.exception("Unhandled error")
        message = _MESSAGES[500]()
        if wants_json():
            return json_error(message, 500)
        return render_template("errors/error.html", status=500, message=message), 500
