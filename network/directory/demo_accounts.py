"""Demo accounts that go with the demo listings: one admin, one regional editor, one coach."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from network.accounts.models import User
from network.directory.models import Partner, Region

# Demo data only: these credentials are printed by `make run` and documented in the README.
DEMO_PASSWORD = "partnernetz-demo"
DEMO_ADMIN_EMAIL = "admin@demo.partnernetz.example"
DEMO_EDITOR_EMAIL = "redaktion.dortmund@demo.partnernetz.example"
DEMO_COACH_EMAIL = "coach@demo.partnernetz.example"


def seed_demo_users(session: Session, now: datetime | None = None) -> int:
    """Create the demo accounts that do not exist yet; returns how many were created. Flushes."""
    created = 0
    existing = set(session.scalars(select(User.email)))

    def add(email: str, name: str, role: str, regions=(), partner=None) -> None:
        nonlocal created
        if email in existing:
            return
        user = User(email=email, name=name, role=role, regions=list(regions), partner=partner)
        user.set_password(DEMO_PASSWORD)
        session.add(user)
        created += 1

    dortmund = session.scalar(select(Region).where(Region.slug == "dortmund"))
    coach_listing = session.scalar(
        select(Partner).join(Partner.region).where(Region.slug == "dortmund", Partner.is_demo.is_(True),
                                                   Partner.is_archived.is_(False)).order_by(Partner.id).limit(1))
    add(DEMO_ADMIN_EMAIL, "Demo-Administration", "admin")
    if dortmund is not None:
        add(DEMO_EDITOR_EMAIL, "Demo-Redaktion Dortmund", "editor", regions=[dortmund])
    if coach_listing is not None:
        add(DEMO_COACH_EMAIL, coach_listing.name, "coach", partner=coach_listing)
    session.flush()
    return created


def demo_login_hint(session: Session) -> str | None:
    """How to log in with the demo accounts, if they exist (demo data only)."""
    if session.scalar(select(User.id).where(User.email == DEMO_ADMIN_EMAIL)) is None:
        return None
    return (f"Demo-Anmeldung unter /anmelden (nur Demo-Daten!): {DEMO_ADMIN_EMAIL} (Admin), "
            f"{DEMO_EDITOR_EMAIL} (Redaktion Dortmund), {DEMO_COACH_EMAIL} (Coach) – Passwort: {DEMO_PASSWORD}")
