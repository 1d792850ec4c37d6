"""Headless Chromium (Debian's package, driven by Playwright) against the real app on loopback."""
from __future__ import annotations

from datetime import UTC
from urllib.parse import urlsplit

import pytest

from network.directory.demo import XSS_DEMO_NAME, seed_demo
from network.extensions import db

pytestmark = pytest.mark.slow


def test_map_page_for_58332_shows_markers_list_and_popups_without_leaving_the_host(live_server, browser_page):
    seed_demo(db.session)
    db.session.commit()

    page = browser_page
    requests: list[str] = []
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)

    page.goto(f"{live_server}/karte?near=58332&radius_km=25", wait_until="networkidle")

    # The list (rendered server-side) carries the results, the XSS partner as plain text.
    page.locator("details.map-list summary").click()
    items = page.locator(".result-list .result")
    assert items.count() > 3
    assert page.locator(".result-list").get_by_text(XSS_DEMO_NAME, exact=True).count() == 1

    # Markers are built in the browser: clusters and/or circle markers appear.
    page.wait_for_selector(".marker-cluster, path.pn-marker", timeout=10000)
    assert page.locator(".leaflet-marker-pane .marker-cluster, path.pn-marker").count() > 0

    # Open the XSS partner's popup: zoom to its marker through the map's own API is not
    # available from outside, so click clusters until its marker is on the map.
    xss_id = page.locator(".result-list .result", has_text=XSS_DEMO_NAME).get_attribute("data-partner-id")
    marker = page.locator(f'path.pn-marker[data-partner-id="{xss_id}"]')
    for _ in range(12):
        if marker.count() and marker.get_attribute("d") not in (None, "M0 0"):
            break
        # Zoom in around the searched place (Schwelm), where the XSS partner sits.
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(400)
    # The searched-place pin may sit on top of the marker; dispatch the click to the marker itself.
    marker.dispatch_event("click")
    popup = page.locator(f'.pn-popup[data-partner-id="{xss_id}"]')
    popup.wait_for(timeout=5000)
    assert popup.locator(".pn-popup-name").inner_text() == XSS_DEMO_NAME
    assert popup.locator("a.pn-popup-link").get_attribute("href") == f"/partner/{xss_id}"
    assert page.locator("img[src='x']").count() == 0

    hosts = {urlsplit(url).netloc for url in requests if not url.startswith("data:")}
    assert hosts == {urlsplit(live_server).netloc}, hosts
    assert errors == []
    assert dialogs == []


def test_list_and_profile_work_without_javascript_and_by_keyboard(live_server, chromium):
    seed_demo(db.session)
    db.session.commit()
    context = chromium.new_context(java_script_enabled=False, locale="de-DE")
    page = context.new_page()
    page.goto(f"{live_server}/")
    page.fill("#near", "Schwelm")
    page.select_option("#topic", "prozessoptimierung")
    page.press("#near", "Enter")
    page.wait_for_url("**near=Schwelm**")
    first = page.locator(".result-list .result h3 a").first
    name = first.inner_text()
    first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/partner/**")
    assert page.locator("h1").inner_text() == name
    assert page.locator(".profile dl.details").is_visible()
    context.close()


def test_a_new_visit_length_swaps_in_the_servers_slots_without_leaving_the_page(live_server, browser_page, make_coach,
                                                                                set_clock):
    from datetime import datetime

    set_clock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    partner, _user = make_coach()
    page = browser_page
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def offered() -> list[str]:
        return page.locator("[data-sched-slots] input[name=start]").evaluate_all("els => els.map(e => e.value)")

    page.goto(f"{live_server}/partner/{partner.id}/termin", wait_until="networkidle")
    one_hour = offered()
    page.evaluate("window.__samePage = true")
    page.select_option("[data-sched-filter] select[name=duration]", "120")
    page.locator("[data-sched-minutes]", has_text="120").wait_for()
    two_hours = offered()
    assert page.evaluate("window.__samePage") is True  # swapped in place, no reload
    assert page.input_value("form.sched-request input[name=duration]") == "120"
    assert two_hours and two_hours != one_hour
    assert any(f"/partner/{partner.id}/termin?" in url and "duration=120" in url for url in requests)
    assert not any("/api/" in url for url in requests)
    # Exactly what the server renders for that length without script.
    page.goto(f"{live_server}/partner/{partner.id}/termin?duration=120", wait_until="networkidle")
    assert offered() == two_hours
    assert errors == []
