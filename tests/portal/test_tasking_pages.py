"""Task pages: wiring, post/redirect/get, forms shown only to those who may use them, errors in the
user's language and never a 500, the dispatch form's reach and its double-click guard, the
scorecard and its CSV.

The permission matrix (tests/matrix/test_tasking_portal_matrix.py) covers who gets what status;
these tests cover what the pages do, including the issuer's and the information office's actions
that no matrix state holds.
"""

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from apps.core.permissions import Role
from apps.organizations import services as org_services
from apps.organizations.choices import LeadingGroupKind
from apps.tasking import services
from apps.tasking.choices import TaskStatus
from apps.tasking.models import Task, TaskComment
from tests import factories as f

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


class Scene:
    """Province P ── city C (issuer EMA, fire, transport, health) and a foreign province F (fire).
    A leading group over P has the city's EMA as information office."""

    def __init__(self):
        self.province = f.region(name="Prov-P")
        self.city = f.region(parent=self.province, name="City-C")
        self.foreign = f.region(name="Prov-F")
        self.issuer = f.department(region=self.city, name="City-EMA")
        self.fire = f.department(region=self.city, type="fire", name="City-Fire")
        self.transport = f.department(region=self.city, type="transport", name="City-Transport")
        self.health = f.department(region=self.city, type="health", name="City-Health")
        self.far = f.department(region=self.foreign, type="fire", name="Far-Fire")
        self.bdc = f.department(region=self.city, type="big_data_company", name="City-Big-Data")
        self.group = org_services.leading_group_create(
            actor=f.admin_user(),
            name="Flood-Command",
            kind=LeadingGroupKind.STANDING,
            regions=[self.province],
            information_office=self.issuer,
            big_data_center=self.bdc,
        )
        self.issuer_head = f.member(self.issuer, Role.HEAD, username="issuer-head", display_name="Issuer Head")
        self.issuer_staff = f.member(self.issuer, Role.STAFF, username="issuer-staff", display_name="Office Staff")
        self.fire_head = f.member(self.fire, Role.HEAD, username="fire-head", display_name="Fire Head")
        self.fire_staff = f.member(self.fire, Role.STAFF, username="fire-staff", display_name="Fire Staff")
        self.transport_head = f.member(self.transport, Role.HEAD, username="transport-head")
        self.health_head = f.member(self.health, Role.HEAD, username="health-head")
        self.far_head = f.member(self.far, Role.HEAD, username="far-head")
        self.bdc_head = f.member(self.bdc, Role.HEAD, username="bdc-head")

    def dispatch(self, *departments, **kwargs) -> list[Task]:
        values = {
            "actor": self.issuer_head,
            "issuer_department": self.issuer,
            "departments": list(departments) or [self.fire],
            "title": "Evacuate-Riverside",
            "deadline": timezone.now() + timedelta(hours=2),
            "instructions": "Move 1,200 residents",
        }
        return services.task_dispatch(**(values | kwargs))

    def task(self, *departments, **kwargs) -> Task:
        return self.dispatch(*departments, **kwargs)[0]

    def client(self, user) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def s(db):
    return Scene()


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def url(name, task=None, **kwargs) -> str:
    return reverse(f"portal:{name}", kwargs={"pk": task.pk} if task is not None else kwargs or None)


def local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def actions_on_page(response) -> set[str]:
    """The task actions whose form is on the page (by their URL's last segment)."""
    page = response.content.decode()
    task_pk = response.context["task"].pk
    return set(re.findall(rf'action="/tasks/{task_pk}/([a-z/-]+)/"', page))


# --- inbox and board -----------------------------------------------------------------------------


def test_the_nav_leads_to_the_inbox(s):
    page = s.client(s.fire_staff).get("/", **EN).content.decode()
    assert f'href="{url("task-inbox")}"' in page


