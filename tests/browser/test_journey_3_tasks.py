"""Journey 3 (issue 9): tasks with one accountable department: a fire brigade accepts, a transport
bureau declines with a reason, a health commission asks for a transfer, the issuer resolves the
decline, and an overdue task shows as escalated.

The head of the city's emergency-management bureau dispatches an evacuation task to the fire
brigade and the transport bureau (an earlier task, to arrange buses for the evacuees, went to the
health commission). The fire brigade's head accepts theirs. The health commission's head asks the
transport bureau to take the bus task over; the transport bureau stays out of it until it answers:
its head sees the task but no button to accept it (and the server refuses the POST), and takes it
over instead. The transport head then declines the evacuation task: without a reason the form says
so beside the field, in the page's language; with one (Tab to the button, Enter) it is declined and
the bureau stays accountable. The issuer finds the decline on the board, filters the board by
department, and re-assigns the task to the public security bureau, the deadline unchanged. Then
the fire brigade's task runs past its deadline: the escalation job (the beat task's function, run
here) escalates it to the brigade's head, and the board and the task's page show it escalated.

Runs in Chinese and in English, on a desktop and at a phone's viewport. Where this differs from
"the issuer resolves both": a transfer is answered by the department asked to take over (the
service's rule), not by the issuer.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.organizations.choices import DepartmentType as T
from apps.tasking import services as task_services
from apps.tasking.choices import Priority, TaskEventKind, TaskStatus
from apps.tasking.models import Task
from tests import factories as f
from tests.browser.conftest import ZH_DATE

pytestmark = pytest.mark.browser

TITLE = "转移城东堤沿线低洼区群众"
INSTRUCTIONS = "18:00 前完成城东堤 K10–K14 段低洼区 1,200 名群众转移。"
BUSES = "调度客车转运安置群众"
TRANSFER_REASON = "客运车辆由交通运输局统一调度，卫健委无调度职能"
DECLINE_REASON = "本局无冲锋舟，转移群众不属交通运输局职责"
REASSIGN_NOTE = "转移群众由公安局组织，交通运输局保障车辆"


def scene():
    """A city with its emergency-management bureau (the issuer), fire brigade, transport bureau,
    health commission and public security bureau, each with a head; the bus task already issued to
    the health commission."""
    province = f.region(name="江淮省")
    city = f.region(parent=province, name="东河市")
    d = f.department
    ema = d(region=city, type=T.EMERGENCY, name="东河市应急管理局")
    s = {
        "ema": ema,
        "fire": d(region=city, type=T.FIRE, name="东河市消防救援支队"),
        "transport": d(region=city, type=T.TRANSPORT, name="东河市交通运输局"),
        "health": d(region=city, type=T.HEALTH, name="东河市卫生健康委员会"),
        "police": d(region=city, type=T.PUBLIC_SECURITY, name="东河市公安局"),
    }
    s["issuer"] = f.member(ema, Role.HEAD, display_name="市应急局局长")
    for key, name in (("fire", "消防支队长"), ("transport", "交通局局长"), ("health", "卫健委主任")):
        s[f"{key}_head"] = f.member(s[key], Role.HEAD, display_name=name)
    [s["buses"]] = task_services.task_dispatch(
        actor=s["issuer"],
        issuer_department=ema,
        departments=[s["health"]],
        title=BUSES,
        instructions="调度 20 辆客车，将转移群众送往市体育中心安置点。",
        priority=Priority.HIGH,
        deadline=timezone.now() + timedelta(hours=4),
    )
    return s


def labelled(scope, text: str):
    """The input whose label reads `text` (a required field's label ends in a hidden asterisk)."""
    return scope.get_by_label(re.compile(rf"^\s*{re.escape(text)}\s*\*?\s*$"))


def field_of(form, name: str):
    """The wrapper (label, input, help, errors) of the field `name` in `form`."""
    return form.locator(".field", has=form.page.locator(f"[name={name}]"))


def csrf_post(page, url: str, form: dict | None = None):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, headers={"X-CSRFToken": token}, form=form or {}, max_redirects=0)


