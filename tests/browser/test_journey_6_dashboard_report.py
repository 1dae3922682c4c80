"""Journey 6 (issue 9): the leading group's dashboard shows the incident on the map, the scorecard
and the consolidated report; the report downloads as a PDF with Chinese text.

The head of the leading group's information office logs in: the dashboard draws its charts, pins
the flood on the map (its county outline and city tinted, the marker linked and titled) and counts
the group's tasks per department; a new incident reported while the page is open arrives with the
next htmx poll, without a reload. The scorecard ranks the three member departments from the task
history built here (accept and completion times set with time-machine); a period that ends before
it starts is refused beside the field. From the incident's page (reached by keyboard) the head
generates a consolidated report (Celery runs eagerly in tests), sees it done, downloads the PDF
and reads it back with pypdf: the incident's Chinese title, the section headings in the page's
language, the CJK font embedded. The report list filters by incident. A data steward of a member
department, on a phone, sees the group's picture and the overdue task of their inbox, but no
button to generate a report, and the server refuses the POST anyway.

Runs in Chinese and in English on a desktop (the steward's part at a phone's viewport).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone, translation
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.incidents import services as incident_services
from apps.incidents.choices import ReportKind as SituationKind
from apps.incidents.choices import Severity
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType as T
from apps.organizations.choices import LeadingGroupKind, RegionLevel
from apps.portal.geo import SEVERITY_TINTS
from apps.reporting.choices import JobStatus
from apps.reporting.models import Report
from apps.tasking import services as task_services
from tests import factories as f
from tests.browser.conftest import ZH_DATE
from tests.portal.test_dashboard import done_report, report
from tests.reporting.test_exports import embedded_fonts, pdf_pages

pytestmark = pytest.mark.browser

TITLE = "鼓楼区秦淮河堤防管涌险情"
OTHER = "南京市玄武区燃气管道泄漏"
LIVE = "玄武湖堤段渗水"
TASK = "转移安置堤防沿线群众"
POLL_SECONDS = 2

# Chart.js has drawn something on the canvas (any painted pixel)
CHART_DRAWN = """id => {
  const canvas = document.getElementById(id);
  const chart = canvas && window.Chart && window.Chart.getChart(canvas);
  if (!chart || !canvas.width || !canvas.height) return false;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) return true; }
  return false;
}"""


def scene():
    """Jiangsu with Nanjing and its Gulou district (real division codes, so the shipped outlines
    draw); a standing leading group over Nanjing with three member departments; a flood reported
    in Gulou and put in the group's charge; one task to each member, issued three hours ago and due
    an hour ago: the fire brigade accepted after 10 minutes and finished after 50, the health
    commission accepted after 40 and is late, the transport bureau declined after 5."""
    admin = f.admin_user()
    jiangsu = f.region(name="江苏省", code="320000", level=RegionLevel.PROVINCE)
    nanjing = f.region(parent=jiangsu, name="南京市", code="320100", level=RegionLevel.CITY)
    gulou = f.region(parent=nanjing, name="鼓楼区", code="320106", level=RegionLevel.COUNTY)
    d = f.department
    office = d(region=jiangsu, type=T.RESEARCH, name="江苏省应急信息办")
    center = d(region=nanjing, type=T.BIG_DATA_COMPANY, name="南京市大数据管理中心")
    em_nj = d(region=nanjing, type=T.EMERGENCY, name="南京市应急管理局")
    em_gulou = d(region=gulou, type=T.EMERGENCY, name="鼓楼区应急管理局")
    fire = d(region=nanjing, type=T.FIRE, name="南京市消防救援支队")
    health = d(region=nanjing, type=T.HEALTH, name="南京市卫生健康委员会")
    transport = d(region=nanjing, type=T.TRANSPORT, name="南京市交通运输局")
    group = org_services.leading_group_create(
        actor=admin,
        name="南京防汛应急领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[nanjing],
        information_office=office,
        big_data_center=center,
        members=[fire, health, transport],
    )
    office_head = f.member(office, Role.HEAD, display_name="信息办主任")
    reporter = f.member(em_gulou, Role.STAFF, display_name="鼓楼区值班员")
    heads = {dept: f.member(dept, Role.HEAD) for dept in (fire, health, transport)}
    steward = f.member(health, Role.STEWARD, display_name="卫健委数据专员")

    flood = report(
        reporter,
        em_gulou,
        TITLE,
        severity=Severity.II,
        latitude=Decimal("32.0660"),
        longitude=Decimal("118.7700"),
        regions=[gulou],
    )
    flood = incident_services.incident_assign_leading_group(actor=office_head, incident=flood, group=group)
    incident_services.report_submit(
        actor=reporter,
        incident=flood,
        department=em_gulou,
        kind=SituationKind.INITIAL,
        text="城东堤脚出现管涌，已组织巡堤。",
        injured=3,
        evacuated=1200,
        late_reason="夜间发现，现场核实耗时",  # first seen two hours ago: past the initial report's clock
    )
    other = report(f.member(em_nj, Role.STAFF), em_nj, OTHER, severity=Severity.IV)
    done_report(other, office_head)  # an earlier report on another incident, for the list's filter

    issued = timezone.now() - timedelta(hours=3)
    tasks = task_services.task_dispatch(
        actor=office_head,
        issuer_department=office,
        issuer_group=group,
        departments=[fire, health, transport],
        title=TASK,
        deadline=issued + timedelta(hours=2),
        now=issued,
        incident=flood,
    )
    by_dept = {t.department_id: t for t in tasks}
    with time_machine.travel(issued + timedelta(minutes=5), tick=False):
        task_services.task_decline(actor=heads[transport], task=by_dept[transport.pk], reason="非本部门职责")
    with time_machine.travel(issued + timedelta(minutes=10), tick=False):
        task_services.task_accept(actor=heads[fire], task=by_dept[fire.pk])
    with time_machine.travel(issued + timedelta(minutes=40), tick=False):
        task_services.task_accept(actor=heads[health], task=by_dept[health.pk])
    with time_machine.travel(issued + timedelta(minutes=50), tick=False):
        task_services.task_complete(
            actor=heads[fire], task=by_dept[fire.pk], result="已转移 1200 人", evidence="照片存于指挥部"
        )
    return {
        "flood": flood,
        "other": other,
        "em_nj": em_nj,
        "fire": fire,
        "health": health,
        "transport": transport,
        "office_head": office_head,
        "steward": steward,
    }


def shown(lazy_text, lang: str) -> str:
    """A lazy label (a choice's) as the page in `lang` shows it."""
    with translation.override(lang):
        return str(lazy_text)


def cells(row) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def tab_to(page, target, limit: int = 40):
    """Press Tab until `target` has the focus (from the current focus navigation point)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"not reachable with the keyboard within {limit} Tab presses")


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey_6_the_leading_group_dashboard_scorecard_and_report(journey, settings, tmp_path, lang):
    settings.MEDIA_ROOT = tmp_path  # the generated files
    s = scene()
    flood = s["flood"]
    j = journey("j6-dashboard", lang, "desktop")

    # --- the dashboard: map, counts, task states ---------------------------------------------
    page = j.as_user(s["office_head"])
    live = page.locator("#dashboard-live")
    expect(page.locator("main h1")).to_have_text(j.t("Dashboard"))
    expect(live.locator("#dash-open-incidents")).to_have_text("2")
    expect(live.locator("#dash-overdue-tasks")).to_have_text("2")
    incidents = live.locator("#dash-incident-list li")
    expect(incidents.first).to_contain_text(TITLE)  # the most severe first
    expect(incidents.nth(1)).to_contain_text(OTHER)
    for chart in ("dash-severity-chart", "dash-tasks-chart"):
        page.wait_for_function(CHART_DRAWN, arg=chart)

    svg = live.locator("svg.region-map-svg")
    expect(svg).to_be_visible()
    assert svg.get_attribute("aria-label") == j.t("Map of open incidents by severity")
    county = svg.locator('path[data-code="320106"]')  # the affected district, tinted by the worst severity
    expect(county).to_have_class(re.compile(r"\bregion-county\b.*\baffected\b.*\bseverity-2\b"))
    assert county.get_attribute("fill") == SEVERITY_TINTS[Severity.II]
    assert county.locator("title").text_content() == "鼓楼区"
    expect(svg.locator('path[data-code="320100"]')).to_have_class(re.compile(r"\baffected severity-2\b"))
    expect(svg.locator('path[data-code="320200"]')).not_to_have_class(re.compile(r"\baffected\b"))  # Wuxi
    expect(svg.locator(".region-map-labels text", has_text="南京市")).to_have_count(1)
    marker = svg.locator(f'a.region-map-marker[href="/incidents/{flood.pk}/"]')
    expect(marker).to_have_class(re.compile(r"\bseverity-2\b"))
    assert marker.locator("title").text_content() == f"{TITLE} · {shown(Severity.II.label, lang)}"
    assert svg.locator("a.region-map-marker").count() == 2
    box = svg.bounding_box()
    assert box and box["width"] >= 300 and box["height"] >= 200, f"the map is too small to read: {box}"

    rows = live.locator("#dash-task-table tbody tr")
    expect(rows).to_have_count(3)
    figures = {cells(r)[0]: cells(r)[1:] for r in rows.all()}  # in hand, done, overdue, all
    assert figures == {
        s["fire"].name: ["0", "1", "0", "1"],
        s["health"].name: ["1", "0", "1", "1"],
        s["transport"].name: ["1", "0", "1", "1"],
    }
    figures_row = live.locator("#dash-figures tbody tr", has_text=TITLE)
    assert cells(figures_row)[1:6] == ["0", "3", "0", "0", "1200"]
    if lang == "zh-hans":
        expect(live.locator(".dash-updated time")).to_have_text(re.compile(ZH_DATE))
    j.shot(page, "1-dashboard")

    # --- the live part follows new data without a reload ---------------------------------------
    settings.DASHBOARD_POLL_SECONDS = POLL_SECONDS
    page.reload()
    page.evaluate("window.__notReloaded = true")
    report(f.member(s["em_nj"], Role.STAFF), s["em_nj"], LIVE, severity=Severity.IV)
    expect(live.locator("#dash-incident-list")).to_contain_text(LIVE, timeout=4_000 + 2_000 * POLL_SECONDS)
    expect(live.locator("#dash-open-incidents")).to_have_text("3")
    expect(svg.locator("a.region-map-marker")).to_have_count(3)
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    page.wait_for_function(CHART_DRAWN, arg="dash-severity-chart")
    assert page.evaluate("Chart.getChart('dash-severity-chart').data.datasets[0].data") == [0, 1, 0, 2]
    settings.DASHBOARD_POLL_SECONDS = 30  # back to the default: no swap under the audits below

    # --- the scorecard, ranked from the task history --------------------------------------------
    page.goto("/tasks/scorecard/")
    expect(page.locator("main h1")).to_have_text(j.t("Scorecard"))
    ranked = page.locator("table.scorecard tbody tr")
    expect(ranked).to_have_count(3)
    region = " · 南京市"
    assert [cells(r) for r in ranked.all()] == [
        ["1", s["fire"].name + region, "1", "10", "0", "0", "0", "0.0%", "50"],
        ["2", s["health"].name + region, "1", "40", "0", "0", "1", "100.0%", "—"],
        ["3", s["transport"].name + region, "1", "—", "1", "0", "1", "100.0%", "—"],
    ]
    j.shot(page, "2-scorecard")

    # a period that ends before it starts: the error stands beside "To", in the page's language
    today = timezone.localdate()
    period = page.locator("form.period")
    period.get_by_label(j.t("From")).fill(today.isoformat())
    period.get_by_label(j.t("To")).fill((today - timedelta(days=3)).isoformat())
    j.expect_refusal("/tasks/scorecard/?")
    period.get_by_role("button", name=j.t("Show"), exact=True).click()
    to_field = page.locator("form.period label", has=page.get_by_label(j.t("To")))
    expect(to_field.locator(".error")).to_have_text(j.t("The end must not be before the start."))
    expect(page.locator("table.scorecard tbody")).to_have_text(j.t("Correct the period to see the scorecard."))
    j.shot(page, "3-scorecard-error")

    # --- the incident's page: generate a consolidated report, by keyboard ----------------------
    page.goto("/")
    page.locator("#dash-incident-list").get_by_role("link", name=TITLE, exact=True).click()
    expect(page.locator("main h1")).to_have_text(TITLE)
    generate = page.get_by_role("button", name=j.t("Generate consolidated report"), exact=True)
    page.locator("#reporting-h").click()  # the keyboard's starting point: the card's heading
    tab_to(page, generate)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/reports/\d+/$"))
    report_row = Report.objects.get(incident=flood, requested_by=s["office_head"])
    assert page.url.endswith(f"/reports/{report_row.pk}/")
    expect(page.locator(".messages")).to_contain_text(j.t("The report is being generated."))
    progress = page.locator("#report-live")
    expect(progress.locator(".badge")).to_have_text(shown(JobStatus.DONE.label, lang))
    expect(progress.locator("progress")).to_have_attribute("value", "100")
    expect(progress.locator(".percent")).to_have_text("100%")
    if lang == "zh-hans":
        expect(progress.locator(".times time").first).to_have_text(re.compile(ZH_DATE))
    summary = page.locator(".report-summary")
    expect(summary.locator("h3").first).to_have_text(j.t("Key figures"))
    expect(summary).to_contain_text(s["health"].name)
    report_row.refresh_from_db()
    assert (report_row.status, report_row.language) == (JobStatus.DONE, lang)
    j.shot(page, "4-report")

    # the PDF: the Chinese title, the headings in the page's language, the CJK font inside
    with page.expect_download() as info:
        page.locator("#report-results").get_by_role("link", name=re.compile(r"^PDF")).click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf") and TITLE in download.suggested_filename
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = "".join(pdf_pages(data)).replace("\n", "")
    assert TITLE in text
    for heading in ("Key figures", "Departments' latest situation reports", "Task progress"):
        assert j.t(heading) in text, heading
    assert s["transport"].name in text and "城东堤脚出现管涌" in text
    if lang == "en":
        assert "Consolidated situation report No. 1" in text and "主要数据" not in text
    else:
        assert "Key figures" not in text
    fonts = embedded_fonts(data)
    assert fonts and all("WenQuanYiMicroHei" in name for name in fonts), fonts
    assert all(files == {"/FontFile2"} for files in fonts.values()), "the CJK font is named, not embedded"

    # --- the report list filters by incident -----------------------------------------------------
    page.get_by_role("navigation").get_by_role("link", name=j.t("Reports"), exact=True).click()
    expect(page.locator("table.reports tbody tr")).to_have_count(2)
    page.locator("form.filters select[name=incident]").select_option(str(flood.pk))
    page.locator("form.filters").get_by_role("button", name=j.t("Filter"), exact=True).click()
    expect(page).to_have_url(re.compile(rf"incident={flood.pk}"))
    listed = page.locator("table.reports tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(TITLE)
    expect(listed).not_to_contain_text(OTHER)
    j.shot(page, "5-report-list")

    # --- a member department's data steward, on a phone ------------------------------------------
    phone = journey("j6-dashboard", lang, "phone")
    page = phone.as_user(s["steward"])
    live = page.locator("#dashboard-live")
    expect(live.locator("#dash-command-h")).to_be_visible()  # a member of the group: its picture first
    expect(live.locator("svg.region-map-svg a.region-map-marker")).to_have_count(3)
    expect(live.locator("#dash-inbox-list")).to_contain_text(TASK)  # the health commission's late task
    expect(live.locator("#dash-inbox-list li.overdue")).to_have_count(1)
    expect(live.locator("#dash-inbox-overdue")).to_have_text("1")
    for chart in ("dash-severity-chart", "dash-tasks-chart"):
        page.wait_for_function(CHART_DRAWN, arg=chart)
    phone.shot(page, "6-steward-dashboard")

    # the steward sees the incident but may not generate its report: no button, and a refused POST
    page.goto(f"/incidents/{flood.pk}/")
    expect(page.locator("main h1")).to_have_text(TITLE)
    expect(page.locator("#reports-and-archive")).to_be_visible()
    expect(page.get_by_role("button", name=j.t("Generate consolidated report"))).to_have_count(0)
    phone.shot(page, "7-steward-incident")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    url = f"/reports/request/{flood.pk}/"
    phone.expect_refusal(url)
    refused = page.request.post(
        url, form={"kind": "situation", "idempotency_key": "steward-try"}, headers={"X-CSRFToken": csrf}
    )
    assert refused.status == 403
    assert not Report.objects.filter(incident=flood, requested_by=s["steward"]).exists()
    assert AuditEvent.objects.filter(action="access.denied", actor=s["steward"]).exists()
