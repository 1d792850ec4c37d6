"""Public pages without an account: suggest a partner, report an outdated listing, confirm a listing by mail link."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from network.directory.freshness import (
    ConfirmLinkInvalid,
    confirm_by_token,
    partner_from_confirm_token,
)
from network.directory.models import Kind, Partner, Region, Topic
from network.directory.moderation import submit_new_listing, submit_report
from network.directory.routes import bp, geocoder
from network.errors import attach_errors
from network.extensions import db, limiter
from network.i18n import current_language
from network.problems import Invalid


def _public_post_limit() -> str:
    return current_app.config["PUBLIC_SUGGESTION_RATE_LIMIT"]


# One budget for both forms: a bot switching from one form to the other gains nothing.
_limit_public_posts = limiter.shared_limit(_public_post_limit, scope="public-suggestions", methods=["POST"])


class _CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class _Honeypot(FlaskForm):
    # Hidden from people by CSS; bots that fill every field give themselves away.
    homepage = StringField(_l("Bitte dieses Feld leer lassen"))

    @property
    def is_bot(self) -> bool:
        return bool((self.homepage.data or "").strip())


class SuggestForm(_Honeypot):
    """No validators here on purpose: the listing rules of csvio.check_listing decide (see moderation)."""

    name = StringField(_l("Name der Person oder Einrichtung"))
    kind = SelectField(_l("Art"), validate_choice=False)
    organisation = StringField(_l("Organisation"))
    street = StringField(_l("Straße und Hausnummer"))
    postcode = StringField(_l("Postleitzahl"))
    city = StringField(_l("Ort"))
    region = SelectField(_l("Region"), validate_choice=False)
    topics = _CheckboxList(_l("Themen"), validate_choice=False)
    email = EmailField(_l("E-Mail-Adresse des Partners"))
    phone = StringField(_l("Telefon des Partners"))
    website = StringField(_l("Website"))
    message = TextAreaField(_l("Nachricht an die Redaktion"))
    reporter_email = EmailField(_l("Ihre E-Mail-Adresse (freiwillig, für Rückfragen)"))


class ReportForm(_Honeypot):
    message = TextAreaField(_l("Was stimmt nicht (mehr)?"))
    reporter_email = EmailField(_l("Ihre E-Mail-Adresse (freiwillig, für Rückfragen)"))


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the confirmation itself is the POST."""


def _fill_choices(form: SuggestForm) -> None:
    lang = current_language()
    form.kind.choices = [SelectChoice("", _("Bitte wählen"))] + [
        SelectChoice(k.slug, k.name(lang))
        for k in db.session.scalars(select(Kind).order_by(Kind.sort_order, Kind.id))]
    form.region.choices = [SelectChoice("", _("Weiß ich nicht – aus dem Ort bestimmen"))] + [
        SelectChoice(r.slug, r.name) for r in db.session.scalars(select(Region).order_by(Region.sort_order, Region.id))]
    form.topics.choices = [
        SelectChoice(t.slug, t.name(lang))
        for t in db.session.scalars(select(Topic).order_by(Topic.sort_order, Topic.id))]


@bp.route("/vorschlagen", methods=["GET", "POST"])
@_limit_public_posts
def suggest():
    form = SuggestForm()
    _fill_choices(form)
    general: list[str] = []
    if form.validate_on_submit():
        if form.is_bot:
            flash(_("Vielen Dank! Ihr Vorschlag wird von der Redaktion geprüft."), "info")
            return redirect(url_for("directory.index"))
        values = {key: form[key].data for key in ("name", "kind", "organisation", "street", "postcode", "city",
                                                 "region", "email", "phone", "website")}
        values["topics"] = "|".join(form.topics.data or [])
        try:
            submit_new_listing(db.session, values, geocoder(), message=form.message.data or "",
                               reporter_email=form.reporter_email.data or "")
        except Invalid as exc:
            db.session.rollback()
            general = attach_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Vielen Dank! Ihr Vorschlag wird von der Redaktion geprüft."), "info")
            return redirect(url_for("directory.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("directory/suggest.html", form=form, general_errors=general), status


@bp.route("/partner/<int:partner_id>/melden", methods=["GET", "POST"])
@_limit_public_posts
def report(partner_id: int):
    partner = db.session.get(Partner, partner_id)
    if partner is None or partner.is_archived:
        abort(404)
    form = ReportForm()
    general: list[str] = []
    if form.validate_on_submit():
        if form.is_bot:
            flash(_("Vielen Dank für Ihren Hinweis! Die Redaktion prüft den Eintrag."), "info")
            return redirect(url_for("directory.profile", partner_id=partner.id))
        try:
            submit_report(db.session, partner, message=form.message.data or "",
                          reporter_email=form.reporter_email.data or "")
        except Invalid as exc:
            db.session.rollback()
            general = attach_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Vielen Dank für Ihren Hinweis! Die Redaktion prüft den Eintrag."), "info")
            return redirect(url_for("directory.profile", partner_id=partner.id))
    status = 400 if request.method == "POST" else 200
    return render_template("directory/report.html", form=form, partner=partner, general_errors=general), status


_LINK_STATUS = {"invalid": 404, "expired": 410, "used": 410}


@bp.route("/bestaetigen/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET only shows a button; the POST confirms, so that mail scanners following links change nothing."""
    secret = current_app.config["SECRET_KEY"]
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            partner = confirm_by_token(db.session, token, secret)
            db.session.commit()
            return render_template("directory/confirm.html", state="done", partner=partner, form=form)
        partner = partner_from_confirm_token(db.session, token, secret)
    except ConfirmLinkInvalid as exc:
        db.session.rollback()
        return (render_template("directory/confirm.html", state=exc.reason, partner=exc.partner, form=form),
                _LINK_STATUS[exc.reason])
    return render_template("directory/confirm.html", state="ask", partner=partner, form=form)
