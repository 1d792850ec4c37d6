"""Admin views for user accounts: list, create (password or set-password link), edit role, regions, listing, enabled."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from network.accounts.models import ROLES, User
from network.accounts.service import make_reset_token
from network.admin.blueprint import bp
from network.admin.user_accounts import AccountInput, create_account, record_password_link, update_account
from network.directory.models import Region
from network.errors import attach_errors
from network.extensions import db
from network.labels import label
from network.links import public_url
from network.mail import MailError
from network.problems import Invalid


class UserEditForm(FlaskForm):
    # Choices are checked by the service (one set of rules, coded problems), not by WTForms.
    name = StringField(_l("Name"))
    role = SelectField(_l("Rolle"), validate_choice=False)
    regions = SelectMultipleField(_l("Regionen (nur für Redaktionen)"), validate_choice=False,
                                  widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    listing = StringField(_l("Eigener Eintrag, Nummer (nur für Coaches / Scouts)"))
    is_enabled = BooleanField(_l("Konto aktiv (darf sich anmelden)"), default=True)


class UserCreateForm(UserEditForm):
    email = EmailField(_l("E-Mail"))
    password = PasswordField(_l("Anfangspasswort"))
    send_link = BooleanField(_l("Stattdessen einen Link zum Setzen des Passworts per E-Mail schicken"))


def _require_user_admin() -> None:
    if not current_user.can_manage_users():
        abort(403)


def _fill_choices(form: UserEditForm) -> None:
    form.role.choices = [(role, label("role", role)) for role in ROLES]
    regions = db.session.scalars(select(Region).order_by(Region.sort_order, Region.name)).all()
    form.regions.choices = [(str(region.id), region.name) for region in regions]


def _input_from(form: UserEditForm, email: str = "") -> AccountInput:
    raw = form.regions.data or []
    # A tampered value becomes an id no region has, so the service names the field.
    region_ids = [int(value) if str(value).isdigit() else -1 for value in raw]
    return AccountInput(email=email, name=(form.name.data or "").strip(), role=form.role.data or "",
                        region_ids=region_ids, listing=form.listing.data or "", is_enabled=bool(form.is_enabled.data))


def _show_problems(form: FlaskForm, exc: Invalid) -> None:
    # A problem of a field this form does not have comes as a flash message.
    for message in attach_errors(form, exc):
        flash(message, "error")


def _send_password_link(user: User) -> bool:
    """Mail the owner a link to set their password (the reset token); False when the mail could not go out."""
    token = make_reset_token(user, current_app.config["SECRET_KEY"])
    link = public_url("accounts.reset_password", token=token)
    mailer = current_app.extensions["partnernetz.mailer"]
    msg = mailer.new_message(
        user.email,
        _("Partnernetz: Ihr Zugang"),
        _("Guten Tag,\n\nfür Sie gibt es ein Konto im Partnernetz (Rolle: %(role)s).\n\n"
          "Über diesen Link setzen Sie innerhalb einer Stunde Ihr Passwort:\n\n%(link)s\n\n"
          "Danach melden Sie sich mit Ihrer E-Mail-Adresse %(email)s an: %(login)s\n\n"
          "Ist der Link abgelaufen, fordern Sie auf der Anmeldeseite über „Passwort vergessen“ einen neuen an.",
          role=label("role", user.role), link=link, email=user.email,
          login=public_url("accounts.login")),
    )
    try:
        mailer.send(msg)
    except MailError:
        current_app.logger.exception("Set-password mail to user %s failed", user.id)
        return False
    return True


@bp.get("/benutzer")
def users():
    _require_user_admin()
    role = request.args.get("rolle", "")
    query = (request.args.get("q") or "").strip()
    stmt = select(User).options(selectinload(User.regions), selectinload(User.partner))
    if role in ROLES:
        stmt = stmt.where(User.role == role)
    if query:
        pattern = f"%{query.lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(pattern), func.lower(User.name).like(pattern)))
    accounts = db.session.scalars(stmt.order_by(User.role, User.email)).all()
    return render_template("admin/users.html", accounts=accounts, roles=ROLES, role=role, query=query)


@bp.route("/benutzer/neu", methods=["GET", "POST"])
def new_user():
    _require_user_admin()
    form = UserCreateForm()
    _fill_choices(form)
    if form.validate_on_submit():
        data = _input_from(form, email=form.email.data or "")
        try:
            user = create_account(db.session, data, actor=current_user, password=form.password.data or "",
                                  send_link=bool(form.send_link.data))
        except Invalid as exc:
            db.session.rollback()
            _show_problems(form, exc)
        else:
            db.session.commit()
            if form.send_link.data:
                if _send_password_link(user):
                    flash(_("Das Konto %(email)s ist angelegt; der Link zum Setzen des Passworts ist verschickt.",
                            email=user.email), "info")
                else:
                    flash(_("Das Konto %(email)s ist angelegt, aber die E-Mail konnte nicht verschickt werden. "
                            "Bitte versuchen Sie es auf der Kontoseite erneut.", email=user.email), "error")
            else:
                flash(_("Das Konto %(email)s ist angelegt.", email=user.email), "info")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    elif request.method == "GET":
        form.role.data = form.role.data or "coach"
    status = 400 if request.method == "POST" else 200
    return render_template("admin/users_form.html", form=form, account=None), status


@bp.route("/benutzer/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    _require_user_admin()
    account = db.session.get(User, user_id)
    if account is None:
        abort(404)
    if request.method == "GET":
        form = UserEditForm(data={
            "name": account.name,
            "role": account.role,
            "regions": [str(region.id) for region in account.regions],
            "listing": str(account.partner_id) if account.partner_id else "",
            "is_enabled": account.is_enabled,
        })
    else:
        form = UserEditForm()
    _fill_choices(form)
    if form.validate_on_submit():
        try:
            update_account(db.session, account, _input_from(form), actor=current_user)
        except Invalid as exc:
            db.session.rollback()
            _show_problems(form, exc)
        else:
            db.session.commit()
            flash(_("Die Änderungen am Konto %(email)s sind gespeichert.", email=account.email), "info")
            return redirect(url_for("admin.edit_user", user_id=account.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/users_form.html", form=form, account=account), status


@bp.post("/benutzer/<int:user_id>/passwort-link")
def send_password_link(user_id: int):
    _require_user_admin()
    account = db.session.get(User, user_id)
    if account is None:
        abort(404)
    if not account.is_active:
        flash(_("Das Konto ist deaktiviert; ein Link zum Setzen des Passworts würde nicht funktionieren."), "error")
        return redirect(url_for("admin.edit_user", user_id=account.id))
    record_password_link(db.session, account, actor=current_user)
    db.session.commit()
    if _send_password_link(account):
        flash(_("Der Link zum Setzen des Passworts ist an %(email)s verschickt.", email=account.email), "info")
    else:
        flash(_("Die E-Mail an %(email)s konnte nicht verschickt werden.", email=account.email), "error")
    return redirect(url_for("admin.edit_user", user_id=account.id))
