"""Journey 2 (issue 9): the leading group's information office verifies a reported incident, raises
it to severity II, and sees the plan's tasks go out to departments in two provinces.

A flood on the river between two provinces was reported by a county of the first (affecting that
county and a city of the second, under their collaboration agreement). The head of the cross-region
leading group's information office finds it in the incident list (filtered to reported incidents),
puts it in the group's charge and verifies it: no plan matches severity III. Raising the severity
without a reason is refused beside the field, in the page's language; with a reason (the button
reached with Tab, pressed with Enter) the severity II flood plan activates: its fire and health
tasks go to the departments of the affected regions in both provinces, issued by the office on the
group's behalf. The incident page lists the dispatches with their deadlines (Chinese dates under
zh-hans); the office's task board shows the four tasks, with the departments of both provinces,
and filters them by department. A member department's head in the second province sees the flood
and its task but no command forms, and the server refuses a severity change posted anyway.

Runs in Chinese and in English on a desktop.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, IncidentStatus, Severity, Subtype
from apps.incidents.models import Incident, PlanTaskTemplate, ResponsePlan
from apps.organizations import services as org_services
from apps.organizations.choices import AgreementStatus, LeadingGroupKind, RegionLevel
from apps.organizations.choices import DepartmentType as T
from apps.tasking.choices import TaskStatus
from apps.tasking.models import Task
from tests import factories as f
from tests.browser.conftest import ZH_DATE

pytestmark = pytest.mark.browser

TITLE = "长江东河—南岸段堤防管涌险情"
PLAN = "长江防汛Ⅱ级应急响应预案"
REASON = "南岸段出现第二处管涌，险情跨省扩大"
TARGETS = ("fire_a", "health_a", "fire_b", "health_b")  # a county of 江淮, a city of 江南
TEMPLATES = (("抢险救援力量前置", T.FIRE, 60), ("医疗卫生救援保障", T.HEALTH, 120))


def scene():
    """Province 江淮 (city 东河, county 东河县) and province 江南 (city 南岸), with an active
    agreement; a standing leading group over 东河 and 南岸 whose information office sits in 江淮;
    fire and health departments in the county and in 南岸; the severity II flood plan; the flood,
    reported by the county at severity III, affecting the county and 南岸."""
    admin = f.admin_user()
    jianghuai = f.region(name="江淮省", level=RegionLevel.PROVINCE)
    donghe = f.region(parent=jianghuai, name="东河市", level=RegionLevel.CITY)
    county = f.region(parent=donghe, name="东河县", level=RegionLevel.COUNTY)
    jiangnan = f.region(name="江南省", level=RegionLevel.PROVINCE)
    nanan = f.region(parent=jiangnan, name="南岸市", level=RegionLevel.CITY)
    agreement = org_services.agreement_create(
        actor=admin,
        title="江淮—江南跨省应急协同协议",
        parties=[jianghuai, jiangnan],
        valid_from=timezone.now() - timedelta(days=30),
        share_directory=True,
        share_incidents=True,
        share_tasks=True,
    )
    org_services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.ACTIVE)
    d = f.department
    county_ema = d(region=county, type=T.EMERGENCY, name="东河县应急管理局")
    d(region=donghe, type=T.EMERGENCY, name="东河市应急管理局")
    d(region=nanan, type=T.EMERGENCY, name="南岸市应急管理局")
    office = d(region=jianghuai, type=T.RESEARCH, name="长江中游防汛信息办")
    center = d(region=jiangnan, type=T.BIG_DATA_COMPANY, name="长江中游大数据管理中心")
    targets = {
        "fire_a": d(region=county, type=T.FIRE, name="东河县消防救援大队"),
        "health_a": d(region=county, type=T.HEALTH, name="东河县卫生健康局"),
        "fire_b": d(region=nanan, type=T.FIRE, name="南岸市消防救援支队"),
        "health_b": d(region=nanan, type=T.HEALTH, name="南岸市卫生健康委员会"),
    }
    group = org_services.leading_group_create(
        actor=admin,
        name="长江中游防汛信息化应急领导小组",
        kind=LeadingGroupKind.STANDING,
        regions=[donghe, nanan],
        information_office=office,
        big_data_center=center,
        members=list(targets.values()),
    )
    plan = ResponsePlan.objects.create(
        name=PLAN,
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.II,
        lead_department_type=T.EMERGENCY,
    )
    PlanTaskTemplate.objects.bulk_create(
        PlanTaskTemplate(plan=plan, title=title, target_department_type=kind, deadline_minutes=minutes)
        for title, kind, minutes in TEMPLATES
    )
    reporter = f.member(county_ema, Role.STAFF, display_name="东河县值班员")
    incident = incident_services.incident_report(
        actor=reporter,
        department=county_ema,
        title=TITLE,
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place="长江东河—南岸段 K40+200",
        first_seen_at=timezone.now() - timedelta(minutes=50),
        regions=[county, nanan],
        description="左岸堤脚管涌，右岸南岸段出现渗水。",
    )
    incident_services.incident_report(  # another incident, for the list's filter
        actor=reporter,
        department=county_ema,
        title="东河县城区燃气管道泄漏",
        category=Category.ACCIDENT,
        subtype=Subtype.INFRASTRUCTURE,
        severity=Severity.IV,
        place="东河县城关镇",
        first_seen_at=timezone.now() - timedelta(days=2),
        regions=[county],
    )
    Incident.objects.filter(title="东河县城区燃气管道泄漏").update(status=IncidentStatus.CLOSED)
    return {
        "incident": incident,
        "group": group,
        "office": office,
        "provinces": (jianghuai, jiangnan),
        "office_head": f.member(office, Role.HEAD, display_name="信息办主任"),
        "fire_b_head": f.member(targets["fire_b"], Role.HEAD, display_name="南岸消防支队长"),
        **targets,
    }


def labelled(scope, text: str):
    """The input whose label reads `text` (a required field's label ends in a hidden asterisk)."""
    return scope.get_by_label(re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$"))


def field_of(form, name: str):
    """The wrapper (label, input, help, errors) of the field `name` in `form`."""
    return form.locator(".field", has=form.page.locator(f"[name={name}]"))


def csrf_post(page, url: str, form: dict | None = None):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, headers={"X-CSRFToken": token}, form=form or {}, max_redirects=0)


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey_2_the_information_office_verifies_raises_and_dispatches_across_provinces(journey, lang):
    s = scene()
    incident = s["incident"]
    j = journey("j2-verify", lang, "desktop")

    # --- the office finds the reported flood -------------------------------------------------------
    page = j.as_user(s["office_head"])
    heading = page.locator("main h1")
    page.get_by_role("navigation", name=j.t("Main navigation")).get_by_role(
        "link", name=j.t("Incidents"), exact=True
    ).click()
    rows = page.locator("table.incidents tbody tr")
    expect(rows).to_have_count(2)
    page.locator("form.filters select[name=status]").select_option(IncidentStatus.REPORTED)
    page.get_by_role("button", name=j.t("Filter"), exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(TITLE)
    expect(rows.first).to_contain_text("东河县、南岸市")
    j.shot(page, "1-list-filtered")
    rows.first.get_by_role("link", name=TITLE).click()
    expect(heading).to_have_text(TITLE)
    expect(page.locator(".pagehead .badges")).to_contain_text(j.t("Reported"))

    # --- the group takes charge; the office verifies -------------------------------------------------
    command = page.locator("section.command")
    labelled(command, j.t("Leading group")).select_option(str(s["group"].pk))
    command.get_by_role("button", name=j.t("Put in its charge"), exact=True).click()
    expect(page.locator(".messages")).to_contain_text(j.t("The leading group has taken charge."))
    expect(page.locator(".facts")).to_contain_text(s["group"].name)
    page.get_by_role("button", name=j.t("Verify the incident"), exact=True).click()
    expect(page.locator(".messages")).to_contain_text(j.t("Incident verified; matching response plans are activated."))
    expect(page.locator(".pagehead .badges")).to_contain_text(j.t("Verified"))
    plans = page.locator("section", has=page.get_by_role("heading", name=j.t("Response plans"), exact=True))
    expect(plans).to_contain_text(j.t("No plan activated yet."))  # no plan for severity III
    assert not Task.objects.filter(incident=incident).exists()

    # --- raising the severity needs a reason --------------------------------------------------------
    severity = page.locator("form[action$='/severity/']")
    labelled(severity, j.t("New severity")).select_option(str(Severity.II))
    labelled(severity, j.t("Reason")).evaluate("el => el.removeAttribute('required')")
    j.expect_refusal(f"/incidents/{incident.pk}/severity/")
    severity.get_by_role("button", name=j.t("Change severity"), exact=True).click()
    severity = page.locator("form[action$='/severity/']")
    expect(field_of(severity, "reason")).to_have_class(re.compile(r"\binvalid\b"))
    expect(field_of(severity, "reason").get_by_role("alert")).to_have_text(j.t("This field is required."))
    expect(labelled(severity, j.t("New severity"))).to_have_value(str(Severity.II))
    j.shot(page, "2-severity-error")
    assert Incident.objects.get(pk=incident.pk).severity == Severity.III

    reason = labelled(severity, j.t("Reason"))
    reason.fill(REASON)
    reason.press("Tab")  # keyboard only: from the reason to the button, and Enter
    expect(severity.get_by_role("button", name=j.t("Change severity"), exact=True)).to_be_focused()
    page.keyboard.press("Enter")

    # --- severity II: the plan's tasks go to both provinces -------------------------------------------
    expect(page.locator(".messages")).to_contain_text(j.t("Severity changed."))
    expect(page.locator(".pagehead .badge.sev-2")).to_be_visible()
    plans = page.locator("section", has=page.get_by_role("heading", name=j.t("Response plans"), exact=True))
    expect(plans.get_by_role("heading", name=re.compile(re.escape(PLAN)))).to_be_visible()
    dispatches = plans.locator("ul.dispatches li")
    expect(dispatches).to_have_count(4)
    for title, key in (
        ("抢险救援力量前置", "fire_a"),
        ("抢险救援力量前置", "fire_b"),
        ("医疗卫生救援保障", "health_a"),
        ("医疗卫生救援保障", "health_b"),
    ):
        expect(dispatches.filter(has_text=f"{title} → {s[key].name}")).to_have_count(1)
    if lang == "zh-hans":
        expect(dispatches.first.locator(".muted")).to_have_text(re.compile(ZH_DATE))
    kinds = page.locator("ol.timeline li .kind")
    expect(kinds).to_have_text(
        [
            j.t("Incident reported"),
            j.t("Leading group took charge"),
            j.t("Status changed"),
            j.t("Severity changed"),
            j.t("Response plan activated"),
        ]
    )
    expect(page.locator("ol.timeline li").nth(3)).to_contain_text(REASON)
    expect(page.locator("ol.timeline a.seq")).to_have_count(5)  # a head follows each entry to the ledger
    j.shot(page, "3-raised")

    tasks = list(Task.objects.filter(incident=incident).select_related("department__region"))
    assert len(tasks) == 4
    assert {(t.issuer_department, t.issuer_group) for t in tasks} == {(s["office"], s["group"])}
    provinces = {t.department.region.path.split("/")[0] for t in tasks}
    assert provinces == {p.path.split("/")[0] for p in s["provinces"]}
    assert {t.status for t in tasks} == {TaskStatus.ISSUED}

    # --- the office's task board: four tasks, departments of both provinces --------------------------
    page.get_by_role("navigation", name=j.t("Main navigation")).get_by_role(
        "link", name=j.t("Tasks"), exact=True
    ).click()
    page.get_by_role("link", name=j.t("Tasks we issued"), exact=True).click()
    expect(heading).to_have_text(j.t("Tasks we issued"))
    issued = page.locator(".board-group.status-issued tbody tr")
    expect(issued).to_have_count(4)
    for key in TARGETS:
        row = issued.filter(has_text=s[key].name)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(TITLE)  # the incident under the task's title
        expect(row).to_contain_text(s["group"].name)  # issued by the group
    j.shot(page, "4-board")
    department = page.locator("form.filters select[name=department]")
    options = set(department.locator("option").all_inner_texts())
    assert options == {"---------", *(f"{s[k].name} · {s[k].region.name}" for k in TARGETS)}
    department.select_option(str(s["fire_b"].pk))
    page.get_by_role("button", name=j.t("Filter"), exact=True).click()
    expect(issued).to_have_count(1)
    expect(issued.first).to_contain_text(s["fire_b"].name)

    # --- a member department in the other province: its task, no command --------------------------
    member = j.as_user(s["fire_b_head"])
    member.get_by_role("navigation", name=j.t("Main navigation")).get_by_role(
        "link", name=j.t("Tasks"), exact=True
    ).click()
    inbox = member.locator("table.tasks tbody tr")
    expect(inbox).to_have_count(1)
    expect(inbox.first).to_contain_text("抢险救援力量前置")
    member.goto(f"/incidents/{incident.pk}/")
    expect(member.locator("main h1")).to_have_text(TITLE)
    expect(member.locator("section.command")).to_have_count(0)
    expect(member.get_by_role("button", name=j.t("Change severity"))).to_have_count(0)
    j.expect_refusal(f"/incidents/{incident.pk}/severity/")
    refused = csrf_post(member, f"/incidents/{incident.pk}/severity/", {"severity": "1", "reason": "越权"})
    assert refused.status == 403
    assert Incident.objects.get(pk=incident.pk).severity == Severity.II
    j.shot(member, "5-member-view")
