"""Login and password forms (Flask-WTF: CSRF token included)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

MIN_PASSWORD_LENGTH = 10


class LoginForm(FlaskForm):
    email = EmailField(_l("E-Mail"), validators=[DataRequired(_l("Bitte geben Sie Ihre E-Mail-Adresse ein."))])
    password = PasswordField(_l("Passwort"), validators=[DataRequired(_l("Bitte geben Sie Ihr Passwort ein."))])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-Mail"), validators=[
        DataRequired(_l("Bitte geben Sie Ihre E-Mail-Adresse ein.")),
        Email(_l("Bitte geben Sie eine gültige E-Mail-Adresse ein.")),
    ])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("Neues Passwort"), validators=[
        DataRequired(_l("Bitte geben Sie ein Passwort ein.")),
        Length(min=MIN_PASSWORD_LENGTH, max=200,
               message=_l("Das Passwort muss mindestens %(min)d Zeichen lang sein.", min=MIN_PASSWORD_LENGTH)),
    ])
    confirm = PasswordField(_l("Passwort wiederholen"), validators=[
        EqualTo("password", _l("Die beiden Passwörter stimmen nicht überein.")),
    ])


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Bezeichnung"), validators=[
        DataRequired(_l("Bitte geben Sie eine Bezeichnung ein.")),
        Length(max=100, message=_l("Höchstens %(max)d Zeichen.", max=100)),
    ])
