"""Headless Debian Chromium driven by Playwright's sync API, against pytest-django's live server.

The browser is Debian's /usr/bin/chromium: `playwright install` is never run (CI is offline-ish
and the suite must not download browsers).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per module.

    Playwright's sync API keeps an asyncio loop running on the main thread, and Django refuses
    ORM calls from a thread with a running loop. The ORM here runs synchronously in the test
    (and in the database flush after it), never concurrently with the loop's own work, so the
    check is switched off for exactly as long as the browser lives.
    """
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()


class OfflineGuard:
    """Aborts and records every request that leaves this machine (a CDN font, an analytics
    script), and records local responses that failed and script errors."""

    def __init__(self, context):
        self.external: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def watch(self, page):
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        return page

    def assert_clean(self):
        assert self.external == [], "requests left the machine"
        assert self.failed == [], "local requests failed"
        assert self.errors == [], "script errors on the page"


@pytest.fixture
def screenshot(request):
    """screenshot(page, name): a full-page PNG under test-artifacts/browser/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
