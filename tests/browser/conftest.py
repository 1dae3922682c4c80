"""Headless Debian Chromium driven by Playwright's sync API, against pytest-django's live server.

The browser is Debian's /usr/bin/chromium: `playwright install` is never run (CI is offline-ish
and the suite must not download browsers).
"""

from __future__ import annotations

import json
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
FAILED_LOAD = "Failed to load resource"  # Chromium's console error for a response >= 400
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"
# axe-core comes from the npm registry (tests/browser/package.json, `npm ci` in make test and
# .ci/run) and is handed to the page from disk: the page never fetches it.
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# What the accessibility audit checks, and which of its findings fail a journey.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture(autouse=True)
def production_csp(settings):
    """Pages in the browser run under the production Content-Security-Policy, so an inline style
    or script that production would block shows up as a console error the guard reports."""
    settings.CONTENT_SECURITY_POLICY = settings.CONTENT_SECURITY_POLICY_STRICT


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
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(self._console_text(msg)))
        return page

    @staticmethod
    def _console_text(msg) -> str:
        # Chromium reports a 4xx/5xx answer as "Failed to load resource: …" without its URL, which
        # is the message's location: keep it, so a refusal provoked on purpose can be told apart.
        url = (msg.location or {}).get("url", "")
        return f"{msg.text} [{url}]" if msg.text.startswith(FAILED_LOAD) and url else msg.text

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


class AxeViolations(AssertionError):
    pass


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci --prefix tests/browser` (make test does)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture
def axe(axe_source):
    """axe(page, name): audits the page as it is now with axe-core (WCAG 2.1 A and AA rules),
    writes the full result under test-artifacts/browser/axe/, and fails on any serious or
    critical violation, naming the rule and the elements."""
    folder = ARTIFACTS / "axe"
    folder.mkdir(parents=True, exist_ok=True)

    def audit(page, name: str) -> list[dict]:
        page.wait_for_load_state("load")
        # Runtime evaluation, not a <script> tag: the page's CSP allows no inline script.
        page.evaluate(axe_source + "\n;0")
        # preload: false: axe's CSSOM preload re-reads an @import (Django admin's forms.css has one)
        # through a <style> element it adds, which the production CSP refuses: a console error that
        # is axe's, not the page's. Only css-orientation-lock needs the CSSOM, and no stylesheet of
        # ours or the admin's has an orientation media query.
        result = page.evaluate(
            "async (tags) => await axe.run(document,"
            " {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'], preload: false})",
            AXE_TAGS,
        )
        violations = result["violations"]
        (folder / f"{name}.json").write_text(json.dumps(violations, ensure_ascii=False, indent=1), encoding="utf-8")
        failing = [v for v in violations if v.get("impact") in AXE_FAILING_IMPACTS]
        if failing:
            lines = [
                f"{v['impact']}: {v['id']} ({v['help']}) at " + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                for v in failing
            ]
            raise AxeViolations(f"axe on {name} ({page.url}):\n" + "\n".join(lines))
        return violations

    return audit


# Journeys (issue 9): each runs in Chinese and in English; some also at a phone's viewport.
LANGS = {"zh-hans": "zh-CN", "en": "en-US"}  # portal language -> the browser's Accept-Language
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
# A date as Django renders it under zh-hans (DATE_FORMAT "Y年n月j日"), e.g. 2026年11月24日.
ZH_DATE = r"\d{4}年\d{1,2}月\d{1,2}日"


def tr(text: str, lang: str) -> str:
    """What the portal shows for the source string `text` in `lang`."""
    from django.utils import translation

    with translation.override(lang):
        return str(translation.gettext(text))


class Journey:
    """Browsers for the people in one journey, all in one language and on one kind of device.

    `journey.as_user(user)` opens a new browser context (its own cookies) in the journey's language
    and viewport, logs the user in and returns the page. `journey.t("Source text")` is the page's
    text for a source string. `journey.shot(page, "step")` saves a screenshot named after the
    journey, language and device. At the end every context is closed and must have stayed on this
    machine with no failed request and no script error (including CSP refusals)."""

    def __init__(self, *, name, chromium, base_url, lang, device, screenshot, axe):
        self.name, self.lang, self.device = name, lang, device
        self._chromium, self._base_url = chromium, base_url
        self._screenshot, self._axe = screenshot, axe
        self._contexts = []
        self._expected_failures: list[str] = []

    def expect_refusal(self, url_part: str):
        """A 4xx the journey provokes on purpose (the server refusing a forbidden action) is not a
        failed request: name a part of its URL."""
        self._expected_failures.append(url_part)

    def t(self, text: str) -> str:
        return tr(text, self.lang)

    def new_page(self):
        context = self._chromium.new_context(
            base_url=self._base_url, locale=LANGS[self.lang], timezone_id="Asia/Shanghai", **VIEWPORTS[self.device]
        )
        context.set_default_timeout(15_000)
        guard = OfflineGuard(context)
        self._contexts.append((context, guard))
        return guard.watch(context.new_page())

    def as_user(self, user, password=None):
        from playwright.sync_api import expect

        from tests.factories import PASSWORD

        page = self.new_page()
        page.goto("/login/")
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill(password or PASSWORD)
        page.get_by_role("button", name=self.t("Log in"), exact=True).click()
        expect(page.locator("html")).to_have_attribute("lang", self.lang)
        return page

    def shot(self, page, step: str, *, audit: bool = True):
        """Screenshot the page (no sideways scrolling allowed) and, by default, audit it with axe."""
        page.wait_for_load_state("load")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{step}: page is {overflow}px wider than the viewport"
        label = f"{self.name}-{self.lang}-{self.device}-{step}"
        self._screenshot(page, label)
        if audit:
            self._axe(page, label)

    def close(self):
        try:
            for _context, guard in self._contexts:
                expected = self._expected_failures
                guard.failed = [f for f in guard.failed if not any(part in f for part in expected)]
                guard.errors = [
                    e for e in guard.errors if not (e.startswith(FAILED_LOAD) and any(part in e for part in expected))
                ]
                guard.assert_clean()
        finally:
            for context, _guard in self._contexts:
                context.close()


@pytest.fixture
def journey(live_server, chromium, screenshot, axe):
    """journey(name, lang, device="desktop") -> Journey; closed (and checked clean) after the test."""
    opened = []

    def start(name: str, lang: str, device: str = "desktop") -> Journey:
        j = Journey(
            name=name,
            chromium=chromium,
            base_url=live_server.url,
            lang=lang,
            device=device,
            screenshot=screenshot,
            axe=axe,
        )
        opened.append(j)
        return j

    yield start
    for j in opened:
        j.close()
