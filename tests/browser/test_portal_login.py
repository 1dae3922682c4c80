"""A staff member's first visit, in a real browser: Chinese login page, dashboard with their
department, switch to English, log out. Nothing may be fetched from outside this machine."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from playwright.sync_api import expect

from apps.core.permissions import Role
from tests.browser.conftest import VIEWPORTS, OfflineGuard
from tests.factories import PASSWORD, department, member, region

pytestmark = pytest.mark.browser

DEVICES = VIEWPORTS
ZH_CATALOGUE = any((Path(p) / "zh_Hans" / "LC_MESSAGES" / "django.mo").is_file() for p in settings.LOCALE_PATHS)


def zh(text: str) -> str:
    """What the page shows for `text` in Simplified Chinese (the source text until the
    zh_Hans catalogue is compiled)."""
    with translation.override("zh-hans"):
        return str(translation.gettext(text))


def assert_no_horizontal_scroll(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the viewport"


@pytest.mark.parametrize("device", DEVICES)
def test_staff_logs_in_switches_to_english_and_logs_out(live_server, chromium, screenshot, device):
    # Given: a staff member of one department (committed: the live server reads it from another thread)
    dept = department(region=region())
    user = member(dept, Role.STAFF)
    # A Chinese browser (zh-CN): Django's LocaleMiddleware honours Accept-Language before LANGUAGE_CODE.
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN", **DEVICES[device])
    context.set_default_timeout(10_000)
    guard = OfflineGuard(context)
    page = guard.watch(context.new_page())
    heading = page.locator("main h1")

    try:
        # The login page is in Chinese
        page.goto("/login/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page).to_have_title(re.compile("^" + re.escape(zh("Log in")) + " · "))
        expect(heading).to_have_text(zh("Log in"))
        expect(page.get_by_role("button", name="简体中文")).to_have_attribute("aria-current", "true")
        if ZH_CATALOGUE:
            expect(heading).to_have_text("登录")
        assert_no_horizontal_scroll(page)
        screenshot(page, f"{device}-1-login-zh")

        # When: they log in
        page.get_by_label(zh("Username")).fill(user.username)
        page.get_by_label(zh("Password")).fill(PASSWORD)
        page.get_by_role("button", name=zh("Log in"), exact=True).click()

        # Then: their dashboard shows their department
        expect(page).to_have_url(f"{live_server.url}/")
        expect(heading).to_have_text(zh("Dashboard"))
        expect(page.locator("main .card h2")).to_have_text(re.compile("^" + re.escape(dept.name) + " · "))
        expect(page.locator(".session .who")).to_have_text(str(user))
        assert_no_horizontal_scroll(page)
        screenshot(page, f"{device}-2-dashboard-zh")

        # When: they switch to English
        page.get_by_role("button", name="English").click()

        # Then: the same page, in English
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page).to_have_url(f"{live_server.url}/")
        expect(heading).to_have_text("Dashboard")
        expect(page.get_by_role("navigation")).to_contain_text("Departments")
        expect(page.get_by_role("button", name="English")).to_have_attribute("aria-current", "true")
        expect(page.locator("main .card h2")).to_have_text(f"{dept.name} · Staff")
        assert_no_horizontal_scroll(page)
        screenshot(page, f"{device}-3-dashboard-en")

        # When: they log out
        page.get_by_role("button", name="Log out").click()

        # Then: back on the (English) login page, and the session is gone
        expect(page).to_have_url(f"{live_server.url}/login/")
        expect(heading).to_have_text("Log in")
        expect(page.locator(".session .who")).to_have_count(0)
        screenshot(page, f"{device}-4-logged-out-en")
        page.goto("/")
        expect(page).to_have_url(f"{live_server.url}/login/?next=/")

        guard.assert_clean()
    finally:
        context.close()


def test_offline_guard_catches_a_cdn_request(chromium):
    # The journey's "nothing left the machine" would pass vacuously if the guard saw nothing.
    context = chromium.new_context()
    guard = OfflineGuard(context)
    page = guard.watch(context.new_page())
    try:
        page.set_content('<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/x@1/x.css">', wait_until="load")
    finally:
        context.close()
    assert guard.external == ["https://cdn.jsdelivr.net/npm/x@1/x.css"]
