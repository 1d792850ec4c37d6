"""User accounts with roles (admin, editor, coach), the regions an editor maintains, and personal API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from network import clock
from network.audit import register_actions
from network.dbutil import UTCDateTime, state_type
from network.extensions import db

if TYPE_CHECKING:
    from network.directory.models import Partner, Region


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    COACH = "coach"


# The roles as plain strings, in order (select boxes, click choices, membership tests).
ROLES = tuple(member.value for member in Role)


class AccountAction(StrEnum):
    """Account audit actions beyond the core's (create, update)."""

    ENABLE = "enable"
    DISABLE = "disable"
    REVOKE = "revoke"  # an API token
    PASSWORD_RESET = "password_reset"
    PASSWORD_LINK = "password_link"


register_actions(AccountAction)

user_regions = Table(
    "user_regions",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("region_id", Integer, ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    """Someone who logs in: a network admin, a regional editor or a coach/scout with their own listing."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    role: Mapped[Role] = mapped_column(state_type(Role, "role"), default=Role.COACH)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    partner: Mapped[Partner | None] = relationship(foreign_keys=[partner_id])
    regions: Mapped[list[Region]] = relationship(secondary=user_regions)
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    # Flask-Login asks is_active; a disabled account cannot log in or use tokens.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.is_enabled)

    def set_password(self, password: str) -> None:
        # Werkzeug's default is scrypt with a per-password salt.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_editor(self) -> bool:
        return self.role == "editor"

    @property
    def is_coach(self) -> bool:
        return self.role == "coach"

    @property
    def region_ids(self) -> set[int]:
        return {region.id for region in self.regions}

    # Per-object permissions: every route asks the object's question with the user.
    def can_edit_partner(self, partner: Partner) -> bool:
        if not self.is_active:
            return False
        if self.is_admin:
            return True
        if self.is_editor:
            return partner.region_id in self.region_ids
        return self.is_coach and self.partner_id is not None and partner.id == self.partner_id

    def can_create_partner_in(self, region_id: int | None) -> bool:
        if not self.is_active:
            return False
        return self.is_admin or (self.is_editor and region_id in self.region_ids)

    def can_archive_partner(self, partner: Partner) -> bool:
        return self.is_active and (self.is_admin or (self.is_editor and partner.region_id in self.region_ids))

    def can_moderate_region(self, region_id: int | None) -> bool:
        if not self.is_active:
            return False
        return self.is_admin or (self.is_editor and region_id in self.region_ids)

    def can_manage_users(self) -> bool:
        return self.is_active and self.is_admin

    def can_use_admin(self) -> bool:
        return self.is_active and self.role in ROLES

    def can_create_api_tokens(self) -> bool:
        return self.is_active and self.role in (Role.ADMIN, Role.EDITOR)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


def hash_token(token: str) -> str:
    """Tokens are random (256 bits), so a fast hash is enough: nobody can guess their way to a preimage."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """A personal API token; only its hash is stored, the token is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """Create a token for user; returns the row and the plain token (shown once, never stored)."""
        plain = "pn_" + secrets.token_urlsafe(32)
        token = cls(user=user, name=name, token_hash=hash_token(plain), prefix=plain[:10])
        return token, plain

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… user={self.user_id}>"
