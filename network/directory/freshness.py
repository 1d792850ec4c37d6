"""Freshness of listings: the one staleness rule, confirm-link tokens, and the reminder mails of remind-stale."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from network import clock
from network.accounts.models import User
from network.directory.csvio import LOCAL_TZ
from network.directory.listings import confirm_listing
from network.directory.models import Partner

# A listing nobody confirmed (or saved) for this long is flagged as stale.
STALE_AFTER = timedelta(days=365)
# remind-stale writes to the same listing at most once in this interval.
REMIND_INTERVAL = timedelta(days=30)
CONFIRM_SALT = "partnernetz-confirm"
CONFIRM_MAX_AGE = timedelta(days=30)
CONFIRM_NOTE = "per Bestätigungslink"


def stale_since(now: datetime | None = None) -> datetime:
    """Listings confirmed before this instant are stale."""
    return (now or clock.now()) - STALE_AFTER


def is_stale(partner: Partner, now: datetime | None = None) -> bool:
    """True when the listing was never confirmed or not within STALE_AFTER."""
    confirmed = partner.confirmed_at
    return confirmed is None or confirmed <= stale_since(now)


def stale_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """is_stale as an SQL condition, for list filters (same rule, one definition of the limit)."""
    return or_(Partner.confirmed_at.is_(None), Partner.confirmed_at <= stale_since(now))


# --- confirm links --------------------------------------------------------------------------------


class ConfirmLinkInvalid(Exception):
    """The confirm link cannot be used; .reason is 'invalid', 'expired' or 'used' (.code "confirm_link.<reason>")."""

    def __init__(self, reason: str, partner: Partner | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = f"confirm_link.{reason}"
        self.partner = partner


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=CONFIRM_SALT)


def _stamp(partner: Partner) -> str:
    # In UTC, so a value just set by a caller in another zone gives the stamp the database will give back.
    confirmed = partner.confirmed_at
    return confirmed.astimezone(UTC).isoformat() if confirmed else ""


def make_confirm_token(partner: Partner, secret_key: str) -> str:
    # Bound to the current confirmation: once the listing is confirmed (or saved), the link is spent.
    return _serializer(secret_key).dumps({"pid": partner.id, "c": _stamp(partner)})


def partner_from_confirm_token(session: Session, token: str, secret_key: str,
                               max_age: timedelta = CONFIRM_MAX_AGE) -> Partner:
    """The listing a still-usable link confirms; raises ConfirmLinkInvalid."""
    try:
        data = _serializer(secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise ConfirmLinkInvalid("expired") from None
    except BadSignature:
        raise ConfirmLinkInvalid("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        raise ConfirmLinkInvalid("invalid")
    partner = session.get(Partner, data["pid"])
    if partner is None or partner.is_archived:
        raise ConfirmLinkInvalid("invalid")
    if _stamp(partner) != data.get("c"):
        raise ConfirmLinkInvalid("used", partner)
    return partner


def confirm_by_token(session: Session, token: str, secret_key: str, now: datetime | None = None) -> Partner:
    """Confirm the listing of a valid link (audited as 'System', note 'per Bestätigungslink'); flushes."""
    partner = partner_from_confirm_token(session, token, secret_key)
    confirm_listing(session, partner, actor=None, now=now or clock.now(), note=CONFIRM_NOTE)
    return partner


# --- reminders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """One listing due for a reminder and where the mail goes."""

    partner: Partner
    recipient: str | None


def reminder_recipient(session: Session, partner: Partner) -> str | None:
    """The owner: the active coach account linked to the listing, else the listing's own e-mail, else None."""
    coach = session.scalar(select(User).where(User.partner_id == partner.id, User.role == "coach",
                                              User.is_enabled.is_(True)).order_by(User.id).limit(1))
    if coach is not None and coach.email:
        return coach.email
    return partner.email or None


def due_for_reminder(session: Session, now: datetime | None = None, *, include_demo: bool = False) -> list[Reminder]:
    """Stale, not archived listings not reminded within REMIND_INTERVAL, ordered by id."""
    now = now or clock.now()
    stmt = select(Partner).where(
        Partner.is_archived.is_(False),
        stale_clause(now),
        or_(Partner.reminded_at.is_(None), Partner.reminded_at <= now - REMIND_INTERVAL),
    )
    if not include_demo:
        # Demo listings carry invented addresses; nobody should get mail for them.
        stmt = stmt.where(Partner.is_demo.is_(False))
    partners = session.scalars(stmt.order_by(Partner.id)).all()
    return [Reminder(p, reminder_recipient(session, p)) for p in partners]


def local_date(value: datetime | None) -> str:
    """A day as Germans write it, in the network's time zone ("nie" for never)."""
    return value.astimezone(LOCAL_TZ).strftime("%d.%m.%Y") if value else "nie"


def reminder_text(partner: Partner, link: str, login_link: str, report_link: str) -> tuple[str, str]:
    """Subject and body of the reminder (German: the network's language)."""
    confirmed = partner.confirmed_at
    since = f"zuletzt am {local_date(confirmed)} bestätigt" if confirmed else "noch nie bestätigt"
    # A header must stay one line, whatever the name holds.
    subject = f"Partnernetz: Ist Ihr Eintrag „{' '.join(partner.name.split())}“ noch aktuell?"
    body = (
        "Guten Tag,\n\n"
        f"Ihr Eintrag „{partner.name}“ im Partnernetz wurde {since}.\n\n"
        "Wenn alles noch stimmt, bestätigen Sie ihn bitte über diesen Link "
        f"(gültig {CONFIRM_MAX_AGE.days} Tage; auf der Seite genügt ein Klick):\n\n"
        f"{link}\n\n"
        "Wenn sich etwas geändert hat, melden Sie sich bitte an und bearbeiten Sie den Eintrag:\n"
        f"{login_link}\n\n"
        "Ohne Konto teilen Sie die Änderung der Redaktion Ihrer Region hier mit:\n"
        f"{report_link}\n\n"
        "Ihr Partnernetz\n\n"
        "(Diese Nachricht wurde automatisch versandt; bitte nicht darauf antworten.)"
    )
    return subject, body


def mark_reminded(session: Session, partner: Partner, now: datetime | None = None) -> None:
    partner.reminded_at = now or clock.now()
    session.flush()