def test_the_inbox_counts_by_state_and_highlights_overdue_tasks(s):
    late = s.task(s.fire, title="Late-Task")
    Task.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(minutes=5))
    accepted = s.task(s.fire, title="Accepted-Task")
    services.task_accept(actor=s.fire_head, task=accepted)
    s.task(s.transport, title="Not-Ours")

    response = s.client(s.fire_staff).get(url("task-inbox"), **EN)
    assert response.status_code == 200
    tiles = {value: n for value, _label, n, _active in response.context["tiles"]}
    assert tiles[TaskStatus.ISSUED] == 1 and tiles[TaskStatus.ACCEPTED] == 1 and tiles[TaskStatus.DECLINED] == 0
    assert response.context["overdue_count"] == 1
    page = response.content.decode()
    assert "Late-Task" in page and "Accepted-Task" in page and "Not-Ours" not in page
    assert f'<tr id="task-{late.pk}" class="overdue">' in page
    assert f'<tr id="task-{accepted.pk}">' in page
    assert 'class="tile tile-overdue alert' in page


def test_the_inbox_filters_by_status_and_overdue(s):
    late = s.task(s.fire, title="Late-Task")
    Task.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(minutes=5))
    accepted = s.task(s.fire, title="Accepted-Task")
    services.task_accept(actor=s.fire_head, task=accepted)
    client = s.client(s.fire_head)

    by_status = client.get(url("task-inbox"), {"status": "accepted"}, **EN)
    assert [t.pk for t in by_status.context["object_list"]] == [accepted.pk]
    assert dict((v, a) for v, _l, _n, a in by_status.context["tiles"])["accepted"] is True
    overdue = client.get(url("task-inbox"), {"overdue": "true"}, **EN)
    assert [t.pk for t in overdue.context["object_list"]] == [late.pk]
    # the counts stay those of the whole inbox
    assert overdue.context["overdue_count"] == 1 and by_status.context["overdue_count"] == 1
    assert client.get(url("task-inbox"), {"status": "nonsense"}, **EN).status_code == 200


def test_a_transfer_request_shows_in_the_named_departments_inbox(s):
    task = s.task(s.fire)
    services.task_request_transfer(actor=s.fire_head, task=task, to_department=s.transport, reason="Boats")
    page = s.client(s.transport_head).get(url("task-inbox"), **EN).content.decode()
    assert "Evacuate-Riverside" in page and "Transfer to City-Transport requested" in page


