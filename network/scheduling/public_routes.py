"""The firm's private page (no account): view, download, reschedule or cancel a visit by its private link.

The private link /termin/<token> is the firm's only credential: the token is stored
as a SHA-256 hash, looked up by that hash, and acts on its own visit only. The
request page is in request_routes.py; the helpers shared with the JSON API in views.py.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from network.errors import invalid_response, json_error
from network.extensions import csrf, db
from network.i18n import current_language
from network.labels import label
from network.problems import Invalid
from network.scheduling import booking
from network.scheduling.booking import BookingConflict, NotAllowed
from network.scheduling.ical import message_for
from network.scheduling.localtime import parse_instant, to_local
from network.scheduling.locking import booking_transaction
from network.scheduling.models import ACTIVE_STATES, Visit
from network.scheduling.notify import invite_data
from network.scheduling.routes import bp
from network.scheduling.views import (
    conflict_response,
    field_errors,
    group_by_day,
    mail_failed_message,
    manage_url,
    now,
    parse_iso_day,
    private_headers,
    send_visit_mails,
    settings,
    slot_window,
    time_label,
    today,
    visit_json,
    visit_request_limit,
)


def _visit_or_404(token: str) -> Visit:
    visit = booking.visit_by_manage_token(db.session, token)
    if visit is None:
        abort(404)
    return visit


def _manage_page(token: str, visit: Visit, *, status: int = 200, errors: dict[str, str] | None = None,
                 conflict: BookingConflict | None = None):
    first_allowed = today()
    try:
        first_day = max(parse_iso_day(request.args.get("from"), first_allowed), first_allowed)
    except Invalid:
        first_day = first_allowed
    shown = visit.status_at(now())
    days: list[dict] = []
    if shown in ACTIVE_STATES:
        if conflict is not None:
            days = group_by_day(conflict.next_free)
        else:
            place = (visit.firm_lat, visit.firm_lon) if visit.firm_lat is not None else None
            days = group_by_day(slot_window(visit.partner, first_day, visit.duration_min, place))
    page = render_template(
        "scheduling/manage.html", visit=visit, token=token, shown_status=shown,
        status_label=label("visit_status_firm", shown), is_active=shown in ACTIVE_STATES, days=days,
        conflict=conflict, errors=errors or {}, first_day=first_day,
        prev_day=(first_day - timedelta(days=7)) if first_day > first_allowed else None,
        next_day=first_day + timedelta(days=7), start_label=time_label(visit.start_at),
        end_label=time_label(visit.end_at), day_label=format_date(to_local(visit.start_at).date(), format="full"),
        lang=current_language(),
    )
    return private_headers(Response(page, status=status, mimetype="text/html"))


@bp.get("/termin/<token>")
def manage_visit(token: str):
    """The firm's private page: status, .ics, reschedule, cancel."""
    return _manage_page(token, _visit_or_404(token))


@bp.get("/termin/<token>.ics")
def visit_ics(token: str):
    """The visit's current invite: METHOD:REQUEST while active, METHOD:CANCEL once it has ended."""
    visit = _visit_or_404(token)
    method, body = message_for(invite_data(visit, manage_url(token)), now())
    response = Response(body, content_type=f"text/calendar; charset=utf-8; method={method}")
    response.headers["Content-Disposition"] = "attachment; filename=invite.ics"
    return private_headers(response)


# ---------------------------------------------------------------- changes by private link


def _token_visit(token: str, as_json: bool):
    """The link's visit, or the 404 answer; an HTML form post must also carry its CSRF token."""
    visit = booking.visit_by_manage_token(db.session, token)
    if visit is None:
        if as_json:
            return json_error(_("Diesen Termin gibt es nicht."), 404, "token", code="visit.not_found")
        abort(404)
    if not as_json:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    return visit


