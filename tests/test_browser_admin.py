"""Headless Chromium: a regional editor edits a listing, drags its marker, sees the change in public and in the log."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conftest import browser_log_in
from network.directory.models import Partner
from network.extensions import db

pytestmark = pytest.mark.slow

DORTMUND = dict(region="dortmund", street="Kampstraße 1", postcode="44137", city="Dortmund",
                latitude=51.5139, longitude=7.4653, phone="0231 100")


class Watch:
    """Everything the page requests, every JS error and dialog."""

    def __init__(self, page) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requests if not url.startswith(("data:", "blob:"))}


def test_editor_edits_phone_drags_marker_and_sees_it_public_and_in_the_log(
        live_server, chromium, make_partner, make_user):
    partner = make_partner(name="Dora Dortmund", **DORTMUND)
    editor = make_user("editor", regions=["dortmund"], name="Erika Redaktion")
    context = chromium.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)

    browser_log_in(page, live_server, editor.email)
    page.click("text=Einträge pflegen")
    page.wait_for_url("**/admin/eintraege")
    page.click(f"tr[data-partner-id='{partner.id}'] a.listing-name")
    page.wait_for_url(f"**/admin/eintraege/{partner.id}")

    # The small map shows the listing's point; no tiles in tests (MAP_TILES = "none").
    marker = page.locator("#listing-map .leaflet-marker-icon")
    marker.wait_for(timeout=10000)
    assert page.locator("#listing-map .leaflet-tile").count() == 0
    assert page.input_value("#field-latitude") == "51.5139"

    page.fill("#field-phone", "0231 98765-0")

    # Drag the marker right and down: east and south.
    marker.scroll_into_view_if_needed()
    box = marker.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 20, y + 10, steps=5)
    page.mouse.move(x + 60, y + 40, steps=10)
    page.mouse.up()
    lat, lon = float(page.input_value("#field-latitude")), float(page.input_value("#field-longitude"))
    assert lat < 51.5139 - 0.0005, lat
    assert lon > 7.4653 + 0.0005, lon
    assert abs(lat - 51.5139) < 0.05 and abs(lon - 7.4653) < 0.05  # a correction, not a jump

    page.click("form.listing-form button[type=submit]")
    page.wait_for_url(f"**/admin/eintraege/{partner.id}")
    assert page.locator(".flash", has_text="Gespeichert.").count() == 1
    assert page.input_value("#field-phone") == "0231 98765-0"
    assert float(page.input_value("#field-latitude")) == lat

    db.session.rollback()  # end this thread's read snapshot: the server wrote in its own session
    saved = db.session.get(Partner, partner.id)
    assert saved.phone == "0231 98765-0"
    assert (saved.latitude, saved.longitude) == (lat, lon)

    # The public directory: the profile shows the phone, the API the new point.
    page.goto(f"{live_server}/partner/{partner.id}")
    assert page.locator(".profile dd", has_text="0231 98765-0").count() == 1
    features = page.request.get(f"{live_server}/api/partners?per_page=1000").json()["features"]
    feature = next(f for f in features if f["id"] == partner.id)
    assert feature["geometry"]["coordinates"] == [lon, lat]

    # The audit log of the listing: who, and phone and position before → after.
    page.goto(f"{live_server}/admin/eintraege/{partner.id}/verlauf")
    entry = page.locator(".history-entry").first
    assert "Erika Redaktion" in entry.locator(".history-actor").inner_text()
    phone = entry.locator("tr[data-field='phone']")
    assert phone.locator("td.before").inner_text() == "0231 100"
    assert phone.locator("td.after").inner_text() == "0231 98765-0"
    latitude = entry.locator("tr[data-field='latitude']")
    assert latitude.locator("td.before").inner_text() == "51.5139"
    assert float(latitude.locator("td.after").inner_text()) == lat
    assert entry.locator("tr[data-field='longitude']").count() == 1

    assert watch.hosts() == {urlsplit(live_server).netloc}, watch.hosts()
    assert watch.errors == []
    assert watch.dialogs == []
    context.close()


def test_without_javascript_the_coordinates_are_typed(live_server, chromium, make_partner, make_user):
    partner = make_partner(name="Dora Dortmund", **DORTMUND)
    editor = make_user("editor", regions=["dortmund"])
    context = chromium.new_context(locale="de-DE", java_script_enabled=False)
    page = context.new_page()
    browser_log_in(page, live_server, editor.email)
    page.goto(f"{live_server}/admin/eintraege/{partner.id}")
    assert not page.locator("#listing-map").is_visible()  # no empty map box without JavaScript
    page.fill("#field-latitude", "51,52")
    page.fill("#field-longitude", "7,47")
    page.click("form.listing-form button[type=submit]")
    page.wait_for_url(f"**/admin/eintraege/{partner.id}")
    db.session.rollback()  # end this thread's read snapshot: the server wrote in its own session
    saved = db.session.get(Partner, partner.id)
    assert (saved.latitude, saved.longitude) == (51.52, 7.47)
    context.close()