def test_the_board_groups_the_issued_tasks_by_state_across_departments(s):
    fire, transport, health = s.dispatch(s.fire, s.transport, s.health)
    services.task_decline(actor=s.transport_head, task=transport, reason="No boats")
    services.task_accept(actor=s.fire_head, task=fire)
    Task.objects.filter(pk=health.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    s.task(s.health, actor=s.health_head, issuer_department=s.health, title="Health-Own-Task")

    response = s.client(s.issuer_head).get(url("task-board"), **EN)
    groups = [(status, [t.pk for t in tasks]) for status, _label, tasks in response.context["groups"]]
    assert groups == [("issued", [health.pk]), ("declined", [transport.pk]), ("accepted", [fire.pk])]
    page = response.content.decode()
    assert "Health-Own-Task" not in page
    assert f'<tr id="task-{health.pk}" class="overdue">' in page
    assert "City-Fire" in page and "City-Transport" in page and "City-Health" in page
    # filtered to one accountable department, from a select of the departments on the board
    only_fire = s.client(s.issuer_head).get(url("task-board"), {"department": s.fire.pk}, **EN)
    assert [t.pk for _s, _l, tasks in only_fire.context["groups"] for t in tasks] == [fire.pk]
    assert f'<option value="{s.fire.pk}" selected>City-Fire · City-C</option>' in only_fire.content.decode()
    # the accountable department does not see the issuer's board
    assert s.client(s.fire_head).get(url("task-board")).context["groups"] == []


# --- the task page: only the allowed actions -------------------------------------------------------


def test_an_issued_task_offers_accept_decline_and_transfer_to_the_head_only(s):
    task = s.task(s.fire)
    assert actions_on_page(s.client(s.fire_head).get(url("task-detail", task))) == {
        "accept",
        "decline",
        "transfer",
        "comments",
    }
    assert actions_on_page(s.client(s.fire_staff).get(url("task-detail", task))) == {"comments"}
    assert actions_on_page(s.client(s.issuer_head).get(url("task-detail", task))) == {"cancel", "comments"}
    assert s.client(s.transport_head).get(url("task-detail", task)).status_code == 404


def test_the_page_shows_facts_history_with_ledger_links_for_heads_and_comments(s):
    task = s.task(s.fire)
    services.task_accept(actor=s.fire_head, task=task)
    services.task_progress(actor=s.fire_staff, task=task, body="Two boats on site")
    services.task_comment(actor=s.issuer_head, task=task, body="Hurry, the water rises")

    head_page = s.client(s.fire_head).get(url("task-detail", task), **EN).content.decode()
    for text in ("City-Fire", "City-EMA", "Move 1,200 residents", "Two boats on site", "Hurry, the water rises"):
        assert text in head_page
    seqs = list(task.events.values_list("ledger_seq", flat=True))
    assert len(seqs) == 3  # issued, accepted, progress
    for seq in seqs:
        assert f'href="{reverse("portal:ledger-list")}?seq={seq}"' in head_page
    staff_page = s.client(s.fire_staff).get(url("task-detail", task), **EN).content.decode()
    assert "?seq=" not in staff_page and f"#{seqs[0]}" in staff_page
    assert actions_on_page(s.client(s.fire_staff).get(url("task-detail", task))) == {
        "start",
        "progress",
        "complete",
        "comments",
    }


def test_accept_redirects_with_a_message_and_a_second_accept_is_an_error_message(s):
    task = s.task(s.fire)
    client = s.client(s.fire_head)
    response = client.post(url("task-accept", task), **EN)
    assert response.status_code == 302 and response["Location"] == url("task-detail", task)
    assert texts(response) == ["Task accepted: your department is accountable for it."]
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED

    again = client.post(url("task-accept", task), **EN)
    assert again.status_code == 302 and again["Location"] == url("task-detail", task)
    assert texts(again)[-1] == "Only an issued task can be accepted."


def test_declining_needs_a_reason_in_the_users_language(s):
    task = s.task(s.fire)
    english = s.client(s.fire_head).post(url("task-decline", task), {"reason": "  "}, **EN)
    chinese = s.client(s.fire_head).post(url("task-decline", task), {}, **ZH)
    assert english.status_code == chinese.status_code == 400
    assert "reason" in english.context["forms"]["decline"].errors
    assert "This field is required." in english.content.decode()
    with translation.override("zh-hans"):
        required_zh = translation.gettext("This field is required.")
    assert required_zh in chinese.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.ISSUED


def test_decline_then_the_issuer_reassigns_without_restarting_the_deadline(s):
    task = s.task(s.transport)
    response = s.client(s.transport_head).post(url("task-decline", task), {"reason": "No boats"}, **EN)
    assert response.status_code == 302
    issuer = s.client(s.issuer_head)
    page = issuer.get(url("task-detail", task), **EN)
    assert actions_on_page(page) == {"reassign", "overrule", "cancel", "comments"}  # no ruling office: no dispute
    assert "No boats" in page.content.decode()
    reassign_form = page.context["forms"]["reassign"]
    offered = set(reassign_form.fields["department"].queryset.values_list("name", flat=True))
    assert {"City-Fire", "City-Health"} <= offered and "City-Transport" not in offered and "Far-Fire" not in offered

    response = issuer.post(url("task-reassign", task), {"department": s.fire.pk, "note": "Fire has boats"}, **EN)
    assert response.status_code == 302 and texts(response) == ["Task re-assigned. The deadline is unchanged."]
    before = task.deadline
    task.refresh_from_db()
    assert (task.status, task.department, task.deadline) == (TaskStatus.ISSUED, s.fire, before)
    # the history says where it came from
    page = s.client(s.fire_head).get(url("task-detail", task), **EN).content.decode()
    assert "City-Transport → City-Fire" in page


def test_the_issuer_overrules_a_decline(s):
    task = s.task(s.transport)
    services.task_decline(actor=s.transport_head, task=task, reason="No boats")
    missing = s.client(s.issuer_head).post(url("task-overrule", task), {"note": ""}, **EN)
    assert missing.status_code == 400 and "note" in missing.context["forms"]["overrule"].errors
    response = s.client(s.issuer_head).post(url("task-overrule", task), {"note": "You have trucks"}, **EN)
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.department) == (TaskStatus.ACCEPTED, s.transport)