def _posted_start(as_json: bool):
    """The new start as posted (text), or the 400 answer when a JSON body does not carry it as text."""
    if not as_json:
        return request.form.get("start", "")
    body = request.get_json(silent=True)
    raw = body.get("start") if isinstance(body, dict) else None
    if not isinstance(raw, str):
        return invalid_response(Invalid.one("start", "start.new_not_text"), 400)
    return raw


def _back_to_page(token: str):
    return redirect(url_for("scheduling.manage_visit", token=token), 303)


def _ended(token: str, as_json: bool, code: str = "visit.ended"):
    message = _("Dieser Termin ist bereits beendet (abgesagt, abgelehnt oder abgelaufen) und kann nicht mehr "
                "geändert werden.")
    if as_json:
        return json_error(message, 409, "status", code=code)
    flash(message, "error")
    return _back_to_page(token)


def _refused(token: str, visit_id: int, exc: BookingConflict | Invalid, as_json: bool):
    """A move the rules refuse: JSON with the reason (and the next free slots), or the page again."""
    visit = db.session.get(Visit, visit_id)
    if isinstance(exc, BookingConflict):
        if as_json:
            return conflict_response(exc)
        return _manage_page(token, visit, status=409, conflict=exc)
    if as_json:
        return invalid_response(exc, 422)
    return _manage_page(token, visit, status=422, errors=field_errors(exc))


def _changed(token: str, visit_id: int, as_json: bool, done_message):
    """After the commit: mail firm and coach, then the JSON state or the page with done_message(visit)."""
    visit = db.session.get(Visit, visit_id)
    mailed = send_visit_mails(visit, token)
    if as_json:
        return jsonify({**visit_json(visit, token), "mail_sent": mailed})
    flash(done_message(visit) if mailed else mail_failed_message(), "info" if mailed else "error")
    return _back_to_page(token)


# The secret token in the URL authorises these two, not a cookie: a cross-site page that does not know it
# can forge nothing. JSON bodies therefore need no CSRF token (scripts, the page's own JS); HTML form
# posts are still CSRF-checked in _token_visit. Listed in docs/architecture.md under "CSRF exemptions".
@bp.post("/termin/<token>/cancel")
@csrf.exempt
def firm_cancel_visit(token: str):
    as_json = request.is_json
    visit = _token_visit(token, as_json)
    if not isinstance(visit, Visit):
        return visit
    visit_id = visit.id
    try:
        with booking_transaction(db.session, visit.partner_id):
            booking.cancel_visit(db.session, db.session.get(Visit, visit_id), now(), by_firm=True)
    except NotAllowed as exc:
        return _ended(token, as_json, exc.code)
    return _changed(token, visit_id, as_json,
                    lambda v: _("Der Termin ist abgesagt. %(name)s wurde benachrichtigt.", name=v.partner.name))


@bp.post("/termin/<token>/reschedule")
@csrf.exempt
@visit_request_limit  # every move mails the coach: the same per-address budget as new requests
def firm_reschedule_visit(token: str):
    as_json = request.is_json
    visit = _token_visit(token, as_json)
    if not isinstance(visit, Visit):
        return visit
    raw = _posted_start(as_json)
    if not isinstance(raw, str):
        return raw
    try:
        new_start = parse_instant(raw, "start")
    except Invalid as exc:
        refused = exc if raw.strip() else Invalid.one("start", "start.new_not_chosen")
        return invalid_response(refused, 400) if as_json else \
            _manage_page(token, visit, status=400, errors=field_errors(refused))
    visit_id = visit.id
    try:
        with booking_transaction(db.session, visit.partner_id):
            booking.reschedule_visit(db.session, db.session.get(Visit, visit_id), new_start, now(), settings(),
                                     by_firm=True)
    except NotAllowed as exc:
        return _ended(token, as_json, exc.code)
    except (BookingConflict, Invalid) as exc:
        return _refused(token, visit_id, exc, as_json)
    return _changed(token, visit_id, as_json, lambda v: _(
        "Der Termin ist verschoben. %(name)s muss den neuen Termin noch bestätigen.", name=v.partner.name))
