"""An incident from first report to command, in a real browser, on a desktop and on a phone.

A duty officer of a county emergency-management department reports a flood, finds it in the list
and on its page with the first timeline entry; the head of the city's emergency-management
department (the region above) verifies it, which activates the flood plan, and raises the
severity. The pages are Chinese (the browser asks for zh-CN); fields are found by name and buttons
by their translated labels. Nothing may be fetched from outside this machine.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.incidents.choices import Category, Severity, Subtype
from apps.incidents.models import Incident, PlanTaskTemplate, ResponsePlan
from apps.organizations.choices import DepartmentType, RegionLevel
from tests.browser.conftest import OfflineGuard
from tests.browser.test_portal_login import DEVICES, zh
from tests.browser.test_portal_login import assert_no_horizontal_scroll as _no_horizontal_scroll
from tests.factories import PASSWORD, department, member, region

pytestmark = pytest.mark.browser

TITLE = "东河县城东堤管涌险情"


def scene():
    province = region(name="江淮省")
    city = region(parent=province, name="东河市")
    county = region(parent=city, name="东河县", level=RegionLevel.COUNTY)
    county_ema = department(region=county, name="东河县应急管理局")
    department(region=county, name="东河县消防救援大队", type=DepartmentType.FIRE)
    city_ema = department(region=city, name="东河市应急管理局")
    plan = ResponsePlan.objects.create(
        name="防汛Ⅲ级应急响应预案",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        lead_department_type=DepartmentType.EMERGENCY,
    )
    PlanTaskTemplate.objects.create(
        plan=plan, title="抢险救援力量前置", target_department_type=DepartmentType.FIRE, deadline_minutes=60
    )
    officer = member(county_ema, Role.STAFF, display_name="值班员")
    head = member(city_ema, Role.HEAD, display_name="市应急局局长")
    return county, officer, head


def assert_no_horizontal_scroll(page):
    # a click returns once the next page's DOM is there; measure once its stylesheet has applied
    page.wait_for_load_state("load")
    _no_horizontal_scroll(page)


def log_in(page, user):
    page.goto("/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name=zh("Log in"), exact=True).click()
    expect(page.locator("main h1")).to_have_text(zh("Dashboard"))


@pytest.mark.parametrize("device", DEVICES)
def test_a_duty_officer_reports_and_the_head_above_commands(live_server, chromium, screenshot, device):
    county, officer, head = scene()
    first_seen = timezone.localtime(timezone.now() - timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M")
    contexts = []

    def browser_as(user):
        context = chromium.new_context(base_url=live_server.url, locale="zh-CN", **DEVICES[device])
        context.set_default_timeout(10_000)
        contexts.append((context, OfflineGuard(context)))
        page = contexts[-1][1].watch(context.new_page())
        log_in(page, user)
        return page

    try:
        # Given: the duty officer, logged in
        page = browser_as(officer)
        heading = page.locator("main h1")

        # When: they open the incident list from the navigation and start a report
        page.get_by_role("navigation").get_by_role("link", name=zh("Incidents"), exact=True).click()
        expect(heading).to_have_text(zh("Incidents"))
        page.get_by_role("link", name=zh("Report an incident"), exact=True).click()
        expect(heading).to_have_text(zh("Report an incident"))
        assert_no_horizontal_scroll(page)

        # Then: their department is preselected; they fill in the report
        expect(page.locator("select[name=department] option:checked")).to_have_text("东河县应急管理局")
        page.locator("[name=title]").fill(TITLE)
        page.locator("select[name=category]").select_option(Category.NATURAL_DISASTER)
        page.locator("select[name=subtype]").select_option(Subtype.FLOOD)
        page.locator("select[name=severity]").select_option(str(Severity.III))
        page.locator("[name=place]").fill("东河县城东堤 K12+300")
        page.locator("[name=latitude]").fill("31.862")
        page.locator("[name=longitude]").fill("117.284")
        page.locator("[name=first_seen_at]").fill(first_seen)
        page.locator("select[name=regions]").select_option(str(county.pk))
        page.locator("[name=description]").fill("堤脚出现管涌，直径约 0.3 米，已组织巡堤人员值守。")
        assert_no_horizontal_scroll(page)
        screenshot(page, f"incident-{device}-1-report-form")
        page.get_by_role("button", name=zh("Submit the report"), exact=True).click()

        # Then: the new incident's page, with the first timeline entry and its clocks
        expect(heading).to_have_text(TITLE)
        incident = Incident.objects.get(title=TITLE)
        expect(page).to_have_url(f"{live_server.url}/incidents/{incident.pk}/")
        expect(page.locator(".messages")).to_contain_text(TITLE)
        timeline = page.locator("ol.timeline li")
        expect(timeline).to_have_count(1)
        expect(timeline.first).to_contain_text(zh("Incident reported"))
        expect(timeline.first).to_contain_text("东河县应急管理局")
        expect(page.locator(".badge.sev-3").first).to_be_visible()
        expect(page.locator(".command")).to_have_count(0)  # staff do not command
        assert_no_horizontal_scroll(page)
        screenshot(page, f"incident-{device}-2-detail-reported")

        # And: the incident is in the list, with its severity badge
        page.get_by_role("navigation").get_by_role("link", name=zh("Incidents"), exact=True).click()
        row = page.locator("table.incidents tbody tr", has_text=TITLE)
        expect(row).to_have_count(1)
        expect(row.locator(".badge.sev-3")).to_be_visible()
        assert_no_horizontal_scroll(page)
        screenshot(page, f"incident-{device}-3-list")

        # When: the emergency head of the city above opens it and verifies it
        page = browser_as(head)
        heading = page.locator("main h1")
        page.goto(f"/incidents/{incident.pk}/")
        expect(heading).to_have_text(TITLE)
        page.get_by_role("button", name=zh("Verify the incident"), exact=True).click()

        # Then: verified, the flood plan activated with a dispatch to the county's fire brigade
        expect(page.locator(".messages")).to_contain_text(
            zh("Incident verified; matching response plans are activated.")
        )
        expect(page.locator(".pagehead .badges")).to_contain_text(zh("Verified"))
        expect(page.get_by_text("防汛Ⅲ级应急响应预案").first).to_be_visible()
        expect(page.locator("ul.dispatches")).to_contain_text("抢险救援力量前置 → 东河县消防救援大队")

        # When: they raise the severity to II, with a reason
        severity = page.locator("form[action$='/severity/']")
        severity.locator("select[name=severity]").select_option(str(Severity.II))
        severity.locator("[name=reason]").fill("东堤第二处管涌，险情扩大")
        severity.get_by_role("button", name=zh("Change severity"), exact=True).click()

        # Then: severity II on the page and in the timeline, which now holds four entries in order
        expect(page.locator(".messages")).to_contain_text(zh("Severity changed."))
        expect(page.locator(".pagehead .badge.sev-2")).to_be_visible()
        kinds = page.locator("ol.timeline li .kind")
        expect(kinds).to_have_text(
            [zh("Incident reported"), zh("Status changed"), zh("Response plan activated"), zh("Severity changed")]
        )
        expect(page.locator("ol.timeline li").last).to_contain_text("东堤第二处管涌，险情扩大")
        expect(page.locator("ol.timeline a.seq")).to_have_count(4)  # heads follow each entry to the ledger
        assert_no_horizontal_scroll(page)
        screenshot(page, f"incident-{device}-4-detail-commanded")

        incident.refresh_from_db()
        assert (incident.status, incident.severity) == ("verified", Severity.II)
        for _context, guard in contexts:
            guard.assert_clean()
    finally:
        for context, _guard in contexts:
            context.close()


def test_the_report_form_keeps_the_input_and_shows_the_services_message(live_server, chromium):
    """A sub-type of another category comes back from the server, in Chinese, on its field."""
    _county, officer, _head = scene()
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN")
    context.set_default_timeout(10_000)
    guard = OfflineGuard(context)
    page = guard.watch(context.new_page())
    try:
        log_in(page, officer)
        page.goto("/incidents/new/")
        page.locator("[name=title]").fill(TITLE)
        page.locator("select[name=category]").select_option(Category.ACCIDENT)
        page.locator("select[name=subtype]").select_option(Subtype.FLOOD)
        page.locator("select[name=severity]").select_option(str(Severity.IV))
        page.locator("[name=place]").fill("东堤")
        page.get_by_role("button", name=zh("Submit the report"), exact=True).click()

        error = page.locator(".field.invalid .error")
        expect(error).to_have_text(zh("This sub-type does not belong to the category."))
        expect(page.locator("[name=title]")).to_have_value(TITLE)
        assert not Incident.objects.exists()
        # the 400 is the refused form, not a failed asset
        assert guard.failed and all(re.search(r"^400 .*/incidents/new/$", f) for f in guard.failed), guard.failed
        assert all("400" in e for e in guard.errors), guard.errors  # Chromium logs the 400 document too
        guard.failed.clear()
        guard.errors.clear()
        guard.assert_clean()
    finally:
        context.close()
