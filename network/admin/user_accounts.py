"""Managing accounts in the admin area: create and change users, with the rules an admin must not break, audited."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from network.accounts.forms import MIN_PASSWORD_LENGTH
from network.accounts.models import ROLES, User
from network.accounts.service import create_user, find_user, normalise_email
from network.audit import record
from network.directory.models import Partner, Region
from network.problems import Invalid, Problem


@dataclass
class AccountInput:
    """What the create and edit forms send, as plain values (strings as typed, region ids, a listing number)."""

    email: str = ""
    name: str = ""
    role: str = "coach"
    region_ids: list[int] = field(default_factory=list)
    listing: str = ""  # the linked listing's number as typed ("17" or "#17"); only coaches keep one
    is_enabled: bool = True


def account_snapshot(user: User) -> dict[str, Any]:
    """The audited fields of an account; the password hash never goes into the log."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "regions": sorted(region.slug for region in user.regions),
        "partner_id": user.partner_id,
        "is_enabled": bool(user.is_enabled),
    }


def _parse_listing(text: str) -> int | None | str:
    text = (text or "").strip().lstrip("#").strip()
    if not text:
        return None
    return int(text) if text.isdigit() else "invalid"


def _check(session: Session, data: AccountInput, *, user: User | None, actor: User | None
           ) -> tuple[list[Problem], list[Region], Partner | None]:
    problems: list[Problem] = []
    role = data.role
    if role not in ROLES:
        problems.append(Problem("role", "role.unknown", {"role": role}))
    if len(data.name) > 200:
        problems.append(Problem("name", "name.too_long", {"max": 200}))

    regions = list(session.scalars(select(Region).where(Region.id.in_(data.region_ids or [-1]))))
    if len(regions) != len(set(data.region_ids)):
        problems.append(Problem("regions", "regions.unknown"))
    # Only an editor's regions and a coach's listing mean anything; other roles keep neither.
    if role != "editor":
        regions = []
    elif not regions and not any(p.field == "regions" for p in problems):
        problems.append(Problem("regions", "regions.missing"))

    partner: Partner | None = None
    if role == "coach":
        number = _parse_listing(data.listing)
        if number is None:
            problems.append(Problem("listing", "listing.missing"))
        elif number == "invalid":
            problems.append(Problem("listing", "listing.invalid"))
        else:
            partner = session.get(Partner, number)
            if partner is None:
                problems.append(Problem("listing", "listing.unknown", {"id": number}))
            else:
                other = session.scalar(select(User).where(User.partner_id == partner.id, User.role == "coach",
                                                          User.id != (user.id if user is not None else -1)))
                if other is not None:
                    problems.append(Problem("listing", "listing.taken", {"id": partner.id, "email": other.email}))

    if user is not None and actor is not None and user.id == actor.id:
        # An admin who demotes or disables themselves may leave the network without anyone to manage users.
        if role != "admin":
            problems.append(Problem("role", "role.self_demotion"))
        if not data.is_enabled:
            problems.append(Problem("is_enabled", "is_enabled.self_disable"))
    return problems, regions, partner


def create_account(session: Session, data: AccountInput, *, actor: User | None, password: str | None,
                   send_link: bool) -> User:
    """Create an account with a password, or with a random one to be replaced through a set-password link.

    Raises Invalid naming the fields; flushes and writes one audit row.
    """
    problems, regions, partner = _check(session, data, user=None, actor=actor)
    email = normalise_email(data.email)
    if not email:
        problems.append(Problem("email", "email.missing"))
    else:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            problems.append(Problem("email", "email.invalid", {"email": email}))
        else:
            if find_user(session, email) is not None:
                problems.append(Problem("email", "email.taken", {"email": email}))
    password = password or ""
    if password and send_link:
        problems.append(Problem("password", "password.and_link"))
    elif not password and not send_link:
        problems.append(Problem("password", "password.missing"))
    elif password and len(password) < MIN_PASSWORD_LENGTH:
        problems.append(Problem("password", "password.too_short", {"min": MIN_PASSWORD_LENGTH}))
    if problems:
        raise Invalid(problems)
    # With a link the account still gets an unguessable password: nobody can log in before the owner sets one.
    user = create_user(session, email, password or secrets.token_urlsafe(32), data.role,
                       name=data.name.strip(), regions=regions, partner=partner)
    user.is_enabled = bool(data.is_enabled)
    session.flush()
    record(session, actor=actor, entity=user, action="create", before=None, after=account_snapshot(user),
           entity_label=user.email,
           note="Link zum Setzen des Passworts verschickt" if send_link else "Passwort von der Administration gesetzt")
    return user


def update_account(session: Session, user: User, data: AccountInput, *, actor: User | None) -> User:
    """Change name, role, regions, linked listing and enabled flag; the e-mail stays. Raises Invalid; flushes."""
    problems, regions, partner = _check(session, data, user=user, actor=actor)
    if problems:
        raise Invalid(problems)
    before = account_snapshot(user)
    user.name = data.name.strip()
    user.role = data.role
    user.regions = regions
    user.partner = partner
    user.is_enabled = bool(data.is_enabled)
    session.flush()
    after = account_snapshot(user)
    if after != before:
        action = "update"
        if before["is_enabled"] != after["is_enabled"]:
            action = "enable" if after["is_enabled"] else "disable"
        record(session, actor=actor, entity=user, action=action, before=before, after=after,
               entity_label=user.email)
    return user


def record_password_link(session: Session, user: User, *, actor: User | None) -> None:
    """Note in the log that a set-password link went out (the link itself is a secret and stays out)."""
    record(session, actor=actor, entity=user, action="password_link", before=None, after=None,
           entity_label=user.email, note="Link zum Setzen des Passworts verschickt")
