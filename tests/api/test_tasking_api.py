"""Tasks API wiring: dispatch (fan-out), the transitions over HTTP, the error format, ignored
fields, files, the inbox counts and the scorecard downloads. (Scope per route and state: the matrix.)"""

import csv
import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.choices import LeadingGroupKind
from apps.tasking import services
from apps.tasking.attachments import MAX_ATTACHMENT_BYTES
from apps.tasking.choices import TaskEventKind, TaskStatus
from apps.tasking.models import Task, TaskAttachment
from tests import factories as f

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.fixture
def scene(admin):
    province = f.region(name="江苏省")
    city = f.region(parent=province, name="南京市")
    issuer = f.department(region=city, type="emergency", name="南京市应急管理局")
    fire = f.department(region=city, type="fire", name="南京市消防救援支队")
    transport = f.department(region=city, type="transport", name="南京市交通运输局")
    health = f.department(region=city, type="health", name="南京市卫健委")
    far = f.department(region=f.region(name="浙江省"), type="fire", name="杭州市消防救援支队")
    return {
        "province": province,
        "city": city,
        "issuer": issuer,
        "fire": fire,
        "transport": transport,
        "health": health,
        "far": far,
        "issuer_head": f.member(issuer, Role.HEAD),
        "issuer_staff": f.member(issuer, Role.STAFF),
        "fire_head": f.member(fire, Role.HEAD),
        "fire_staff": f.member(fire, Role.STAFF),
        "transport_head": f.member(transport, Role.HEAD),
    }


def dispatch(scene, *departments, **kwargs):
    [*tasks] = services.task_dispatch(
        actor=scene["issuer_head"],
        issuer_department=scene["issuer"],
        departments=list(departments or [scene["fire"]]),
        title=kwargs.pop("title", "转移沿江群众"),
        deadline=kwargs.pop("deadline", timezone.now() + timedelta(hours=2)),
        **kwargs,
    )
    return tasks[0] if len(tasks) == 1 else tasks


def body(scene, **kwargs):
    return {
        "issuer_department": scene["issuer"].pk,
        "departments": [scene["fire"].pk],
        "title": "封闭沿江道路",
        "instructions": "对沿江道路实施交通管制",
        "priority": "urgent",
        "deadline": (timezone.now() + timedelta(hours=3)).isoformat(),
    } | kwargs


def assert_error(response, status: int, code: str, fields=()):
    assert response.status_code == status, response.content[:400]
    payload = response.json()
    assert set(payload) == {"error"}, payload
    error = payload["error"]
    assert error["code"] == code, error
    assert error["message"] and error["request_id"] == response["X-Request-ID"]
    for name in fields:
        assert name in error["fields"], error
    return error


