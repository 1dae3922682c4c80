"""Journey 5 (issue 9): a data steward uploads a GB18030 CSV with bad rows, watches the progress
bar, downloads the rejected rows, fixes them and loads them again.

The steward of a city's public-security bureau first picks the compressed full export (.csv.gz)
by mistake: the upload form says, beside the file field and in the steward's language, that it
is not CSV, Excel or JSON lines. Then the
register's monthly export, saved by a Chinese spreadsheet program (GB18030), in which four rows are
wrong (three impossible ages, one cut-off ID number). The mapping step shows the file's columns
read as GB18030 with the guesses preselected; the load is queued and the job page polls its
progress. Here the test is the worker for that first load: it holds the queued job, sees the page
waiting at 0%, runs the job (the real loader, in-process) and watches the bar reach 100% and the
rejected rows appear without a reload. The steward downloads the rejected rows (line, field,
reason and the row as read), fixes the four cells and loads that file with the saved mapping;
this second load goes the ordinary way (eager Celery: the request runs it). The register ends
with every row of the export exactly once.

Folds in the former tests/browser/test_datapool_journey.py (the same steward and file), which
this journey replaces.
"""

from __future__ import annotations

import csv
import gzip
import io
import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.datapool import services
from apps.datapool.choices import Classification, JobStatus
from apps.datapool.demo import RESIDENT_FIELDS, csv_bytes, hazmat_rows, resident_rows, standards_ensure
from apps.datapool.errors import ERRORS, REASONS
from apps.datapool.models import IngestionJob, Record
from apps.organizations.choices import DepartmentType
from tests.browser.conftest import ZH_DATE, tr
from tests.datapool.world import load_bytes
from tests.factories import department, member, region

pytestmark = pytest.mark.browser

TITLE = "东河市常住人口信息"
HAZMAT = "东河市危险化学品企业名录"
FILE = "东河市常住人口-11月.csv"
MAPPING = "户籍系统月度导出"
GOOD, BAD = 12, 4
AGE, ID = 5, 0  # columns of the export
# What goes wrong in the last four rows: (column, value written, field, reason code)
BREAKS = [
    (AGE, "-1", "age", "range"),
    (AGE, "200", "age", "range"),
    (AGE, "abc", "age", "type"),
    (ID, "3201061980", "id_number", "pattern"),
]
GZIPPED = "东河市常住人口-全量.csv.gz"  # the full export as the source system compresses it


def label(name: str, lang: str) -> str:
    spec = next(f for f in RESIDENT_FIELDS if f["name"] == name)
    return spec["label_en"] if lang == "en" else spec["label"]


def pt(context: str, text: str, lang: str) -> str:
    with translation.override(lang):
        return str(translation.pgettext(context, text))


def world():
    province = region(name="江淮省")
    city = region(parent=province, name="东河市")
    police = department(region=city, name="东河市公安局", type=DepartmentType.PUBLIC_SECURITY)
    environment = department(region=city, name="东河市生态环境局", type=DepartmentType.ENVIRONMENT)
    steward = member(police, Role.STEWARD, display_name="公安局数据专员")
    register = services.dataset_create(
        actor=steward,
        owner=police,
        standard=standards_ensure()["resident"],
        title=TITLE,
        description="东河市户籍与常住人口登记信息，按日更新。",
        classification=Classification.SENSITIVE,
    )
    env_steward = member(environment, Role.STEWARD)
    hazmat = services.dataset_create(
        actor=env_steward, owner=environment, standard=standards_ensure()["hazmat"], title=HAZMAT
    )
    load_bytes(env_steward, hazmat, csv_bytes(hazmat_rows()))
    return steward, register, hazmat


def the_export() -> tuple[list[list[str]], list[list[str]]]:
    """(the rows as they should be, the rows as exported with BAD of them broken); header first."""
    right = resident_rows(GOOD + BAD, place="320106", seed=23)
    exported = [list(r) for r in right]
    for row, (column, value, _field, _reason) in zip(exported[GOOD + 1 :], BREAKS, strict=True):
        row[column] = value
    return right, exported


def csrf_post(page, url: str):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, headers={"X-CSRFToken": token}, multipart={"step": "preview"}, max_redirects=0)


