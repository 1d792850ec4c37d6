"""Demo data (core registry): each domain registers a loader; `seed-demo` runs them after the demo listings."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

# A loader adds its domain's demo rows for the demo listings that exist now (idempotent); it flushes.
DemoLoader = Callable[[Session, datetime], object]

DEMO_LOADERS: dict[str, DemoLoader] = {}


def register_demo(name: str, loader: DemoLoader) -> None:
    """Add loader under name; domains register lowest first, so loaders run in layer order."""
    DEMO_LOADERS[name] = loader


def run_demo_loaders(session: Session, now: datetime) -> None:
    for loader in DEMO_LOADERS.values():
        loader(session, now)