def test_reassigning_to_a_department_out_of_reach_is_a_form_error(s):
    task = s.task(s.transport)
    services.task_decline(actor=s.transport_head, task=task, reason="No boats")
    response = s.client(s.issuer_head).post(url("task-reassign", task), {"department": s.far.pk}, **EN)
    assert response.status_code == 400 and "department" in response.context["forms"]["reassign"].errors
    task.refresh_from_db()
    assert task.department == s.transport


def test_a_service_refusal_on_a_form_rerenders_it_with_the_message(s):
    task = s.task(s.fire)  # issued: no progress yet
    response = s.client(s.fire_staff).post(url("task-progress", task), {"body": "Early news"}, **EN)
    assert response.status_code == 400
    form = response.context["forms"]["progress"]
    assert form.non_field_errors() == ["Progress can only be reported on an accepted task."]
    assert "Early news" in response.content.decode()  # the input is kept
    assert not TaskComment.objects.exists()


def test_transfer_request_then_refusal_returns_to_the_inbox(s):
    task = s.task(s.fire)
    form = s.client(s.fire_head).get(url("task-detail", task)).context["forms"]["transfer_request"]
    assert "City-Fire" not in set(form.fields["to_department"].queryset.values_list("name", flat=True))
    response = s.client(s.fire_head).post(
        url("task-transfer-request", task), {"to_department": s.transport.pk, "reason": "Boats"}, **EN
    )
    assert response.status_code == 302
    named = s.client(s.transport_head)
    assert actions_on_page(named.get(url("task-detail", task))) == {"transfer/accept", "transfer/refuse", "comments"}
    # the requesting department stays accountable: it may dispute or cancel nothing, only talk
    assert actions_on_page(s.client(s.fire_head).get(url("task-detail", task))) == {"comments"}

    refused = named.post(url("task-transfer-refuse", task), {"reason": "Ours are busy"}, **EN)
    assert refused.status_code == 302 and refused["Location"] == url("task-inbox")
    task.refresh_from_db()
    assert (task.status, task.department, task.transfer_to) == (TaskStatus.ISSUED, s.fire, None)
    assert named.get(url("task-detail", task)).status_code == 404


def test_transfer_accept_makes_the_named_department_accountable(s):
    task = s.task(s.fire)
    services.task_request_transfer(actor=s.fire_head, task=task, to_department=s.transport, reason="Boats")
    response = s.client(s.transport_head).post(url("task-transfer-accept", task), **EN)
    assert response.status_code == 302 and response["Location"] == url("task-detail", task)
    task.refresh_from_db()
    assert (task.status, task.department) == (TaskStatus.ACCEPTED, s.transport)


def test_start_complete_verify_and_return(s):
    task = s.task(s.fire)
    services.task_accept(actor=s.fire_head, task=task)
    staff = s.client(s.fire_staff)
    assert staff.post(url("task-start", task)).status_code == 302
    assert staff.post(url("task-progress", task), {"body": "Half"}).status_code == 302
    assert staff.post(url("task-complete", task), {"result": ""}, **EN).status_code == 400
    refused = staff.post(url("task-complete", task), {"result": "1,200 moved"}, **EN)
    assert refused.status_code == 400 and "Give the evidence" in refused.content.decode()
    done = {"result": "1,200 moved", "evidence": "Roll-call sheets at the command post"}
    assert staff.post(url("task-complete", task), done).status_code == 302
    issuer = s.client(s.issuer_head)
    assert actions_on_page(issuer.get(url("task-detail", task))) == {"verify", "return", "comments"}
    assert issuer.post(url("task-return", task), {"reason": "Count missing"}).status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS
    services.task_complete(actor=s.fire_staff, task=task, result="1,203 moved", evidence="照片存于指挥部")
    response = issuer.post(url("task-verify", task), **EN)
    assert response.status_code == 302 and texts(response)[-1] == "Result verified; the task is done."
    task.refresh_from_db()
    assert task.status == TaskStatus.VERIFIED
    assert actions_on_page(issuer.get(url("task-detail", task))) == {"comments"}


