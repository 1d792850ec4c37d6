"""Account services: authentication, password reset tokens, user creation, API token lookup."""
from __future__ import annotations

from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from network import clock
from network.accounts.forms import MIN_PASSWORD_LENGTH
from network.accounts.models import ROLES, ApiToken, User, hash_token
from network.problems import Invalid

RESET_MAX_AGE_SECONDS = 3600
RESET_SALT = "partnernetz-password-reset"


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def authenticate(session: Session, email: str, password: str, now: datetime | None = None) -> User | None:
    """The active user with this e-mail and password, or None (same answer for unknown e-mail and wrong password)."""
    user = find_user(session, email)
    if user is None or not user.is_active or not user.check_password(password):
        return None
    user.last_login_at = now or clock.now()
    return user


def create_user(session: Session, email: str, password: str, role: str, name: str = "",
                regions=(), partner=None) -> User:
    """Create an account; raises Invalid naming the field; flushes."""
    email = normalise_email(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise Invalid.one("email", "email.invalid", email=email) from None
    if role not in ROLES:
        raise Invalid.one("role", "role.unknown", role=role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.one("password", "password.too_short", min=MIN_PASSWORD_LENGTH)
    if find_user(session, email) is not None:
        raise Invalid.one("email", "email.taken", email=email)
    user = User(email=email, name=name, role=role, regions=list(regions), partner=partner)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=RESET_SALT)


def make_reset_token(user: User, secret_key: str) -> str:
    # Part of the current hash goes into the token: once the password changes, the link is dead.
    return _serializer(secret_key).dumps({"uid": user.id, "h": user.password_hash[-12:]})


def user_from_reset_token(session: Session, token: str, secret_key: str,
                          max_age: int = RESET_MAX_AGE_SECONDS) -> User | None:
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    user = session.get(User, data.get("uid")) if isinstance(data, dict) else None
    if user is None or not user.is_active or user.password_hash[-12:] != data.get("h"):
        return None
    return user


def user_from_api_token(session: Session, plain: str, now: datetime | None = None) -> User | None:
    """The active owner of a valid, unrevoked token (and mark it used), or None."""
    if not plain:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or token.is_revoked or not token.user.is_active or not token.user.can_create_api_tokens():
        return None
    token.last_used_at = now or clock.now()
    return token.user
