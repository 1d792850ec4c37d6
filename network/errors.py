"""Error pages and JSON errors (web boundary): coded problems in the user's language, rollback on 500."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

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
    """A problem in the user's language (the "error" labels registered by the domains)."""
    return label("error", problem.code, **problem.params)


def form_errors(exc: Invalid) -> dict[str, list[str]]:
    """Field -> messages, for HTML forms; problems without a field go under "" (shown above the form)."""
    result: dict[str, list[str]] = {}
    for problem in exc.problems:
        result.setdefault(problem.field or "", []).append(problem_message(problem))
    return result


def invalid_response(exc: Invalid, status: int = 400, **extra):
    """JSON for refused input: the first problem as {"error", "field", "code"}, all of them under "problems"."""
    first = exc.first
    return json_error(problem_message(first), status, first.field, code=first.code,
                      problems=[{"field": p.field, "code": p.code, "error": problem_message(p)} for p in exc.problems],
                      **extra)


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