def as_user(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def post(api_client, user, task, name, data=None):
    return as_user(api_client, user).post(f"/api/v1/tasks/{task.pk}/{name}/", data or {}, format="json")


# --- dispatch ---------------------------------------------------------------------------------


def test_dispatch_fans_out_one_task_per_department_and_ignores_fields_outside_the_input(api_client, scene):
    targets = [scene["fire"], scene["transport"], scene["health"]]
    response = as_user(api_client, scene["issuer_head"]).post(
        "/api/v1/tasks/",
        body(
            scene,
            departments=[d.pk for d in targets],
            status=TaskStatus.VERIFIED,
            issued_by=scene["fire_head"].pk,
            department=scene["far"].pk,
            batch="00000000-0000-0000-0000-000000000000",
            id=424242,
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    rows = response.json()
    assert isinstance(rows, list) and len(rows) == 3
    assert sorted(r["department"]["id"] for r in rows) == sorted(d.pk for d in targets)
    assert {r["status"] for r in rows} == {TaskStatus.ISSUED}
    assert {r["priority"] for r in rows} == {"urgent"}
    assert len({r["batch"] for r in rows}) == 1 and rows[0]["batch"] != "00000000-0000-0000-0000-000000000000"
    assert {r["issuer_department"]["id"] for r in rows} == {scene["issuer"].pk}
    tasks = Task.objects.filter(pk__in=[r["id"] for r in rows])
    assert tasks.count() == 3 and 424242 not in [r["id"] for r in rows]
    assert {t.issued_by_id for t in tasks} == {scene["issuer_head"].pk}
    assert AuditEvent.objects.filter(action="task.dispatch").count() == 1


def test_a_department_out_of_reach_is_a_400_and_nothing_is_dispatched(api_client, scene):
    client = as_user(api_client, scene["issuer_head"])
    response = client.post(
        "/api/v1/tasks/", body(scene, departments=[scene["fire"].pk, scene["far"].pk]), format="json"
    )
    error = assert_error(response, 400, "department_out_of_reach", fields=["departments"])
    assert not Task.objects.exists()
    # a nonexistent department answers exactly like an existing one out of reach
    ghost = client.post("/api/v1/tasks/", body(scene, departments=[scene["fire"].pk, 2_147_483_000]), format="json")
    ghost_error = assert_error(ghost, 400, "department_out_of_reach")
    assert {k: v for k, v in ghost_error.items() if k != "request_id"} == {
        k: v for k, v in error.items() if k != "request_id"
    }
    assert not Task.objects.exists()


def test_dispatch_reaches_another_region_through_an_active_task_sharing_agreement(api_client, scene, admin):
    from apps.organizations.choices import AgreementStatus

    agreement = org_services.agreement_create(
        actor=admin, title="长三角应急协作", parties=[scene["province"], scene["far"].region], valid_from=timezone.now()
    )
    org_services.agreement_set_status(actor=admin, agreement=agreement, status=AgreementStatus.ACTIVE)
    head = f.member(scene["issuer"], Role.HEAD)  # a fresh user object: its principal sees the agreement
    response = as_user(api_client, head).post(
        "/api/v1/tasks/", body(scene, departments=[scene["far"].pk]), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()[0]["department"]["id"] == scene["far"].pk


def test_dispatch_for_an_unseen_department_is_a_recorded_404_and_for_a_seen_one_not_headed_a_403(api_client, scene):
    client = as_user(api_client, scene["issuer_head"])
    unseen = client.post("/api/v1/tasks/", body(scene, issuer_department=scene["far"].pk), format="json")
    assert_error(unseen, 404, "not_found")
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(scene["far"].pk)).exists()
    staff = as_user(api_client, scene["issuer_staff"]).post("/api/v1/tasks/", body(scene), format="json")
    assert_error(staff, 403, "permission_denied")
    assert not Task.objects.exists()


def test_dispatch_validates_its_input_in_the_standard_format(api_client, scene):
    client = as_user(api_client, scene["issuer_head"])
    response = client.post(
        "/api/v1/tasks/", body(scene, departments=[], priority="whenever", deadline="soon", title=""), format="json"
    )
    assert_error(response, 400, "invalid", fields=["departments", "priority", "deadline", "title"])
    past = client.post("/api/v1/tasks/", body(scene, deadline=timezone.now().isoformat()), format="json")
    assert_error(past, 400, "invalid", fields=["deadline"])


def test_a_leading_groups_information_office_dispatches_on_behalf_of_the_group(api_client, scene, admin):
    group = org_services.leading_group_create(
        actor=admin,
        name="南京市防汛抗旱指挥部",
        kind=LeadingGroupKind.STANDING,
        regions=[scene["city"]],
        information_office=scene["issuer"],
        big_data_center=scene["health"],
    )
    head = f.member(scene["issuer"], Role.HEAD)
    response = as_user(api_client, head).post(
        "/api/v1/tasks/", body(scene, issuer_group=group.pk, departments=[scene["fire"].pk]), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()[0]["issuer_group"] == {"id": group.pk, "name": group.name}
    unseen = as_user(api_client, scene["fire_head"]).post(
        "/api/v1/tasks/", body(scene, issuer_department=scene["fire"].pk, issuer_group=group.pk), format="json"
    )
    assert_error(unseen, 404, "not_found")


# --- the accountable department over HTTP ------------------------------------------------------


def test_accept_then_start_progress_complete_verify(api_client, scene):
    task = dispatch(scene)
    accepted = post(api_client, scene["fire_head"], task, "accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == TaskStatus.ACCEPTED
    assert post(api_client, scene["fire_staff"], task, "start").json()["status"] == TaskStatus.IN_PROGRESS
    progress = post(api_client, scene["fire_staff"], task, "progress", {"body": "已封闭两处路口"})
    assert progress.status_code == 201 and progress.json()["is_progress"] is True
    no_evidence = post(api_client, scene["fire_staff"], task, "complete", {"result": "道路全部封闭"})
    assert_error(no_evidence, 400, "evidence_required", ["evidence"])
    done = post(
        api_client, scene["fire_staff"], task, "complete", {"result": "道路全部封闭", "evidence": "封闭点照片在指挥部"}
    )
    assert done.json()["status"] == TaskStatus.COMPLETED and done.json()["result"] == "道路全部封闭"
    assert done.json()["evidence"] == "封闭点照片在指挥部"
    verified = post(api_client, scene["issuer_head"], task, "verify")
    assert verified.status_code == 200 and verified.json()["status"] == TaskStatus.VERIFIED
    kinds = [e["kind"] for e in verified.json()["events"]]
    assert kinds == ["issued", "accepted", "started", "progress", "completed", "verified"]
    assert all(e["ledger_seq"] for e in verified.json()["events"])


def test_staff_cannot_accept_and_a_second_accept_is_an_invalid_transition(api_client, scene):
    task = dispatch(scene)
    assert_error(post(api_client, scene["fire_staff"], task, "accept"), 403, "permission_denied")
    assert post(api_client, scene["fire_head"], task, "accept").status_code == 200
    assert_error(post(api_client, scene["fire_head"], task, "accept"), 400, "invalid_transition")


def test_decline_needs_a_reason(api_client, scene):
    task = dispatch(scene)
    assert_error(post(api_client, scene["fire_head"], task, "decline"), 400, "invalid", fields=["reason"])
    assert_error(post(api_client, scene["fire_head"], task, "decline", {"reason": "   "}), 400, "invalid", ["reason"])
    assert Task.objects.get(pk=task.pk).status == TaskStatus.ISSUED
    declined = post(api_client, scene["fire_head"], task, "decline", {"reason": "不属于本单位职责"})
    assert declined.status_code == 200
    assert declined.json()["status"] == TaskStatus.DECLINED and declined.json()["decline_reason"] == "不属于本单位职责"
    assert declined.json()["department"]["id"] == scene["fire"].pk  # still accountable


def test_the_issuer_reassigns_a_declined_task_or_overrules_the_decline(api_client, scene):
    first, second = dispatch(scene, scene["fire"], scene["health"])
    post(api_client, scene["fire_head"], first, "decline", {"reason": "无此能力"})
    post(api_client, f.member(scene["health"], Role.HEAD), second, "decline", {"reason": "无此能力"})
    reassigned = post(
        api_client,
        scene["issuer_head"],
        first,
        "reassign",
        {"department": scene["transport"].pk, "note": "改由交通部门", "deadline": "2099-01-01T00:00:00Z"},
    )
    assert reassigned.status_code == 200, reassigned.content
    assert reassigned.json()["department"]["id"] == scene["transport"].pk
    assert Task.objects.get(pk=first.pk).deadline == first.deadline  # the clock never restarts
    out = post(api_client, scene["issuer_head"], second, "reassign", {"department": scene["far"].pk})
    assert_error(out, 400, "department_out_of_reach", fields=["department"])
    overruled = post(api_client, scene["issuer_head"], second, "overrule", {"note": "属于你单位职责"})
    assert overruled.json()["status"] == TaskStatus.ACCEPTED


def test_transfer_request_then_accept_moves_accountability_and_keeps_the_deadline(api_client, scene):
    task = dispatch(scene)
    requested = post(
        api_client,
        scene["fire_head"],
        task,
        "transfer",
        {"to_department": scene["transport"].pk, "reason": "需要交通管制", "department": scene["far"].pk},
    )
    assert requested.status_code == 200, requested.content
    row = requested.json()
    assert row["status"] == TaskStatus.TRANSFER_REQUESTED
    assert row["department"]["id"] == scene["fire"].pk and row["transfer_to"]["id"] == scene["transport"].pk
    inbox = as_user(api_client, scene["transport_head"]).get("/api/v1/tasks/inbox/").json()
    assert [r["id"] for r in inbox["results"]] == [task.pk]
    assert inbox["counts"][TaskStatus.TRANSFER_REQUESTED] == 1
    taken = post(api_client, scene["transport_head"], task, "transfer-accept")
    assert taken.status_code == 200
    assert taken.json()["department"]["id"] == scene["transport"].pk and taken.json()["transfer_to"] is None
    assert Task.objects.get(pk=task.pk).deadline == task.deadline


def test_a_refused_transfer_returns_the_task_and_the_refuser_loses_sight_of_it(api_client, scene):
    task = dispatch(scene)
    post(api_client, scene["fire_head"], task, "transfer", {"to_department": scene["transport"].pk, "reason": "x"})
    assert_error(post(api_client, scene["transport_head"], task, "transfer-refuse"), 400, "invalid", ["reason"])
    refused = post(api_client, scene["transport_head"], task, "transfer-refuse", {"reason": "不是我们的事"})
    assert refused.status_code == 204
    task.refresh_from_db()
    assert (task.status, task.department_id, task.transfer_to_id) == (TaskStatus.ISSUED, scene["fire"].pk, None)
    assert as_user(api_client, scene["transport_head"]).get(f"/api/v1/tasks/{task.pk}/").status_code == 404


def test_a_transfer_to_an_unseen_department_is_a_400_like_a_nonexistent_one(api_client, scene):
    task = dispatch(scene)
    unseen = post(api_client, scene["fire_head"], task, "transfer", {"to_department": scene["far"].pk, "reason": "x"})
    missing = post(api_client, scene["fire_head"], task, "transfer", {"to_department": 2_147_483_000, "reason": "x"})
    assert_error(unseen, 400, "invalid", fields=["to_department"])
    assert unseen.json()["error"]["fields"] == missing.json()["error"]["fields"]
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(scene["far"].pk)).exists()


def test_a_dispute_goes_to_the_information_office_which_rules(api_client, scene, admin):
    office = f.department(region=scene["city"], name="南京市政府信息办")
    group = org_services.leading_group_create(
        actor=admin,
        name="南京市防汛抗旱指挥部",
        kind=LeadingGroupKind.STANDING,
        regions=[scene["city"]],
        information_office=office,
        big_data_center=scene["health"],
    )
    office_head = f.member(office, Role.HEAD)
    [task] = services.task_dispatch(
        actor=office_head,
        issuer_department=office,
        issuer_group=group,
        departments=[scene["fire"]],
        title="加固堤防",
        deadline=timezone.now() + timedelta(hours=5),
    )
    no_office = dispatch(scene)
    assert_error(post(api_client, scene["fire_head"], no_office, "dispute", {"reason": "x"}), 400, "no_office")
    disputed = post(api_client, scene["fire_head"], task, "dispute", {"reason": "应由水利部门负责"})
    assert disputed.json()["status"] == TaskStatus.DISPUTED
    detail = as_user(api_client, office_head).get(f"/api/v1/tasks/{task.pk}/").json()
    assert "rule" in detail["allowed_actions"] and "respond" not in detail["allowed_actions"]
    assert_error(post(api_client, office_head, task, "rule", {"note": "x"}), 400, "invalid", ["department"])
    ruled = post(api_client, office_head, task, "rule", {"department": scene["transport"].pk, "note": "交通部门负责"})
    assert ruled.status_code == 200, ruled.content
    assert ruled.json()["status"] == TaskStatus.ACCEPTED and ruled.json()["department"]["id"] == scene["transport"].pk
    cancelled_task = services.task_dispatch(
        actor=office_head,
        issuer_department=office,
        issuer_group=group,
        departments=[scene["fire"]],
        title="另一任务",
        deadline=timezone.now() + timedelta(hours=5),
    )[0]
    post(api_client, scene["fire_head"], cancelled_task, "dispute", {"reason": "无需执行"})
    cancelled = post(api_client, office_head, cancelled_task, "rule", {"department": None, "note": "任务取消"})
    assert cancelled.json()["status"] == TaskStatus.CANCELLED


def test_the_issuer_cancels_and_returns_and_the_department_cannot(api_client, scene):
    task = dispatch(scene)
    assert_error(post(api_client, scene["fire_head"], task, "cancel", {"reason": "x"}), 403, "permission_denied")
    assert_error(post(api_client, scene["issuer_head"], task, "cancel"), 400, "invalid", ["reason"])
    assert (
        post(api_client, scene["issuer_head"], task, "cancel", {"reason": "险情解除"}).json()["status"] == "cancelled"
    )
    other = dispatch(scene)
    post(api_client, scene["fire_head"], other, "accept")
    post(api_client, scene["fire_head"], other, "complete", {"result": "完成", "evidence": "照片"})
    returned = post(api_client, scene["issuer_head"], other, "return", {"reason": "缺少现场照片"})
    assert returned.json()["status"] == TaskStatus.IN_PROGRESS and returned.json()["completed_at"] is None


# --- detail, comments, lists -------------------------------------------------------------------


def test_the_detail_shows_history_comments_and_what_the_caller_may_do(api_client, scene):
    task = dispatch(scene, instructions="沿江500米范围")
    comment = as_user(api_client, scene["issuer_staff"]).post(
        f"/api/v1/tasks/{task.pk}/comments/", {"body": "请尽快", "is_progress": True}, format="json"
    )
    assert comment.status_code == 201 and comment.json()["is_progress"] is False
    assert comment.json()["department"]["id"] == scene["issuer"].pk
    head = as_user(api_client, scene["fire_head"]).get(f"/api/v1/tasks/{task.pk}/").json()
    assert head["instructions"] == "沿江500米范围"
    assert head["allowed_actions"] == ["respond", "work"]
    assert [c["body"] for c in head["comments"]] == ["请尽快"]
    assert [e["kind"] for e in head["events"]] == [TaskEventKind.ISSUED]
    assert head["attachments"] == []
    staff = as_user(api_client, scene["fire_staff"]).get(f"/api/v1/tasks/{task.pk}/").json()
    assert staff["allowed_actions"] == ["work"]
    issuer = as_user(api_client, scene["issuer_head"]).get(f"/api/v1/tasks/{task.pk}/").json()
    assert issuer["allowed_actions"] == ["control"]
    listed = as_user(api_client, scene["fire_staff"]).get(f"/api/v1/tasks/{task.pk}/comments/").json()
    assert listed["count"] == 1 and listed["results"][0]["author"]


def test_lists_filter_by_status_priority_department_and_overdue(api_client, scene):
    late = dispatch(scene, deadline=timezone.now() + timedelta(minutes=1), title="已超时")
    Task.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(minutes=5))
    on_time = dispatch(scene, scene["transport"], title="未超时", priority="high")
    client = as_user(api_client, scene["issuer_head"])

    def ids(query):
        response = client.get("/api/v1/tasks/", query)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids({"overdue": "true"}) == [late.pk]
    assert ids({"overdue": "false"}) == [on_time.pk]
    assert ids({"priority": "high"}) == [on_time.pk]
    assert ids({"department": scene["transport"].pk}) == [on_time.pk]
    assert sorted(ids({"status": "issued"})) == sorted([late.pk, on_time.pk])
    assert client.get("/api/v1/tasks/", {"overdue": "true"}).json()["results"][0]["is_overdue"] is True
    assert_error(client.get("/api/v1/tasks/", {"status": "lost"}), 400, "invalid", fields=["status"])


def test_inbox_counts_cover_every_state_and_the_board_lists_what_i_issued(api_client, scene):
    first, second, third = dispatch(scene, scene["fire"], scene["transport"], scene["health"])
    extra = dispatch(scene, title="第二项")
    Task.objects.filter(pk=extra.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    services.task_accept(actor=scene["fire_head"], task=first)
    inbox = as_user(api_client, scene["fire_head"]).get("/api/v1/tasks/inbox/")
    assert inbox.status_code == 200
    payload = inbox.json()
    assert set(payload) == {"counts", "count", "next", "previous", "results"}
    assert payload["counts"] == dict.fromkeys(TaskStatus.values, 0) | {"issued": 1, "accepted": 1, "overdue": 1}
    assert sorted(r["id"] for r in payload["results"]) == sorted([first.pk, extra.pk])
    # the counts cover the whole inbox, whatever the filters and the page
    filtered = as_user(api_client, scene["fire_head"]).get("/api/v1/tasks/inbox/", {"status": "accepted"}).json()
    assert [r["id"] for r in filtered["results"]] == [first.pk] and filtered["counts"] == payload["counts"]
    board = as_user(api_client, scene["issuer_staff"]).get("/api/v1/tasks/board/").json()
    assert board["count"] == 4 and board["counts"]["issued"] == 3 and board["counts"]["accepted"] == 1
    assert as_user(api_client, scene["fire_head"]).get("/api/v1/tasks/board/").json()["count"] == 0
    assert second.pk not in [r["id"] for r in payload["results"]] and third.pk


# --- files -------------------------------------------------------------------------------------


def upload(api_client, user, task, name, content, **extra):
    return as_user(api_client, user).post(
        f"/api/v1/tasks/{task.pk}/attachments/",
        {"file": SimpleUploadedFile(name, content, content_type="application/octet-stream"), **extra},
        format="multipart",
    )


def test_a_png_is_stored_with_its_digest_and_size_and_downloads_for_those_who_see_the_task(api_client, scene):
    task = dispatch(scene)
    response = upload(api_client, scene["fire_staff"], task, "现场.png", PNG, is_evidence="true")
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["content_type"] == "image/png" and row["size"] == len(PNG) and row["is_evidence"] is True
    assert row["sha256"] == hashlib.sha256(PNG).hexdigest() and row["department"]["id"] == scene["fire"].pk
    assert AuditEvent.objects.filter(action="task.attach", target_id=str(task.pk)).count() == 1
    download = as_user(api_client, scene["issuer_head"]).get(row["url"])
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == PNG
    assert "attachment" in download["Content-Disposition"]
    listed = as_user(api_client, scene["issuer_head"]).get(f"/api/v1/tasks/{task.pk}/attachments/").json()
    assert [a["id"] for a in listed["results"]] == [row["id"]]
    outsider = f.member(scene["health"], Role.HEAD)
    assert_error(as_user(api_client, outsider).get(row["url"]), 404, "not_found")


def test_an_attachment_of_another_task_is_a_404_under_this_one(api_client, scene):
    task, other = dispatch(scene, scene["fire"], scene["transport"])
    row = upload(api_client, scene["issuer_head"], other, "a.txt", b"hello").json()
    response = as_user(api_client, scene["fire_head"]).get(f"/api/v1/tasks/{task.pk}/attachments/{row['id']}/")
    assert_error(response, 404, "not_found")


def test_an_executable_is_refused_whatever_its_name_or_declared_type(api_client, scene):
    task = dispatch(scene)
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
    for name in ("setup.exe", "photo.png", "notes.txt"):
        assert_error(upload(api_client, scene["fire_head"], task, name, exe), 400, "unsupported_file_type", ["file"])
    assert not TaskAttachment.objects.exists()


def test_a_name_that_does_not_match_the_content_is_refused(api_client, scene):
    task = dispatch(scene)
    assert_error(upload(api_client, scene["fire_head"], task, "report.pdf", PNG), 400, "unsupported_file_type")


@pytest.mark.parametrize("size", [MAX_ATTACHMENT_BYTES + 1, MAX_ATTACHMENT_BYTES + 1024 * 1024])
def test_a_file_over_10_mb_is_a_400_not_a_500(api_client, scene, size):
    task = dispatch(scene)
    response = upload(api_client, scene["fire_head"], task, "big.txt", b"a" * size)
    assert_error(response, 400, "file_too_large", fields=["file"])
    assert not TaskAttachment.objects.exists()


def test_office_documents_text_and_csv_are_accepted_and_a_bare_zip_is_not(api_client, scene):
    task = dispatch(scene)

    def package(part: str) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr(part, "<x/>")
        return buffer.getvalue()

    cases = {
        "名单.xlsx": (package("xl/workbook.xml"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "通知.docx": (
            package("word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        "说明.txt": ("沿江道路已封闭\n".encode(), "text/plain"),
        "物资.csv": ("名称,数量\n沙袋,500\n".encode("gb18030"), "text/csv"),
    }
    for name, (content, content_type) in cases.items():
        response = upload(api_client, scene["fire_head"], task, name, content)
        assert response.status_code == 201, (name, response.content)
        assert response.json()["content_type"] == content_type
    bare = io.BytesIO()
    with zipfile.ZipFile(bare, "w") as archive:
        archive.writestr("payload.bin", "x")
    assert_error(upload(api_client, scene["fire_head"], task, "a.xlsx", bare.getvalue()), 400, "unsupported_file_type")


def test_files_come_from_the_issuer_or_the_accountable_department_only(api_client, scene):
    task = dispatch(scene)
    post(api_client, scene["fire_head"], task, "transfer", {"to_department": scene["transport"].pk, "reason": "x"})
    # the department asked to take over sees the task but is neither issuer nor accountable
    refused = upload(api_client, scene["transport_head"], task, "a.txt", b"hello")
    assert_error(refused, 403, "permission_denied")
    evidence = upload(api_client, scene["issuer_head"], task, "a.txt", b"hello", is_evidence="true")
    assert_error(evidence, 400, "invalid", fields=["is_evidence"])
    missing = as_user(api_client, scene["fire_head"]).post(
        f"/api/v1/tasks/{task.pk}/attachments/", {}, format="multipart"
    )
    assert_error(missing, 400, "invalid", fields=["file"])


# --- scorecard ----------------------------------------------------------------------------------


def test_the_scorecard_in_json_and_as_a_formula_safe_csv(api_client, scene, admin):
    formula = f.department(region=scene["city"], type="health", name="=HYPERLINK(1)")
    formula_head = f.member(formula, Role.HEAD)
    fire_task, formula_task, transport_task = dispatch(scene, scene["fire"], formula, scene["transport"])
    services.task_accept(actor=scene["fire_head"], task=fire_task)
    services.task_decline(actor=formula_head, task=formula_task, reason="无此能力")
    services.task_request_transfer(
        actor=scene["transport_head"], task=transport_task, to_department=scene["fire"], reason="x"
    )
    client = as_user(api_client, scene["issuer_head"])
    response = client.get("/api/v1/scorecard/")
    assert response.status_code == 200, response.content
    payload = response.json()
    today = timezone.localdate()
    assert payload["end"] == today.isoformat() and payload["start"] == (today - timedelta(days=29)).isoformat()
    rows = {r["department"]["id"]: r for r in payload["results"]}
    assert rows[scene["fire"].pk]["median_accept_minutes"] is not None
    assert rows[formula.pk]["declines"] == 1 and rows[scene["transport"].pk]["transfers"] == 1
    assert [r["rank"] for r in payload["results"]] == list(range(1, len(rows) + 1))

    download = client.get("/api/v1/scorecard.csv", {"start": today.isoformat(), "end": today.isoformat()})
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    text = download.content.decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["department"] for r in table} >= {scene["fire"].name, "'=HYPERLINK(1)"}
    assert next(r for r in table if r["department_id"] == str(formula.pk))["declines"] == "1"


def test_the_scorecard_only_covers_the_tasks_the_caller_sees_and_checks_its_period(api_client, scene):
    task = dispatch(scene)
    services.task_accept(actor=scene["fire_head"], task=task)
    outsider = f.member(scene["far"], Role.HEAD)
    assert as_user(api_client, outsider).get("/api/v1/scorecard/").json()["results"] == []
    client = as_user(api_client, scene["issuer_head"])
    assert_error(client.get("/api/v1/scorecard/", {"start": "2024-02-30"}), 400, "invalid", fields=["start"])
    assert_error(client.get("/api/v1/scorecard/", {"start": "2024-03-02", "end": "2024-03-01"}), 400, "invalid")
    assert_error(client.get("/api/v1/scorecard.csv", {"start": "2020-01-01", "end": "2024-01-01"}), 400, "invalid")
    past = client.get("/api/v1/scorecard/", {"start": "2024-01-01", "end": "2024-01-31"}).json()
    assert past["results"] == []
