"""A data steward loads a spreadsheet export into the pool, in a real browser, once in Chinese on
a desktop and once in English on a phone.

The steward of a city's public-security bureau opens the catalog from the navigation, goes to the
bureau's resident register and uploads a GB18030 CSV (as Chinese spreadsheet programs save it)
in which three rows have an impossible age. The mapping step shows the file's columns with the
guesses preselected; the load is queued and the steward watches the progress bar move to 100%
without reloading (the worker here is the test itself, which runs the queued job while the page
polls). The three rejected rows are listed with line, field and reason; the steward downloads
them as CSV, fixes the ages, and loads only those three rows again. Nothing may be fetched from
outside this machine.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.datapool import services
from apps.datapool.choices import Classification, JobStatus
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.datapool.models import IngestionJob, Record
from apps.organizations.choices import DepartmentType
from tests.browser.conftest import OfflineGuard
from tests.browser.test_incident_journey import assert_no_horizontal_scroll
from tests.browser.test_portal_login import DEVICES, zh
from tests.factories import PASSWORD, department, member, region

pytestmark = pytest.mark.browser

TITLE = "东河市常住人口信息"
GOOD, BAD = 12, 3
RUNS = {
    # language, browser locale, device
    "zh": ("zh-CN", "desktop"),
    "en": ("en-US", "phone"),
}


def scene():
    province = region(name="江淮省")
    city = region(parent=province, name="东河市")
    police = department(region=city, name="东河市公安局", type=DepartmentType.PUBLIC_SECURITY)
    steward = member(police, Role.STEWARD, display_name="公安局数据专员")
    dataset = services.dataset_create(
        actor=steward,
        owner=police,
        standard=standards_ensure()["resident"],
        title=TITLE,
        description="东河市户籍与常住人口登记信息，按日更新。",
        classification=Classification.SENSITIVE,
    )
    return steward, dataset


def export_with_bad_ages() -> bytes:
    """GOOD rows and BAD rows of other people whose age is impossible, encoded in GB18030."""
    rows = resident_rows(GOOD + BAD, place="320106", seed=23)
    for row, age in zip(rows[GOOD + 1 :], ("-1", "200", "abc"), strict=True):
        row[5] = age
    return csv_bytes(rows, "gb18030")


@pytest.mark.parametrize("language", RUNS)
def test_a_steward_loads_a_gb18030_export_fixes_the_rejects_and_reloads_them(
    live_server, chromium, screenshot, monkeypatch, language
):
    steward, dataset = scene()
    locale, device = RUNS[language]

    def t(text: str) -> str:
        return zh(text) if language == "zh" else text

    # The queued load waits for "the worker": this test, which runs it while the page polls.
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", lambda job: queued.append(job.pk))

    context = chromium.new_context(base_url=live_server.url, locale=locale, **DEVICES[device])
    context.set_default_timeout(15_000)
    guard = OfflineGuard(context)
    page = guard.watch(context.new_page())
    polls: list[str] = []
    page.on("request", lambda r: "/progress/" in r.url and polls.append(r.url))
    heading = page.locator("main h1")

    def shot(name):
        assert_no_horizontal_scroll(page)
        screenshot(page, f"datapool-{language}-{device}-{name}")

    def run_the_queued_load() -> IngestionJob:
        assert len(queued) == 1, queued
        job = services.ingestion_run(queued.pop())
        assert job.status == JobStatus.SUCCEEDED, job.error_message()
        return job

    try:
        # Given: the steward, logged in, on the catalog from the navigation
        page.goto("/login/")
        page.locator("#id_username").fill(steward.username)
        page.locator("#id_password").fill(PASSWORD)
        page.get_by_role("button", name=t("Log in"), exact=True).click()
        expect(heading).to_have_text(t("Dashboard"))
        page.get_by_role("navigation").get_by_role("link", name=t("Data pool"), exact=True).click()
        expect(heading).to_have_text(t("Data resource catalog"))
        expect(page.locator(f"#dataset-{dataset.pk}")).to_contain_text("东河市公安局")
        expect(page.locator(f"#dataset-{dataset.pk} .fresh-never")).to_have_text(t("Never loaded"))
        shot("1-catalog")

        # When: they open the register and upload the export
        page.get_by_role("link", name=TITLE, exact=True).click()
        expect(heading).to_have_text(TITLE)
        expect(page.locator("#field-id_number")).to_contain_text(t("Sensitive"))
        page.get_by_role("link", name=t("Upload data"), exact=True).click()
        expect(heading).to_have_text(t("Upload data"))
        page.locator("input[name=file]").set_input_files(
            files=[{"name": "东河市常住人口-11月.csv", "mimeType": "text/csv", "buffer": export_with_bad_ages()}]
        )
        page.get_by_role("button", name=t("Next: check the columns"), exact=True).click()

        # Then: the file's columns, read as GB18030, with the guesses preselected
        expect(page.locator(".mapping-form")).to_be_visible()
        expect(page.locator("main")).to_contain_text("GB18030")
        expect(page.locator("select[name=col_id_number]")).to_have_value("身份证号")
        expect(page.locator("select[name=col_age]")).to_have_value("年龄")
        page.locator("[name=save_mapping_as]").fill("户籍系统月度导出")
        shot("2-mapping")
        page.get_by_role("button", name=t("Load the file"), exact=True).click()

        # Then: the job page; the load is queued at 0% and the page polls
        expect(page.locator(".messages")).to_contain_text(t("File received: the load runs in the background."))
        expect(page.locator(".job-live .percent strong")).to_have_text("0%")
        expect(page.locator(".job-live .badge")).to_have_class(re.compile(r"\bjob-queued\b"))
        page.wait_for_timeout(1500)
        assert polls, "the page does not poll its progress"
        shot("3-queued")

        # When: the worker runs the load
        first = run_the_queued_load()

        # Then: without a reload, the bar reaches 100% and the rejected rows appear
        expect(page.locator(".job-live .percent strong")).to_have_text("100%")
        expect(page.locator(".job-live .badge")).to_have_class(re.compile(r"\bjob-succeeded\b"))
        expect(page.locator(".job-live .rows-read")).to_have_text(str(GOOD + BAD))
        expect(page.locator(".job-live .rows-accepted")).to_have_text(str(GOOD))
        expect(page.locator(".job-live .rows-rejected")).to_have_text(str(BAD))
        expect(page.locator(".job-live progress.progress")).to_have_attribute("value", "100")
        rejects = page.locator("table.rejects tbody tr")
        expect(rejects).to_have_count(BAD)
        expect(rejects.first).to_contain_text("年龄" if language == "zh" else "Age")  # the standard's label
        expect(rejects.first).to_contain_text(t("The value is out of range."))
        expect(rejects.last).to_contain_text(t("The value has the wrong type or format."))
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # never reloaded
        shot("4-loaded")

        # When: they download the rejected rows, fix the ages and load only those rows again
        with page.expect_download() as download_info:
            page.get_by_role("link", name=t("Download the rejected rows (CSV)"), exact=True).click()
        download = download_info.value
        assert download.suggested_filename == f"rejected-rows-job-{first.pk}.csv"
        table = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
        header, rows = table[0], table[1:]
        with translation.override("zh-hans" if language == "zh" else "en"):
            expected = [translation.pgettext("rejected row", text) for text in ("Line", "Field", "Reason")]
        assert header[:3] == expected
        assert [r[0] for r in rows] == [str(GOOD + 2 + i) for i in range(BAD)]
        age = header.index("年龄")
        assert [r[age] for r in rows] == ["'-1", "200", "abc"]  # the formula-like cell is neutralised
        for r in rows:
            r[age] = "45"
        fixed = io.StringIO()
        csv.writer(fixed).writerows([header, *rows])

        page.get_by_role("link", name=t("Upload the fixed rows"), exact=True).click()
        expect(heading).to_have_text(t("Upload data"))
        expect(page.locator("select[name=mapping] option")).to_contain_text(["户籍系统月度导出"])
        page.locator("input[name=file]").set_input_files(
            files=[{"name": "rejected-fixed.csv", "mimeType": "text/csv", "buffer": fixed.getvalue().encode("gb18030")}]
        )
        page.get_by_role("button", name=t("Load now"), exact=True).click()
        expect(page.locator(".job-live .percent strong")).to_have_text("0%")
        second = run_the_queued_load()

        # Then: only the three fixed rows are loaded, none rejected
        expect(page.locator(".job-live .percent strong")).to_have_text("100%")
        expect(page.locator(".job-live .rows-accepted")).to_have_text(str(BAD))
        expect(page.locator(".job-live .rows-rejected")).to_have_text("0")
        expect(page.locator("#job-results")).to_contain_text(t("No row was rejected."))
        shot("5-fixed-loaded")
        assert (second.rows_read, second.rows_accepted, second.rows_rejected) == (BAD, BAD, 0)
        assert Record.objects.filter(dataset=dataset).count() == GOOD + BAD

        # And: the register shows every record, fresh, with its quality history
        page.get_by_role("link", name=TITLE, exact=True).first.click()
        expect(heading).to_have_text(TITLE)
        expect(page.locator(".facts .num")).to_have_text(str(GOOD + BAD))
        expect(page.locator(".pagehead .fresh")).to_have_text(t("Fresh"))
        expect(page.locator("table.jobs tbody tr")).to_have_count(2)
        expect(page.locator("#quality-history")).to_be_visible()
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('quality-history'))")
        shot("6-dataset")

        # And: the records are there to browse (a read the asset register counts)
        page.get_by_role("link", name=t("Browse the records"), exact=True).click()
        expect(heading).to_have_text(t("Records"))
        expect(page.locator("table.records tbody tr")).to_have_count(GOOD + BAD)
        shot("7-records")

        page.get_by_role("navigation").get_by_role("link", name=t("Data pool"), exact=True).click()
        page.get_by_role("link", name=t("Data assets"), exact=True).click()
        expect(heading).to_have_text(t("Data assets"))
        expect(page.locator(f"#asset-{dataset.pk}")).to_contain_text(str(GOOD + BAD))
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('asset-size'))")
        expect(page.locator(f"#asset-{dataset.pk} td.num").nth(3)).to_have_text("1")  # reads in 30 days
        shot("8-assets")

        guard.assert_clean()
    finally:
        context.close()