def heading(page):
    return page.locator("main h1")


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey_5_gb18030_upload_with_rejects_fixed_and_reloaded(journey, monkeypatch, lang):
    steward_user, register, hazmat = world()
    right, exported = the_export()
    j = journey("j5-upload", lang, "desktop")

    # The first load waits for "the worker" (this test), so the page can be seen waiting and moving.
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue", lambda job: queued.append(job.pk))

    page = j.as_user(steward_user)

    # --- another department's dataset: no upload button, and the server refuses an upload ---
    page.get_by_role("navigation").get_by_role("link", name=j.t("Data pool"), exact=True).click()
    expect(heading(page)).to_have_text(j.t("Data resource catalog"))
    page.get_by_role("link", name=HAZMAT, exact=True).click()
    expect(heading(page)).to_have_text(HAZMAT)
    expect(page.get_by_role("link", name=j.t("Upload data"), exact=True)).to_have_count(0)
    j.expect_refusal(f"/data/{hazmat.pk}/upload/")
    assert csrf_post(page, f"/data/{hazmat.pk}/upload/").status == 403  # seen in the catalog, not theirs

    # --- the register, never loaded; the upload page ---
    page.go_back()
    expect(page.locator(f"#dataset-{register.pk} .fresh-never")).to_have_text(j.t("Never loaded"))
    page.get_by_role("link", name=TITLE, exact=True).click()
    expect(heading(page)).to_have_text(TITLE)
    page.get_by_role("link", name=j.t("Upload data"), exact=True).click()
    expect(heading(page)).to_have_text(j.t("Upload data"))

    # --- the compressed export by mistake: the error beside the file field, in the steward's language ---
    j.expect_refusal(f"/data/{register.pk}/upload/")
    gzipped = gzip.compress(csv_bytes(resident_rows(1500, seed=23), "gb18030"), mtime=0)
    page.locator("input[name=file]").set_input_files(
        files=[{"name": GZIPPED, "mimeType": "application/gzip", "buffer": gzipped}]
    )
    page.get_by_role("button", name=j.t("Next: check the columns"), exact=True).click()
    field = page.locator(".field.invalid").filter(has=page.locator("input[name=file]"))
    expect(field.get_by_role("alert")).to_have_text(tr(ERRORS["format"], lang))
    assert not IngestionJob.objects.filter(dataset=register).exists()
    j.shot(page, "1-not-a-csv")

    # --- the GB18030 export: columns read, guesses preselected, the mapping saved ---
    page.locator("input[name=file]").set_input_files(
        files=[{"name": FILE, "mimeType": "text/csv", "buffer": csv_bytes(exported, "gb18030")}]
    )
    page.get_by_role("button", name=j.t("Next: check the columns"), exact=True).click()
    expect(page.locator(".mapping-form")).to_be_visible()
    expect(page.locator("main")).to_contain_text("GB18030")
    expect(page.get_by_role("combobox", name=re.compile(label("id_number", lang)))).to_have_value("身份证号")
    expect(page.locator("select[name=col_age]")).to_have_value("年龄")
    page.get_by_role("textbox", name=j.t("Save this mapping as")).fill(MAPPING)
    j.shot(page, "2-mapping")
    page.get_by_role("button", name=j.t("Load the file"), exact=True).click()

    # --- queued: 0%, the page polls ---
    expect(page.locator(".messages")).to_contain_text(j.t("File received: the load runs in the background."))
    live = page.locator("#job-live")
    expect(live.locator(".percent strong")).to_have_text("0%")
    expect(live.locator(".badge")).to_have_class(re.compile(r"\bjob-queued\b"))
    expect(live).to_contain_text(j.t("Waiting for a worker…"))
    with page.expect_response(lambda r: f"/data/jobs/{queued[0]}/progress/" in r.url) as polled:
        pass  # the page asks for its progress on its own (every second)
    assert polled.value.ok
    expect(live.locator(".percent strong")).to_have_text("0%")
    j.shot(page, "3-queued")

    # --- the worker runs the load; the bar reaches 100% without a reload ---
    assert len(queued) == 1
    first = services.ingestion_run(queued.pop())
    assert first.status == JobStatus.SUCCEEDED, first.error_message()
    monkeypatch.undo()  # from here on, loads go the ordinary way (eager Celery: the request runs them)
    expect(live.locator(".percent strong")).to_have_text("100%")
    expect(live.locator("progress.progress")).to_have_attribute("value", "100")
    expect(live.locator(".badge")).to_have_class(re.compile(r"\bjob-succeeded\b"))
    expect(live.locator(".rows-read")).to_have_text(str(GOOD + BAD))
    expect(live.locator(".rows-accepted")).to_have_text(str(GOOD))
    expect(live.locator(".rows-rejected")).to_have_text(str(BAD))
    rejects = page.locator("table.rejects tbody tr")
    expect(rejects).to_have_count(BAD)
    for row, (_column, _value, name, reason) in zip(rejects.all(), BREAKS, strict=True):
        expect(row).to_contain_text(label(name, lang))
        expect(row).to_contain_text(tr(REASONS[reason], lang))
    expect(rejects.locator("td.num")).to_have_text([str(GOOD + 2 + i) for i in range(BAD)])  # file lines
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # never reloaded
    if lang == "zh-hans":
        expect(live.locator(".times time").first).to_have_text(re.compile(ZH_DATE))
    j.shot(page, "4-loaded")

    # --- the rejected rows as CSV: line, field, reason, then the row as read ---
    with page.expect_download() as download_info:
        page.get_by_role("link", name=j.t("Download the rejected rows (CSV)"), exact=True).click()
    download = download_info.value
    assert download.suggested_filename == f"rejected-rows-job-{first.pk}.csv"
    raw = download.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    header, rows = [table[0][0].lstrip("\ufeff"), *table[0][1:]], table[1:]
    assert header[:3] == [pt("rejected row", text, lang) for text in ("Line", "Field", "Reason")]
    assert header[3:] == right[0]  # the file's own columns, as the saved mapping reads them
    assert [r[0] for r in rows] == [str(GOOD + 2 + i) for i in range(BAD)]
    assert [r[1] for r in rows] == [label(name, lang) for _c, _v, name, _r in BREAKS]
    assert [r[2] for r in rows] == [tr(REASONS[reason], lang) for _c, _v, _n, reason in BREAKS]
    assert [r[3 + AGE] for r in rows[:3]] == ["'-1", "200", "abc"]  # the formula-like cell is neutralised
    assert rows[3][3 + ID] == "3201061980"

    # --- fixed in the spreadsheet (each broken cell set right), saved as GB18030 again ---
    for r in rows:
        r[3:] = right[int(r[0]) - 1]
    fixed = io.StringIO()
    csv.writer(fixed).writerows([header, *rows])
    page.get_by_role("link", name=j.t("Upload the fixed rows"), exact=True).click()
    expect(heading(page)).to_have_text(j.t("Upload data"))
    page.locator("input[name=file]").set_input_files(
        files=[{"name": "rejected-fixed.csv", "mimeType": "text/csv", "buffer": fixed.getvalue().encode("gb18030")}]
    )
    mapping = page.get_by_role("combobox", name=j.t("Column mapping"))
    mapping.select_option(label=MAPPING)
    mapping.focus()
    page.keyboard.press("Tab")  # to "Next: check the columns"
    page.keyboard.press("Tab")  # to "Load now"
    expect(page.get_by_role("button", name=j.t("Load now"), exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(live.locator(".percent strong")).to_have_text("100%")
    expect(live.locator(".rows-read")).to_have_text(str(BAD))
    expect(live.locator(".rows-accepted")).to_have_text(str(BAD))
    expect(live.locator(".rows-rejected")).to_have_text("0")
    expect(page.locator("#job-results")).to_contain_text(j.t("No row was rejected."))
    j.shot(page, "5-fixed-loaded")
    second = IngestionJob.objects.filter(dataset=register).latest("pk")
    assert (second.pk, second.status, second.mapping.name) == (first.pk + 1, JobStatus.SUCCEEDED, MAPPING)

    # --- the register holds every row of the export exactly once ---
    ids = list(Record.objects.filter(dataset=register).values_list("payload__id_number", flat=True))
    assert sorted(ids) == sorted(r[ID] for r in right[1:])
    ages = dict(Record.objects.filter(dataset=register).values_list("payload__id_number", "payload__age"))
    assert all(ages[r[ID]] == int(r[AGE]) for r in right[1:])

    page.get_by_role("link", name=TITLE, exact=True).first.click()
    expect(heading(page)).to_have_text(TITLE)
    expect(page.locator(".facts .num")).to_have_text(str(GOOD + BAD))
    expect(page.locator(".pagehead .fresh")).to_have_text(j.t("Fresh"))
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    expect(page.locator("#field-id_number")).to_contain_text(j.t("Sensitive"))
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('quality-history'))")
    j.shot(page, "6-dataset")

    # --- the owner browses its records whole (a read the asset register counts) ---
    page.get_by_role("link", name=j.t("Browse the records"), exact=True).click()
    expect(heading(page)).to_have_text(j.t("Records"))
    expect(page.locator("table.records tbody tr")).to_have_count(GOOD + BAD)
    expect(page.locator("table.records tbody")).to_contain_text(right[1][ID])
    page.get_by_role("navigation").get_by_role("link", name=j.t("Data pool"), exact=True).click()
    page.get_by_role("link", name=j.t("Data assets"), exact=True).click()
    expect(heading(page)).to_have_text(j.t("Data assets"))
    asset = page.locator(f"#asset-{register.pk}")
    expect(asset).to_contain_text(str(GOOD + BAD))
    expect(asset.locator("td.num").nth(3)).to_have_text("1")  # reads in 30 days
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('asset-size'))")

    # --- the loads list filters by dataset and status ---
    page.locator(".pagenav").get_by_role("link", name=j.t("Loads"), exact=True).click()
    expect(heading(page)).to_have_text(j.t("Loads"))
    page.get_by_label(j.t("Dataset")).select_option(str(register.pk))
    page.get_by_label(j.t("Status")).select_option("failed")
    page.get_by_role("button", name=j.t("Filter"), exact=True).click()
    expect(page.locator("table.jobs tbody")).to_have_text(j.t("No loads yet."))
    page.get_by_label(j.t("Status")).select_option("succeeded")
    page.get_by_role("button", name=j.t("Filter"), exact=True).click()
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    expect(page.locator(f"#job-{first.pk}")).to_contain_text(FILE)
    expect(page.locator(f"#job-{second.pk}")).to_contain_text("rejected-fixed.csv")