def test_the_issuer_cancels_with_a_reason(s):
    task = s.task(s.fire)
    assert s.client(s.issuer_head).post(url("task-cancel", task), {"reason": ""}).status_code == 400
    assert s.client(s.issuer_head).post(url("task-cancel", task), {"reason": "Water receded"}).status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED


def test_a_group_task_can_be_disputed_and_the_office_rules(s):
    task = s.task(s.transport, issuer_group=s.group)
    page = s.client(s.transport_head).get(url("task-detail", task))
    assert "dispute" in actions_on_page(page)
    response = s.client(s.transport_head).post(url("task-dispute", task), {"reason": "Fire's remit"}, **EN)
    assert response.status_code == 302
    office = s.client(s.issuer_head)
    assert actions_on_page(office.get(url("task-detail", task))) == {"rule", "cancel", "comments"}
    # ordering needs a department; then the office orders the fire brigade to do it
    missing = office.post(url("task-rule", task), {"outcome": "order", "department": "", "note": "x"}, **EN)
    assert missing.status_code == 400 and "department" in missing.context["forms"]["rule"].errors
    response = office.post(
        url("task-rule", task), {"outcome": "order", "department": s.fire.pk, "note": "Boats are fire's"}, **EN
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.department) == (TaskStatus.ACCEPTED, s.fire)


