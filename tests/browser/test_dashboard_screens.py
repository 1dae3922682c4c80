"""The role dashboard in a real browser: the leading group's information office and a department's
duty officer, on a desktop and on a phone, in Chinese and in English.

The charts must have drawn (Chart.js, served locally), the map must show the region outlines and
the incident markers (inline SVG, no tiles), and the live part must update itself without a
reload: a new incident reported while the page is open appears after one htmx poll (the interval
is shortened to 2 s here through settings.DASHBOARD_POLL_SECONDS). Screenshots of every screen
go to test-artifacts/browser/. Nothing may be fetched from outside this machine.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.incidents.choices import Severity
from tests.browser.conftest import OfflineGuard
from tests.browser.test_portal_login import assert_no_horizontal_scroll
from tests.factories import PASSWORD
from tests.portal.test_dashboard import DYKE_TASK, FIRE, FLOOD, RULE, report, scene

pytestmark = pytest.mark.browser

POLL_SECONDS = 2
DEVICES = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
LOCALES = {"zh-hans": "zh-CN", "en": "en-US"}
NEW_INCIDENT = "玄武湖堤段渗水"

CHART_DRAWN = """id => {
  const canvas = document.getElementById(id);
  const chart = canvas && window.Chart && window.Chart.getChart(canvas);
  if (!chart || !canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) return true; }  // any painted pixel
  return false;
}"""


def log_in(page, user, lang: str):
    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page.locator("#dashboard-live")).to_be_visible()
    page.wait_for_load_state("load")


def wait_for_charts(page, *ids):
    for chart_id in ids:
        page.wait_for_function(CHART_DRAWN, arg=chart_id, timeout=10_000)


def check_map(page, markers: int):
    svg = page.locator("#dashboard-live svg.region-map-svg")
    expect(svg).to_be_visible()
    assert svg.locator("path.region").count() >= 2, "no region outlines drawn"
    expect(svg.locator("a.region-map-marker")).to_have_count(markers)
    box = svg.bounding_box()
    assert box and box["width"] >= 300 and box["height"] >= 200, f"the map is too small to read: {box}"


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize("device", DEVICES)
def test_dashboards_draw_and_update_without_a_reload(live_server, chromium, screenshot, settings, device, lang):
    settings.DASHBOARD_POLL_SECONDS = POLL_SECONDS
    s = scene()
    contexts = []

    def browser_as(user):
        context = chromium.new_context(base_url=live_server.url, locale=LOCALES[lang], **DEVICES[device])
        context.set_default_timeout(10_000)
        guard = OfflineGuard(context)
        contexts.append((context, guard))
        page = guard.watch(context.new_page())
        log_in(page, user, lang)
        return page

    try:
        # Given: the information office of the leading group in charge of the flood
        page = browser_as(s.office_head)
        live = page.locator("#dashboard-live")
        expect(live.locator("#dash-incident-list")).to_contain_text(FLOOD)
        expect(live.locator("#dash-incident-list")).to_contain_text(FIRE)
        expect(live.locator("#dash-alert-list")).to_contain_text(RULE)
        expect(live.locator("#dash-open-incidents")).to_have_text("2")
        wait_for_charts(page, "dash-severity-chart", "dash-tasks-chart")
        check_map(page, markers=2)
        assert_no_horizontal_scroll(page)
        screenshot(page, f"dashboard-command-{device}-{lang}")

        # When: a new incident is reported while the page stays open
        page.evaluate("window.__notReloaded = true")
        report(s.fire_staff, s.fire_nj, NEW_INCIDENT, severity=Severity.IV)

        # Then: after a poll it is on the list, the map and the counts; the charts are drawn again
        expect(live.locator("#dash-incident-list")).to_contain_text(NEW_INCIDENT, timeout=4_000 + 2_000 * POLL_SECONDS)
        expect(page.locator("#dash-open-incidents")).to_have_text("3")
        assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
        check_map(page, markers=3)
        wait_for_charts(page, "dash-severity-chart", "dash-tasks-chart")
        assert page.evaluate("Chart.getChart('dash-severity-chart').data.datasets[0].data") == [1, 1, 0, 1]

        # Given: a duty officer of the fire brigade (a member of the group): its own tasks first
        page = browser_as(s.fire_staff)
        live = page.locator("#dashboard-live")
        expect(live.locator("#dash-inbox-list")).to_contain_text(DYKE_TASK)
        expect(live.locator("#dash-inbox-list li.overdue")).to_have_count(1)
        expect(live.locator("#dash-inbox-overdue")).to_have_text("1")
        wait_for_charts(page, "dash-severity-chart", "dash-tasks-chart")
        check_map(page, markers=3)
        assert_no_horizontal_scroll(page)
        screenshot(page, f"dashboard-department-{device}-{lang}")

        for _context, guard in contexts:
            guard.assert_clean()
    finally:
        for context, _guard in contexts:
            context.close()