def open_tasks(j, page):
    nav = page.get_by_role("navigation", name=j.t("Main navigation"))
    nav.get_by_role("link", name=j.t("Tasks"), exact=True).click()
    expect(page.locator("main h1")).to_have_text(j.t("My department's tasks"))


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_journey_3_accept_decline_transfer_resolve_and_escalate(journey, lang, device):
    s = scene()
    j = journey("j3-tasks", lang, device)
    deadline = timezone.localtime(timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    buses = s["buses"]

    # --- the issuer dispatches the evacuation to the fire brigade and the transport bureau -----------
    issuer = j.as_user(s["issuer"])
    open_tasks(j, issuer)
    issuer.get_by_role("link", name=j.t("Dispatch a task"), exact=True).click()
    expect(issuer.locator("main h1")).to_have_text(j.t("Dispatch a task"))
    labelled(issuer, j.t("Accountable departments")).select_option([str(s["fire"].pk), str(s["transport"].pk)])
    labelled(issuer, j.t("Title")).fill(TITLE)
    labelled(issuer, j.t("Instructions")).fill(INSTRUCTIONS)
    labelled(issuer, j.t("Priority")).select_option(Priority.URGENT)
    labelled(issuer, j.t("Deadline")).fill(deadline.strftime("%Y-%m-%dT%H:%M"))
    issuer.get_by_role("button", name=j.t("Dispatch"), exact=True).click()
    expect(issuer.locator("main h1")).to_have_text(j.t("Tasks we issued"))
    expect(issuer.locator(".messages")).to_contain_text(TITLE)
    issued = issuer.locator(".board-group.status-issued tbody tr")
    expect(issued).to_have_count(3)
    expect(issued.filter(has_text=TITLE)).to_have_count(2)
    expect(issuer.locator(".board-group.status-issued .badge.prio-urgent")).to_have_count(2)
    if lang == "zh-hans":
        expect(issued.first.locator("time.deadline")).to_have_text(re.compile(ZH_DATE))
    j.shot(issuer, "1-board-issued")
    fire_task = Task.objects.get(title=TITLE, department=s["fire"])
    evacuation = Task.objects.get(title=TITLE, department=s["transport"])

    # --- the fire brigade's head accepts ------------------------------------------------------------
    fire = j.as_user(s["fire_head"])
    open_tasks(j, fire)
    expect(fire.locator(".tile.status-issued .n")).to_have_text("1")
    fire.get_by_role("link", name=TITLE, exact=True).click()
    expect(fire.locator("main h1")).to_have_text(TITLE)
    expect(fire.get_by_role("button", name=j.t("Verify the result"))).to_have_count(0)  # the issuer's
    fire.get_by_role("button", name=j.t("Accept the task"), exact=True).click()
    expect(fire.locator(".messages")).to_contain_text(j.t("Task accepted: your department is accountable for it."))
    expect(fire.locator(".pagehead .badges")).to_contain_text(j.t("Accepted"))
    expect(fire.locator("ol.task-history li .kind")).to_have_text([j.t("Issued"), j.t("Accepted")])
    expect(fire.get_by_role("button", name=j.t("Accept the task"))).to_have_count(0)
    expect(fire.get_by_role("button", name=j.t("Mark as completed"), exact=True)).to_be_visible()
    j.shot(fire, "2-accepted")

    # --- the health commission asks the transport bureau to take the bus task over -------------------
    health = j.as_user(s["health_head"])
    open_tasks(j, health)
    health.get_by_role("link", name=BUSES, exact=True).click()
    transfer = health.locator("form[action$='/transfer/']")
    labelled(transfer, j.t("Department to take over")).select_option(str(s["transport"].pk))
    labelled(transfer, j.t("Reason for the transfer")).fill(TRANSFER_REASON)
    transfer.get_by_role("button", name=j.t("Request the transfer"), exact=True).click()
    expect(health.locator(".messages")).to_contain_text(
        j.t("Transfer requested. Your department stays accountable until it is accepted.")
    )
    expect(health.locator(".pagehead .badges")).to_contain_text(j.t("Transfer requested"))
    expect(health.locator(".facts .accountable")).to_contain_text(s["health"].name)
    expect(health.locator(".facts")).to_contain_text(TRANSFER_REASON)
    j.shot(health, "3-transfer-requested")

    # --- the transport head: sees the bus task, may not accept it, takes it over ---------------------
    transport = j.as_user(s["transport_head"])
    open_tasks(j, transport)
    inbox = transport.locator("table.tasks tbody tr")
    expect(inbox).to_have_count(2)
    expect(inbox.filter(has_text=BUSES)).to_contain_text(s["health"].name)  # still the health commission's
    inbox.get_by_role("link", name=BUSES, exact=True).click()
    expect(transport.locator("main h1")).to_have_text(BUSES)
    expect(transport.get_by_role("button", name=j.t("Accept the task"))).to_have_count(0)
    expect(transport.get_by_role("button", name=j.t("Decline the task"))).to_have_count(0)
    j.expect_refusal(f"/tasks/{buses.pk}/accept/")
    assert csrf_post(transport, f"/tasks/{buses.pk}/accept/").status == 403
    assert Task.objects.get(pk=buses.pk).status == TaskStatus.TRANSFER_REQUESTED
    transport.get_by_role("button", name=j.t("Take over the task"), exact=True).click()
    expect(transport.locator(".messages")).to_contain_text(
        j.t("Transfer accepted: your department is now accountable for the task.")
    )
    expect(transport.locator(".facts .accountable")).to_contain_text(s["transport"].name)
    expect(transport.locator("ol.task-history li").last).to_contain_text(f"{s['health'].name} → {s['transport'].name}")
    j.shot(transport, "4-transfer-accepted")

    # --- and declines the evacuation: first without a reason -----------------------------------------
    transport.goto(f"/tasks/{evacuation.pk}/")
    expect(transport.locator("main h1")).to_have_text(TITLE)
    decline = transport.locator("form[action$='/decline/']")
    labelled(decline, j.t("Reason for declining")).evaluate("el => el.removeAttribute('required')")
    j.expect_refusal(f"/tasks/{evacuation.pk}/decline/")
    decline.get_by_role("button", name=j.t("Decline the task"), exact=True).click()
    decline = transport.locator("form[action$='/decline/']")
    expect(field_of(decline, "reason")).to_have_class(re.compile(r"\binvalid\b"))
    expect(field_of(decline, "reason").get_by_role("alert")).to_have_text(j.t("This field is required."))
    expect(transport.locator(".pagehead .badges")).to_contain_text(j.t("Issued"))
    j.shot(transport, "5-decline-error")
    reason = labelled(decline, j.t("Reason for declining"))
    reason.fill(DECLINE_REASON)
    reason.press("Tab")  # keyboard only: from the reason to the button, and Enter
    expect(decline.get_by_role("button", name=j.t("Decline the task"), exact=True)).to_be_focused()
    transport.keyboard.press("Enter")
    expect(transport.locator(".messages")).to_contain_text(
        j.t("Task declined. The issuer re-assigns it or overrules the decline.")
    )
    expect(transport.locator(".pagehead .badges")).to_contain_text(j.t("Declined"))
    expect(transport.locator(".facts")).to_contain_text(DECLINE_REASON)
    expect(transport.locator(".facts .accountable")).to_contain_text(s["transport"].name)

    # --- the issuer finds the decline, filters the board, re-assigns -----------------------------------
    issuer.goto("/tasks/board/")
    expect(issuer.locator(".board-group.status-declined tbody tr")).to_have_count(1)
    expect(issuer.locator(".board-group.status-accepted tbody tr")).to_have_count(2)
    issuer.locator("form.filters select[name=department]").select_option(str(s["transport"].pk))
    issuer.get_by_role("button", name=j.t("Filter"), exact=True).click()
    expect(issuer.locator(".board-group tbody tr")).to_have_count(2)  # the declined evacuation, the buses
    expect(issuer.locator(".board-group.status-accepted tbody tr")).to_contain_text(BUSES)
    j.shot(issuer, "6-board-filtered", audit=False)  # pages audited above in other states (time)
    issuer.locator(".board-group.status-declined").get_by_role("link", name=TITLE, exact=True).click()
    expect(issuer.locator("main h1")).to_have_text(TITLE)
    expect(issuer.get_by_role("button", name=j.t("Overrule"), exact=True)).to_be_visible()
    reassign = issuer.locator("form[action$='/reassign/']")
    labelled(reassign, j.t("New accountable department")).select_option(str(s["police"].pk))
    labelled(reassign, j.t("Note")).fill(REASSIGN_NOTE)
    reassign.get_by_role("button", name=j.t("Re-assign the task"), exact=True).click()
    expect(issuer.locator(".messages")).to_contain_text(j.t("Task re-assigned. The deadline is unchanged."))
    expect(issuer.locator(".facts .accountable")).to_contain_text(s["police"].name)
    expect(issuer.locator(".pagehead .badges")).to_contain_text(j.t("Issued"))
    expect(issuer.locator("ol.task-history li .kind")).to_have_text(
        [j.t("Issued"), j.t("Declined"), j.t("Re-assigned")]
    )
    expect(issuer.locator("ol.task-history li").last).to_contain_text(f"{s['transport'].name} → {s['police'].name}")
    j.shot(issuer, "7-reassigned", audit=False)

    # --- the fire brigade's task runs past its deadline; the beat job escalates it ---------------------
    Task.objects.filter(pk=fire_task.pk).update(deadline=timezone.now() - timedelta(minutes=10))
    counts = task_services.tasks_escalate()
    assert counts[TaskEventKind.ESCALATED_HEAD] == 1
    issuer.goto("/tasks/board/")
    expect(issuer.locator(".tile-overdue .n")).to_have_text("1")
    late = issuer.locator(f"#task-{fire_task.pk}")
    expect(late).to_have_class(re.compile(r"\boverdue\b"))
    expect(late.locator(".badge.escalated")).to_have_text(j.t("Escalated to the department head"))
    j.shot(issuer, "8-board-escalated")
    late.get_by_role("link", name=TITLE, exact=True).click()
    expect(issuer.locator(".pagehead .badges")).to_contain_text(j.t("Overdue"))
    expect(issuer.locator(".pagehead .badge.escalated")).to_have_text(j.t("Escalated to the department head"))
    expect(issuer.locator("ol.task-history li .kind").last).to_have_text(j.t("Escalated to the department head"))
    j.shot(issuer, "9-task-escalated", audit=False)

    # --- what the database holds ---------------------------------------------------------------------
    fire_task.refresh_from_db()
    evacuation.refresh_from_db()
    buses.refresh_from_db()
    assert (fire_task.status, fire_task.escalated_head_at is not None) == (TaskStatus.ACCEPTED, True)
    assert (evacuation.status, evacuation.department) == (TaskStatus.ISSUED, s["police"])
    assert timezone.localtime(evacuation.deadline) == deadline
    assert (buses.status, buses.department, buses.transfer_to) == (TaskStatus.ACCEPTED, s["transport"], None)