def test_the_office_may_rule_to_cancel(s):
    task = s.task(s.transport, issuer_group=s.group)
    services.task_dispute(actor=s.transport_head, task=task, reason="Not ours")
    response = s.client(s.issuer_head).post(url("task-rule", task), {"outcome": "cancel", "note": "Not needed"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED


def test_a_department_task_without_a_ruling_office_offers_no_dispute(s):
    task = s.task(s.fire)
    assert "dispute" not in actions_on_page(s.client(s.fire_head).get(url("task-detail", task)))
    response = s.client(s.fire_head).post(url("task-dispute", task), {"reason": "Not ours"}, **EN)
    assert response.status_code == 400
    assert response.context["forms"]["dispute"].non_field_errors() == [
        "No leading group's information office can rule on this task."
    ]


def test_comments_from_both_sides(s):
    task = s.task(s.fire)
    assert s.client(s.fire_staff).post(url("task-comment", task), {"body": "On our way"}).status_code == 302
    assert s.client(s.issuer_head).post(url("task-comment", task), {"body": "Thanks"}).status_code == 302
    assert s.client(s.fire_staff).post(url("task-comment", task), {"body": ""}).status_code == 400
    assert list(task.comments.values_list("body", "department__name")) == [
        ("On our way", "City-Fire"),
        ("Thanks", "City-EMA"),
    ]


def test_actions_on_a_task_one_cannot_see_are_404_and_visible_refusals_403(s):
    task = s.task(s.fire)
    assert s.client(s.far_head).post(url("task-accept", task)).status_code == 404
    assert s.client(s.fire_staff).post(url("task-accept", task)).status_code == 403
    assert s.client(s.fire_head).post(url("task-verify", task)).status_code == 403
    # a refused form is refused before it is read: whatever is posted
    assert s.client(s.fire_staff).post(url("task-decline", task), {"reason": ""}).status_code == 403
    assert s.client(s.fire_head).get(url("task-accept", task)).status_code == 405


def test_attachments_are_listed_with_their_download_link(s):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.tasking.attachments import task_attach

    task = s.task(s.fire)
    upload = SimpleUploadedFile("plan.txt", b"evacuation plan", content_type="text/plain")
    attachment = task_attach(actor=s.issuer_head, task=task, uploaded_file=upload)
    page = s.client(s.fire_staff).get(url("task-detail", task), **EN).content.decode()
    assert "plan.txt" in page
    assert reverse("api:task-attachment-download", kwargs={"pk": task.pk, "attachment_pk": attachment.pk}) in page


# --- dispatch --------------------------------------------------------------------------------------


def dispatch_data(s, **overrides):
    data = {
        "issuer": f"department-{s.issuer.pk}",
        "departments": [s.fire.pk, s.transport.pk],
        "title": "Sandbag-The-Dyke",
        "instructions": "Two thousand bags",
        "priority": "urgent",
        "deadline": local(timezone.now() + timedelta(hours=3)),
        "idempotency_key": "key-1",
    }
    return data | overrides


def test_the_dispatch_form_offers_the_callers_issuers_and_the_departments_in_reach(s):
    response = s.client(s.issuer_head).get(url("task-create"), **EN)
    form = response.context["form"]
    assert set(form.issuers) == {f"department-{s.issuer.pk}", f"group-{s.group.pk}"}
    offered = set(form.fields["departments"].queryset.values_list("name", flat=True))
    assert {"City-Fire", "City-Transport", "City-Health"} <= offered and "Far-Fire" not in offered
    page = response.content.decode()
    assert 'type="datetime-local"' in page and 'name="idempotency_key"' in page

    office_staff = s.client(s.issuer_staff).get(url("task-create"), **EN).context["form"]
    assert set(office_staff.issuers) == {f"group-{s.group.pk}"}  # staff issue only for the group
    nobody = s.client(s.fire_staff).get(url("task-create"), **EN).content.decode()
    assert "No department to issue for" in nobody and 'name="title"' not in nobody


def test_dispatching_to_two_departments_goes_to_the_board_and_a_replay_sends_nothing_twice(s):
    client = s.client(s.issuer_head)
    response = client.post(url("task-create"), dispatch_data(s), **EN)
    assert response.status_code == 302 and response["Location"] == url("task-board")
    assert texts(response) == ["Task “Sandbag-The-Dyke” issued to 2 departments."]
    tasks = Task.objects.filter(title="Sandbag-The-Dyke")
    assert {t.department for t in tasks} == {s.fire, s.transport}
    assert all(t.priority == "urgent" and t.issuer_group is None for t in tasks)

    replay = client.post(url("task-create"), dispatch_data(s), **EN)
    assert replay.status_code == 302 and replay["Location"] == url("task-board")
    assert texts(replay)[-1] == "Task “Sandbag-The-Dyke” issued to 2 departments."  # the first dispatch's result
    assert Task.objects.filter(title="Sandbag-The-Dyke").count() == 2
    # a new form (a new key) dispatches again
    assert client.post(url("task-create"), dispatch_data(s, idempotency_key="key-2")).status_code == 302
    assert Task.objects.filter(title="Sandbag-The-Dyke").count() == 4


def test_dispatching_to_one_department_opens_the_task_and_keeps_beijing_time(s):
    response = s.client(s.issuer_head).post(
        url("task-create"), dispatch_data(s, departments=[s.fire.pk], deadline="2031-07-01T18:30"), **EN
    )
    task = Task.objects.get(title="Sandbag-The-Dyke")
    assert response["Location"] == url("task-detail", task)
    assert timezone.localtime(task.deadline).strftime("%Y-%m-%d %H:%M") == "2031-07-01 18:30"
    assert task.deadline.utcoffset() is not None and task.deadline.hour == 10  # 18:30 +08:00 is 10:30 UTC


def test_a_leading_group_dispatch_is_issued_from_its_information_office(s):
    response = s.client(s.issuer_staff).post(
        url("task-create"), dispatch_data(s, issuer=f"group-{s.group.pk}", departments=[s.health.pk])
    )
    assert response.status_code == 302
    task = Task.objects.get(title="Sandbag-The-Dyke")
    assert (task.issuer_group, task.issuer_department, task.department) == (s.group, s.issuer, s.health)


def test_a_past_deadline_is_refused_by_the_service_on_its_field(s):
    response = s.client(s.issuer_head).post(
        url("task-create"), dispatch_data(s, deadline=local(timezone.now() - timedelta(hours=1))), **EN
    )
    assert response.status_code == 400
    assert response.context["form"].errors["deadline"] == ["The deadline must be in the future."]
    assert not Task.objects.exists()


def test_a_department_out_of_reach_is_a_form_error_and_nothing_is_dispatched(s):
    response = s.client(s.issuer_head).post(
        url("task-create"), dispatch_data(s, departments=[s.fire.pk, s.far.pk]), **EN
    )
    assert response.status_code == 400 and "departments" in response.context["form"].errors
    assert not Task.objects.exists()


def test_issuing_for_a_department_one_sees_but_does_not_head_is_403_and_unseen_404(s):
    data = dispatch_data(s)
    assert s.client(s.issuer_staff).post(url("task-create"), data).status_code == 403
    assert s.client(s.far_head).post(url("task-create"), data).status_code == 404
    assert s.client(s.far_head).post(url("task-create"), dispatch_data(s, issuer="group-999999")).status_code == 404
    group = dispatch_data(s, issuer=f"group-{s.group.pk}")
    assert s.client(s.bdc_head).post(url("task-create"), group).status_code == 403  # sees the group, not its office
    assert s.client(s.fire_head).post(url("task-create"), group).status_code == 404  # not in the group at all
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("issuer", "department-abc"),
        ("issuer", ""),
        ("departments", "x"),
        ("priority", "asap"),
        ("deadline", "tomorrow"),
        ("incident", "999999"),
    ],
)
def test_bad_dispatch_values_rerender_the_form_not_a_500(s, field, value):
    response = s.client(s.issuer_head).post(url("task-create"), dispatch_data(s, **{field: value}), **EN)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Task.objects.exists()


