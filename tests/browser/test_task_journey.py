"""A task from dispatch to accountability, in a real browser, on a desktop and on a phone.

The head of a city's emergency-management bureau dispatches one task to two departments; the fire
brigade's head accepts theirs; the transport bureau's head declines theirs with a reason; the
issuer finds the decline on the board and re-assigns the task to the health commission, the
deadline unchanged. The pages are Chinese (the browser asks for zh-CN); fields are found by name
and buttons by their translated labels. Nothing may be fetched from outside this machine.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.core.permissions import Role
from apps.organizations.choices import DepartmentType
from apps.tasking.choices import TaskStatus
from apps.tasking.models import Task
from tests.browser.conftest import OfflineGuard
from tests.browser.test_incident_journey import assert_no_horizontal_scroll, log_in
from tests.browser.test_portal_login import DEVICES, zh
from tests.factories import department, member, region

pytestmark = pytest.mark.browser

TITLE = "转移城东堤沿线低洼区群众"
DECLINE_REASON = "本局无冲锋舟，转移群众不属交通运输局职责"


def scene():
    province = region(name="江淮省")
    city = region(parent=province, name="东河市")
    ema = department(region=city, name="东河市应急管理局")
    fire = department(region=city, name="东河市消防救援支队", type=DepartmentType.FIRE)
    transport = department(region=city, name="东河市交通运输局", type=DepartmentType.TRANSPORT)
    health = department(region=city, name="东河市卫生健康委员会", type=DepartmentType.HEALTH)
    return {
        "fire": fire,
        "transport": transport,
        "health": health,
        "issuer": member(ema, Role.HEAD, display_name="市应急局局长"),
        "fire_head": member(fire, Role.HEAD, display_name="消防支队长"),
        "transport_head": member(transport, Role.HEAD, display_name="交通局局长"),
    }


@pytest.mark.parametrize("device", DEVICES)
def test_dispatch_accept_decline_and_reassign(live_server, chromium, screenshot, device):
    s = scene()
    deadline = timezone.localtime(timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    contexts = []

    def browser_as(user):
        context = chromium.new_context(base_url=live_server.url, locale="zh-CN", **DEVICES[device])
        context.set_default_timeout(10_000)
        contexts.append((context, OfflineGuard(context)))
        page = contexts[-1][1].watch(context.new_page())
        log_in(page, user)
        return page

    def shot(page, name):
        assert_no_horizontal_scroll(page)
        screenshot(page, f"task-{device}-{name}")

    try:
        # Given: the issuer head, on the task pages from the navigation
        page = browser_as(s["issuer"])
        heading = page.locator("main h1")
        page.get_by_role("navigation").get_by_role("link", name=zh("Tasks"), exact=True).click()
        expect(heading).to_have_text(zh("My department's tasks"))
        page.get_by_role("link", name=zh("Dispatch a task"), exact=True).click()
        expect(heading).to_have_text(zh("Dispatch a task"))

        # When: they dispatch one task to the fire brigade and the transport bureau
        expect(page.locator("select[name=issuer] option:checked")).to_have_text("东河市应急管理局")
        page.locator("select[name=departments]").select_option([str(s["fire"].pk), str(s["transport"].pk)])
        page.locator("[name=title]").fill(TITLE)
        page.locator("[name=instructions]").fill("18:00 前完成城东堤 K10–K14 段低洼区 1,200 名群众转移。")
        page.locator("select[name=priority]").select_option("urgent")
        page.locator("[name=deadline]").fill(deadline.strftime("%Y-%m-%dT%H:%M"))
        shot(page, "1-dispatch-form")
        page.get_by_role("button", name=zh("Dispatch"), exact=True).click()

        # Then: the board, with both tasks issued, one per department
        expect(heading).to_have_text(zh("Tasks we issued"))
        expect(page.locator(".messages")).to_contain_text(TITLE)
        issued = page.locator(".board-group.status-issued tbody tr")
        expect(issued).to_have_count(2)
        expect(issued.filter(has_text="东河市消防救援支队")).to_have_count(1)
        expect(issued.filter(has_text="东河市交通运输局")).to_have_count(1)
        expect(page.locator(".board-group.status-issued .badge.prio-urgent")).to_have_count(2)
        shot(page, "2-board-issued")
        fire_task = Task.objects.get(title=TITLE, department=s["fire"])
        transport_task = Task.objects.get(title=TITLE, department=s["transport"])

        # When: the fire brigade's head opens it from the inbox and accepts it
        page = browser_as(s["fire_head"])
        heading = page.locator("main h1")
        page.get_by_role("navigation").get_by_role("link", name=zh("Tasks"), exact=True).click()
        expect(page.locator(".tile.status-issued .n")).to_have_text("1")
        page.get_by_role("link", name=TITLE, exact=True).click()
        expect(heading).to_have_text(TITLE)
        expect(page).to_have_url(f"{live_server.url}/tasks/{fire_task.pk}/")
        expect(page.locator("form[action$='/verify/']")).to_have_count(0)  # the issuer's buttons are not here
        page.get_by_role("button", name=zh("Accept the task"), exact=True).click()

        # Then: accepted, in the history with its ledger entry; the work forms are offered now
        expect(page.locator(".messages")).to_contain_text(zh("Task accepted: your department is accountable for it."))
        expect(page.locator(".pagehead .badges")).to_contain_text(zh("Accepted"))
        expect(page.locator("ol.task-history li .kind")).to_have_text([zh("Issued"), zh("Accepted")])
        expect(page.locator("ol.task-history a.seq")).to_have_count(2)
        expect(page.get_by_role("button", name=zh("Accept the task"), exact=True)).to_have_count(0)
        expect(page.get_by_role("button", name=zh("Mark as completed"), exact=True)).to_be_visible()
        shot(page, "3-accepted")

        # When: the transport bureau's head declines theirs, first without a reason
        page = browser_as(s["transport_head"])
        heading = page.locator("main h1")
        page.goto(f"/tasks/{transport_task.pk}/")
        expect(heading).to_have_text(TITLE)
        decline = page.locator("form[action$='/decline/']")
        decline.locator("[name=reason]").evaluate("el => el.removeAttribute('required')")
        decline.get_by_role("button", name=zh("Decline the task"), exact=True).click()
        expect(page.locator("form[action$='/decline/'] .field.invalid .error")).to_be_visible()
        decline = page.locator("form[action$='/decline/']")
        decline.locator("[name=reason]").fill(DECLINE_REASON)
        decline.get_by_role("button", name=zh("Decline the task"), exact=True).click()

        # Then: declined, the reason on the page; the department stays accountable
        expect(page.locator(".messages")).to_contain_text(
            zh("Task declined. The issuer re-assigns it or overrules the decline.")
        )
        expect(page.locator(".pagehead .badges")).to_contain_text(zh("Declined"))
        expect(page.locator(".facts")).to_contain_text(DECLINE_REASON)
        expect(page.locator(".facts .accountable")).to_contain_text("东河市交通运输局")
        shot(page, "4-declined")

        # When: the issuer sees the decline on the board and re-assigns the task to the health commission
        page = contexts[0][0].pages[0]
        heading = page.locator("main h1")
        page.goto("/tasks/board/")
        declined = page.locator(".board-group.status-declined tbody tr")
        expect(declined).to_have_count(1)
        expect(page.locator(".board-group.status-accepted tbody tr")).to_have_count(1)
        shot(page, "5-board-declined")
        declined.get_by_role("link", name=TITLE, exact=True).click()
        expect(heading).to_have_text(TITLE)
        expect(page.get_by_role("button", name=zh("Overrule"), exact=True)).to_be_visible()
        reassign = page.locator("form[action$='/reassign/']")
        reassign.locator("select[name=department]").select_option(str(s["health"].pk))
        reassign.locator("[name=note]").fill("卫健委负责转移途中的伤病员")
        reassign.get_by_role("button", name=zh("Re-assign the task"), exact=True).click()

        # Then: issued again to the health commission, with the same deadline, and the history says so
        expect(page.locator(".messages")).to_contain_text(zh("Task re-assigned. The deadline is unchanged."))
        expect(page.locator(".facts .accountable")).to_contain_text("东河市卫生健康委员会")
        expect(page.locator(".pagehead .badges")).to_contain_text(zh("Issued"))
        expect(page.locator("ol.task-history li").last).to_contain_text("东河市交通运输局 → 东河市卫生健康委员会")
        expect(page.locator("ol.task-history li .kind")).to_have_text([zh("Issued"), zh("Declined"), zh("Re-assigned")])
        shot(page, "6-reassigned")

        transport_task.refresh_from_db()
        fire_task.refresh_from_db()
        assert (transport_task.status, transport_task.department) == (TaskStatus.ISSUED, s["health"])
        assert timezone.localtime(transport_task.deadline) == deadline
        assert fire_task.status == TaskStatus.ACCEPTED
        for _context, guard in contexts:
            # the decline without a reason was answered 400 on purpose (the refused form, not an asset)
            guard.failed = [f for f in guard.failed if not f.endswith(f"/tasks/{transport_task.pk}/decline/")]
            guard.errors = [e for e in guard.errors if "400" not in e]
            guard.assert_clean()
    finally:
        for context, _guard in contexts:
            context.close()
