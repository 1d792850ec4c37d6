"""The audit log list: who sees which rows, filters, pagination, before → after, and escaping."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from conftest import csrf_from
from network.audit import AuditEntry, record
from network.directory.demo import XSS_DEMO_NAME
from network.directory.listings import update_listing
from network.directory.models import partner_snapshot
from network.extensions import db


def _rows(html: str) -> int:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>")


def _entry(actor, partner, action: str = "update", when: datetime | None = None, note: str = "",
           before: dict | None = None, after: dict | None = None) -> AuditEntry:
    entry = record(db.session, actor=actor, entity=partner, action=action, before=before or {"phone": "1"},
                   after=after or {"phone": "2"}, note=note)
    if when is not None:
        entry.created_at = when
    db.session.commit()
    return entry


@pytest.fixture()
def world(make_partner, make_user):
    dortmund = make_partner(name="Eintrag Dortmund", region="dortmund")
    bochum = make_partner(name="Eintrag Bochum", region="bochum")
    admin = make_user("admin", name="Anna Admin")
    editor = make_user("editor", regions=["dortmund"], name="Erik Redaktion")
    coach = make_user("coach", partner=dortmund, name="Coach Dortmund")
    return {"dortmund": dortmund, "bochum": bochum, "admin": admin, "editor": editor, "coach": coach}


def test_admin_sees_everything_with_before_and_after(client, login, world):
    _entry(world["admin"], world["dortmund"], before={"phone": "0231 1"}, after={"phone": "0231 2"})
    _entry(world["admin"], world["bochum"], action="archive", before={"is_archived": False},
           after={"is_archived": True})
    _entry(None, world["dortmund"], action="confirm", note="per Bestätigungslink")
    login(world["admin"])
    response = client.get("/admin/protokoll")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _rows(html) == 3
    assert "Eintrag Dortmund" in html and "Eintrag Bochum" in html
    assert "0231 1" in html and "0231 2" in html and "→" in html
    assert "archiviert" in html and "per Bestätigungslink" in html and "System" in html


def test_editor_sees_own_regions_and_own_actions_only(client, login, world, make_partner):
    elsewhere = make_partner(name="Eintrag Hagen", region="hagen")
    _entry(world["admin"], world["dortmund"], note="admin-dortmund")
    _entry(world["admin"], world["bochum"], note="admin-bochum")
    _entry(world["editor"], elsewhere, note="editor-hagen")  # e.g. done before the region was taken away
    _entry(world["admin"], world["editor"], action="update", note="admin-user-change")
    login(world["editor"])
    html = client.get("/admin/protokoll").get_data(as_text=True)
    assert "admin-dortmund" in html and "editor-hagen" in html
    assert "admin-bochum" not in html and "admin-user-change" not in html
    # Filtering for another region's listing shows nothing rather than leaking it.
    html = client.get(f"/admin/protokoll?partner={world['bochum'].id}").get_data(as_text=True)
    assert _rows(html) == 1 and "Keine Einträge" in html


def test_coaches_and_anonymous_users_cannot_open_the_list(client, login, world):
    assert client.get("/admin/protokoll").status_code == 302
    login(world["coach"])
    assert client.get("/admin/protokoll").status_code == 403


def test_filters(client, login, world):
    jan = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
    feb = datetime(2025, 2, 15, 10, 0, tzinfo=UTC)
    # 23:30 UTC on 31 March is 1 April in Berlin: the day filter goes by the local calendar.
    late = datetime(2025, 3, 31, 23, 30, tzinfo=UTC)
    _entry(world["admin"], world["dortmund"], when=jan, note="jan-update")
    _entry(world["editor"], world["dortmund"], action="archive", when=feb, note="feb-archive")
    _entry(None, world["bochum"], action="confirm", when=late, note="april-confirm")
    record(db.session, actor=world["admin"], entity=world["editor"], action="update", before={"role": "coach"},
           after={"role": "editor"}, note="user-row")
    db.session.commit()
    login(world["admin"])

    def notes(query: str) -> set[str]:
        response = client.get("/admin/protokoll?" + query)
        assert response.status_code == 200, query
        html = response.get_data(as_text=True)
        return {n for n in ("jan-update", "feb-archive", "april-confirm", "user-row") if n in html}

    assert notes("") == {"jan-update", "feb-archive", "april-confirm", "user-row"}
    assert notes("entity=users") == {"user-row"}
    assert notes("entity=partners") == {"jan-update", "feb-archive", "april-confirm"}
    assert notes("action=archive") == {"feb-archive"}
    assert notes(f"actor={world['editor'].id}") == {"feb-archive"}
    assert notes("actor=system") == {"april-confirm"}
    assert notes(f"partner={world['dortmund'].id}") == {"jan-update", "feb-archive"}
    assert notes("date_from=2025-02-01&date_to=2025-03-31") == {"feb-archive"}
    assert notes("date_from=2025-04-01&date_to=2025-04-01") == {"april-confirm"}
    assert notes("date_to=2025-01-31") == {"jan-update"}
    html = client.get("/admin/protokoll").get_data(as_text=True)
    assert "Erik Redaktion" in html  # offered as an actor in the filter menu


def test_invalid_filters_get_a_german_message(client, login, world):
    login(world["admin"])
    response = client.get("/admin/protokoll?date_from=31.02.2025&partner=abc&date_to=")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "„31.02.2025“ ist kein Datum (erwartet JJJJ-MM-TT)." in html
    assert "Bitte eine Eintragsnummer angeben (nur Ziffern)." in html
    response = client.get("/admin/protokoll?date_from=2025-03-01&date_to=2025-02-01")
    assert response.status_code == 400 and "Das Ende liegt vor dem Anfang." in response.get_data(as_text=True)


def test_pagination(client, login, world):
    for i in range(120):
        record(db.session, actor=world["admin"], entity=world["dortmund"], action="update",
               before={"phone": str(i)}, after={"phone": str(i + 1)})
    db.session.commit()
    login(world["admin"])
    first = client.get("/admin/protokoll?action=update").get_data(as_text=True)
    assert _rows(first) == 50 and "Seite 1 von 3" in first and "page=2" in first and "action=update" in first
    last = client.get("/admin/protokoll?action=update&page=3").get_data(as_text=True)
    assert _rows(last) == 20
    beyond = client.get("/admin/protokoll?page=9")
    assert beyond.status_code == 200 and "Keine Einträge" in beyond.get_data(as_text=True)


def test_xss_name_renders_as_text(client, login, world, app):
    partner = world["dortmund"]
    with app.test_request_context():
        update_listing(db.session, partner, {"name": XSS_DEMO_NAME, "description": "<script>alert(3)</script>"},
                       None, actor=world["admin"])
    db.session.commit()
    login(world["admin"])
    html = client.get("/admin/protokoll").get_data(as_text=True)
    assert XSS_DEMO_NAME not in html and "<script>alert(3)</script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
    assert entry.changes["name"][1] == XSS_DEMO_NAME
    assert partner_snapshot(partner)["name"] == XSS_DEMO_NAME


def test_logout_form_still_works_on_the_page(client, login, world):
    login(world["editor"])
    html = client.get("/admin/protokoll").get_data(as_text=True)
    assert client.post("/abmelden", data={"csrf_token": csrf_from(html)}).status_code == 302