# --- scorecard -------------------------------------------------------------------------------------


def scored(s):
    """Fire accepts (fast); transport declines; health is overdue."""
    fire, transport, health = s.dispatch(s.fire, s.transport, s.health)
    services.task_accept(actor=s.fire_head, task=fire)
    services.task_decline(actor=s.transport_head, task=transport, reason="No boats")
    Task.objects.filter(pk=health.pk).update(deadline=timezone.now() - timedelta(minutes=30))
    return fire, transport, health


# Mid-morning in Beijing, so that every task dispatched in the test falls due inside the default
# period (whole days up to today): late in the evening the transport task's deadline is tomorrow.
@time_machine.travel(datetime(2026, 3, 5, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True)
def test_the_scorecard_ranks_departments_over_the_default_period(s):
    scored(s)
    response = s.client(s.issuer_head).get(url("scorecard"), **EN)
    assert response.status_code == 200
    rows = [(item["rank"], item["row"].department.name) for item in response.context["rows"]]
    assert rows[-1] == (3, "City-Health")  # the overdue department ranks last
    by_name = {item["row"].department.name: item for item in response.context["rows"]}
    assert by_name["City-Transport"]["row"].declines == 1
    assert by_name["City-Health"]["overdue_percent"] == "100.0%"
    assert by_name["City-Fire"]["accept"] != ""
    page = response.content.decode()
    assert "City-Health" in page and url("scorecard-csv") + "?start=" in page


def test_the_scorecard_shows_only_what_the_caller_sees(s):
    scored(s)
    rows = s.client(s.fire_staff).get(url("scorecard")).context["rows"]
    assert [item["row"].department.name for item in rows] == ["City-Fire"]
    assert s.client(s.far_head).get(url("scorecard")).context["rows"] == []


def test_a_bad_period_is_a_400_with_the_message(s):
    client = s.client(s.issuer_head)
    backwards = client.get(url("scorecard"), {"start": "2026-03-10", "end": "2026-03-01"}, **EN)
    assert backwards.status_code == 400 and backwards.context["form"].errors["end"]
    assert client.get(url("scorecard"), {"start": "soon", "end": "2026-03-01"}).status_code == 400
    assert client.get(url("scorecard-csv"), {"start": "2026-03-10", "end": "2026-03-01"}).status_code == 400


def test_the_csv_has_a_bom_the_same_rows_and_formula_safe_cells(s):
    evil = f.department(region=s.city, name="=HYPERLINK(1)")
    f.member(evil, Role.HEAD)
    [task] = s.dispatch(evil)
    Task.objects.filter(pk=task.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    scored(s)
    today = timezone.localdate()
    response = s.client(s.issuer_head).get(
        url("scorecard-csv"), {"start": (today - timedelta(days=1)).isoformat(), "end": today.isoformat()}, **EN
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="scorecard-' in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Rank", "Department", "Region"]
    names = [r[1] for r in rows[1:]]
    assert "'=HYPERLINK(1)" in names and "=HYPERLINK(1)" not in names
    assert {"City-Fire", "City-Transport", "City-Health"} <= set(names)
