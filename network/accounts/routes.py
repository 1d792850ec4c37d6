"""Login, logout, password reset, and the personal API tokens page."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from network import clock
from network.accounts.forms import ApiTokenForm, ForgotPasswordForm, LoginForm, ResetPasswordForm
from network.accounts.models import ApiToken, User
from network.accounts.service import authenticate, find_user, make_reset_token, user_from_reset_token
from network.audit import record
from network.extensions import db, limiter, login_manager
from network.i18n import safe_next
from network.links import public_url

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


def _failed_login(response) -> bool:
    return response.status_code == 401


@bp.route("/anmelden", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"], deduct_when=_failed_login)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            db.session.commit()
            login_user(user)
            return redirect(safe_next(request.args.get("next"), url_for("admin.dashboard")))
        form.password.errors.append(_("E-Mail-Adresse oder Passwort ist falsch."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("accounts/login.html", form=form), status


@bp.post("/abmelden")
@login_required
def logout():
    logout_user()
    flash(_("Sie sind abgemeldet."), "info")
    return redirect(url_for("directory.index"))


@bp.route("/passwort-vergessen", methods=["GET", "POST"])
@limiter.limit("5 per minute", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = find_user(db.session, form.email.data)
        if user is not None and user.is_active:
            token = make_reset_token(user, current_app.config["SECRET_KEY"])
            link = public_url("accounts.reset_password", token=token)
            mailer = current_app.extensions["partnernetz.mailer"]
            msg = mailer.new_message(
                user.email,
                _("Partnernetz: Passwort zurücksetzen"),
                _("Guten Tag,\n\nüber diesen Link können Sie innerhalb einer Stunde ein neues Passwort setzen:\n\n"
                  "%(link)s\n\nWenn Sie das nicht angefordert haben, ignorieren Sie diese Nachricht.", link=link),
            )
            mailer.send(msg)
        # Same answer either way: the form must not reveal which addresses have accounts.
        flash(_("Wenn es ein Konto zu dieser Adresse gibt, haben wir einen Link zum Zurücksetzen geschickt."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/passwort-zuruecksetzen/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = user_from_reset_token(db.session, token, current_app.config["SECRET_KEY"])
    if user is None:
        flash(_("Der Link ist ungültig oder abgelaufen. Bitte fordern Sie einen neuen an."), "error")
        return redirect(url_for("accounts.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        record(db.session, actor=user, entity=user, action="password_reset", before=None, after=None,
               entity_label=user.email)
        db.session.commit()
        flash(_("Ihr Passwort ist geändert. Bitte melden Sie sich an."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset.html", form=form), (400 if request.method == "POST" else 200)


@bp.route("/konto/tokens", methods=["GET", "POST"])
@login_required
def api_tokens():
    if not current_user.can_create_api_tokens():
        abort(403)
    form = ApiTokenForm()
    new_token = None
    if form.validate_on_submit():
        token, new_token = ApiToken.issue(current_user, form.name.data.strip())
        db.session.add(token)
        db.session.flush()
        record(db.session, actor=current_user, entity=token, action="create", before=None,
               after={"name": token.name, "prefix": token.prefix}, entity_label=token.name)
        db.session.commit()
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                .order_by(ApiToken.created_at.desc())).all()
    status = 400 if request.method == "POST" and new_token is None else 200
    return render_template("accounts/tokens.html", form=form, tokens=tokens, new_token=new_token), status


@bp.post("/konto/tokens/<int:token_id>/widerrufen")
@login_required
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        record(db.session, actor=current_user, entity=token, action="revoke", before=None,
               after={"revoked": True}, entity_label=token.name)
        db.session.commit()
    flash(_("Der Token ist widerrufen."), "info")
    return redirect(url_for("accounts.api_tokens"))
