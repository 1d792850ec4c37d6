"""Admin views of the moderation queue: list per region, one suggestion, accept and reject with a note."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField, TextAreaField

from network.admin.blueprint import bp
from network.directory.listings import PermissionDenied
from network.directory.models import SUGGESTION_STATES, SUGGESTION_TYPES, Kind, Region, Suggestion, Topic
from network.directory.moderation import (
    DUPLICATE_MODES,
    AlreadyDecided,
    accept,
    find_duplicate,
    moderation_queue,
    reject,
)
from network.errors import form_errors
from network.extensions import db
from network.i18n import current_language
from network.problems import Invalid


class DecisionForm(FlaskForm):
    note = TextAreaField(_l("Notiz"))
    # Possible duplicates only: "merge" or "create" from radio buttons in the template; the service names a
    # missing or unknown choice.
    mode = StringField(_l("Wie annehmen?"))


def _require_moderator() -> None:
    # Coaches maintain their own listing only; the queue is the editors' and admins' business.
    if current_user.is_coach:
        abort(403)


def _suggestion_or_404(suggestion_id: int) -> Suggestion:
    suggestion = db.session.get(Suggestion, suggestion_id)
    if suggestion is None:
        abort(404)
    if not current_user.can_moderate_region(suggestion.region_id):
        abort(403)
    return suggestion


def _display_context() -> dict:
    lang = current_language()
    return {
        "kind_names": {k.slug: k.name(lang) for k in db.session.scalars(select(Kind))},
        "region_names": {r.slug: r.name for r in db.session.scalars(select(Region))},
        "topic_names": {t.slug: t.name(lang) for t in db.session.scalars(select(Topic))},
        "proposal_fields": ("name", "kind", "organisation", "region", "topics", "street", "postcode", "city",
                            "email", "phone", "website"),
    }


@bp.get("/moderation")
def moderation():
    _require_moderator()
    suggestion_type = request.args.get("type") or None
    if suggestion_type not in SUGGESTION_TYPES:
        suggestion_type = None
    status = request.args.get("status", "pending")
    if status not in SUGGESTION_STATES and status != "all":
        status = "pending"
    groups = moderation_queue(db.session, current_user, suggestion_type=suggestion_type,
                              status=None if status == "all" else status)
    return render_template("admin/moderation.html", groups=groups, form=DecisionForm(),
                           current_type=suggestion_type or "", current_status=status,
                           types=SUGGESTION_TYPES, states=SUGGESTION_STATES, **_display_context())


def _render_item(suggestion: Suggestion, form: DecisionForm, errors: dict[str, list[str]] | None = None,
                 status: int = 200):
    # A duplicate found later (the directory changed since the suggestion came in) is worth showing too.
    later_match = None
    if suggestion.suggestion_type == "new_listing" and suggestion.status == "pending":
        payload = suggestion.payload or {}
        try:
            lat, lon = float(payload.get("latitude", "")), float(payload.get("longitude", ""))
        except ValueError:
            lat = lon = None
        if lat is not None and lon is not None:
            later_match = find_duplicate(db.session, suggestion.name, lat, lon)
    return render_template("admin/moderation_item.html", s=suggestion, form=form, errors=errors or {},
                           later_match=later_match, **_display_context()), status


@bp.get("/moderation/<int:suggestion_id>")
def moderation_item(suggestion_id: int):
    _require_moderator()
    return _render_item(_suggestion_or_404(suggestion_id), DecisionForm())


def _decide(suggestion_id: int, accepting: bool):
    _require_moderator()
    suggestion = _suggestion_or_404(suggestion_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render_item(suggestion, form, status=400)
    try:
        if accepting:
            mode = form.mode.data if form.mode.data in DUPLICATE_MODES else None
            partner = accept(db.session, suggestion, actor=current_user, note=form.note.data or "", mode=mode,
                             geocoder=current_app.extensions["partnernetz.geocoder"])
        else:
            partner = None
            reject(db.session, suggestion, actor=current_user, note=form.note.data or "")
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    except AlreadyDecided:
        db.session.rollback()
        flash(_("Dieser Vorschlag wurde bereits entschieden."), "error")
        return redirect(url_for("admin.moderation_item", suggestion_id=suggestion_id))
    except Invalid as exc:
        db.session.rollback()
        suggestion = _suggestion_or_404(suggestion_id)
        return _render_item(suggestion, form, errors=form_errors(exc), status=400)
    db.session.commit()
    if not accepting:
        flash(_("Vorschlag „%(name)s“ abgelehnt.", name=suggestion.name), "info")
    elif suggestion.suggestion_type == "outdated":
        flash(_("Meldung zu „%(name)s“ als erledigt markiert. Bitte passen Sie den Eintrag an.",
                name=suggestion.name), "info")
        edit_url = url_for("admin.edit_listing", partner_id=suggestion.partner_id) if suggestion.partner_id else "#"
        if edit_url != "#":
            return redirect(edit_url)
    else:
        flash(_("Vorschlag angenommen: Eintrag „%(name)s“ (#%(id)s).", name=partner.name if partner else "",
                id=partner.id if partner else ""), "info")
    return redirect(url_for("admin.moderation"))


@bp.post("/moderation/<int:suggestion_id>/annehmen")
def moderation_accept(suggestion_id: int):
    return _decide(suggestion_id, accepting=True)


@bp.post("/moderation/<int:suggestion_id>/ablehnen")
def moderation_reject(suggestion_id: int):
    return _decide(suggestion_id, accepting=False)
