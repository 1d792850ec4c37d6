"""The initial taxonomy (kinds, regions, topics); after seeding it is data that admins maintain."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from network.directory.models import Kind, Region, Topic

# slug, German name, English name, map colour
KINDS = [
    ("innovationscoach", "Innovationscoach", "Innovation coach", "#d62728"),
    ("technologiescout", "Technologiescout", "Technology scout", "#1f77b4"),
    ("hochschulinstitut", "Hochschulinstitut", "University institute", "#2ca02c"),
    ("kompetenzzentrum", "Kompetenzzentrum Mittelstand 4.0", "SME 4.0 competence centre", "#9467bd"),
    ("innoscheck-fachberater", "InnoScheck-Fachberater", "InnoScheck consultant", "#ff7f0e"),
]

# slug, name, area
REGIONS = [
    ("hagen", "Hagen", "Ruhr"),
    ("dortmund", "Dortmund", "Ruhr"),
    ("bochum", "Bochum", "Ruhr"),
    ("herne", "Herne", "Ruhr"),
    ("ennepe-ruhr-kreis", "Ennepe-Ruhr-Kreis", "Ruhr"),
    ("hochsauerlandkreis", "Hochsauerlandkreis", "Südwestfalen"),
    ("maerkischer-kreis", "Märkischer Kreis", "Südwestfalen"),
    ("olpe", "Olpe", "Südwestfalen"),
    ("siegen-wittgenstein", "Siegen-Wittgenstein", "Südwestfalen"),
    ("soest", "Soest", "Südwestfalen"),
    ("nrw", "NRW-weit", "NRW"),
]

# slug, German name, English name
TOPICS = [
    ("prozessoptimierung", "Prozessoptimierung", "Process optimisation"),
    ("produktentwicklung", "Produktentwicklung", "Product development"),
    ("automatisierung-robotik", "Automatisierung & Robotik", "Automation & robotics"),
    ("it-sicherheit", "IT-Sicherheit", "IT security"),
    ("datenanalyse-ki", "Datenanalyse & KI", "Data analytics & AI"),
    ("cloud-plattformen", "Cloud & Plattformen", "Cloud & platforms"),
    ("additive-fertigung", "Additive Fertigung", "Additive manufacturing"),
    ("e-commerce", "E-Commerce", "E-commerce"),
    ("arbeit-qualifizierung", "Arbeit 4.0 & Qualifizierung", "Work 4.0 & skills"),
    ("foerdermittelberatung", "Fördermittelberatung", "Funding advice"),
]


def ensure_taxonomy(session: Session) -> None:
    """Insert missing kinds, regions and topics; never overwrite what admins renamed."""
    have_kinds = set(session.scalars(select(Kind.slug)))
    for order, (slug, de, en, color) in enumerate(KINDS):
        if slug not in have_kinds:
            session.add(Kind(slug=slug, name_de=de, name_en=en, color=color, sort_order=order))
    have_regions = set(session.scalars(select(Region.slug)))
    for order, (slug, name, area) in enumerate(REGIONS):
        if slug not in have_regions:
            session.add(Region(slug=slug, name=name, area=area, sort_order=order))
    have_topics = set(session.scalars(select(Topic.slug)))
    for order, (slug, de, en) in enumerate(TOPICS):
        if slug not in have_topics:
            session.add(Topic(slug=slug, name_de=de, name_en=en, sort_order=order))
    session.flush()
