"""Task services: the state machine, exactly one accountable department, reasons, fan-out."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.organizations import services as org
from apps.organizations.choices import LeadingGroupKind
from apps.tasking import services
from apps.tasking.choices import TaskEventKind, TaskStatus
from apps.tasking.models import Task, TaskEvent
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(admin):
    province = f.region(name="省")
    city = f.region(parent=province, name="市")
    other_city = f.region(parent=province, name="另一市")
    foreign = f.region(name="外省")
    issuer = f.department(region=city, type="emergency", name="市应急局")
    fire = f.department(region=city, type="fire", name="市消防")
    transport = f.department(region=city, type="transport", name="市交通")
    health = f.department(region=city, type="health", name="市卫健")
    far = f.department(region=foreign, type="fire", name="外省消防")
    return {
        "city": city,
        "other_city": other_city,
        "issuer": issuer,
        "fire": fire,
        "transport": transport,
        "health": health,
        "far": far,
        "issuer_head": f.member(issuer, Role.HEAD),
        "fire_head": f.member(fire, Role.HEAD),
        "fire_staff": f.member(fire, Role.STAFF),
        "transport_head": f.member(transport, Role.HEAD),
        "health_head": f.member(health, Role.HEAD),
        "far_head": f.member(far, Role.HEAD),
    }


def dispatch(scene, *departments, **kwargs):
    return services.task_dispatch(
        actor=scene["issuer_head"],
        issuer_department=scene["issuer"],
        departments=list(departments),
        title=kwargs.pop("title", "转移沿江群众"),
        deadline=kwargs.pop("deadline", timezone.now() + timedelta(hours=2)),
        **kwargs,
    )


def test_a_head_dispatches_to_departments_of_the_region_but_not_beyond(scene):
    [task] = dispatch(scene, scene["fire"])
    assert task.status == TaskStatus.ISSUED and task.department == scene["fire"]
    with pytest.raises(ServiceError) as err:
        dispatch(scene, scene["far"])
    assert err.value.code == "department_out_of_reach"


def test_staff_cannot_dispatch(scene):
    staff = f.member(scene["issuer"], Role.STAFF)
    with pytest.raises(AccessDenied):
        services.task_dispatch(
            actor=staff,
            issuer_department=scene["issuer"],
            departments=[scene["fire"]],
            title="x",
            deadline=timezone.now() + timedelta(hours=1),
        )


def test_fan_out_creates_one_task_per_department_with_a_constant_number_of_queries(scene):
    few = [f.department(region=scene["city"], type="community") for _ in range(3)]
    many = [f.department(region=scene["city"], type="community") for _ in range(30)]
    dispatch(scene, scene["fire"])  # warm up: the issuer's principal is loaded once per user object
    with CaptureQueriesContext(connection) as small:
        dispatch(scene, *few)
    with CaptureQueriesContext(connection) as large:
        tasks = dispatch(scene, *many)
    assert len(tasks) == 30 and len({t.department_id for t in tasks}) == 30
    assert len({t.batch for t in tasks}) == 1
    assert len(large.captured_queries) == len(small.captured_queries)


def test_accept_then_start_then_complete_then_verify(scene):
    [task] = dispatch(scene, scene["fire"])
    services.task_accept(actor=scene["fire_head"], task=task)
    services.task_start(actor=scene["fire_staff"], task=task)
    services.task_progress(actor=scene["fire_staff"], task=task, body="已到达现场")
    services.task_complete(actor=scene["fire_staff"], task=task, result="转移完成 1,200 人", evidence="照片存于指挥部")
    services.task_verify(actor=scene["issuer_head"], task=task)
    task.refresh_from_db()
    assert task.status == TaskStatus.VERIFIED
    kinds = list(task.events.values_list("kind", flat=True))
    assert kinds == ["issued", "accepted", "started", "progress", "completed", "verified"]
    seqs = list(task.events.values_list("ledger_seq", flat=True))
    assert all(AuditEvent.objects.filter(seq=s).exists() for s in seqs)


def test_only_the_head_accepts_and_only_the_issuer_verifies(scene):
    [task] = dispatch(scene, scene["fire"])
    with pytest.raises(AccessDenied):
        services.task_accept(actor=scene["fire_staff"], task=task)
    with pytest.raises(AccessDenied) as hidden:
        services.task_accept(actor=scene["transport_head"], task=task)
    assert hidden.value.hidden is True
    services.task_accept(actor=scene["fire_head"], task=task)
    services.task_complete(actor=scene["fire_head"], task=task, result="ok", evidence="照片存于指挥部")
    with pytest.raises(AccessDenied):
        services.task_verify(actor=scene["fire_head"], task=task)


def test_decline_needs_a_reason_and_keeps_the_department_accountable(scene):
    [task] = dispatch(scene, scene["transport"])
    with pytest.raises(ServiceError):
        services.task_decline(actor=scene["transport_head"], task=task, reason="  ")
    services.task_decline(actor=scene["transport_head"], task=task, reason="无可用车辆")
    task.refresh_from_db()
    assert task.status == TaskStatus.DECLINED and task.department == scene["transport"]


def test_issuer_reassigns_a_declined_task_without_restarting_the_deadline(scene):
    [task] = dispatch(scene, scene["transport"])
    deadline = task.deadline
    services.task_decline(actor=scene["transport_head"], task=task, reason="不在职责范围")
    services.task_reassign(actor=scene["issuer_head"], task=task, department=scene["fire"])
    task.refresh_from_db()
    assert (task.status, task.department, task.deadline) == (TaskStatus.ISSUED, scene["fire"], deadline)


def test_issuer_overrules_a_decline(scene):
    [task] = dispatch(scene, scene["transport"])
    services.task_decline(actor=scene["transport_head"], task=task, reason="人手不足")
    services.task_overrule(actor=scene["issuer_head"], task=task, note="职责所在，必须执行")
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED and task.department == scene["transport"]


def test_a_declined_task_is_not_the_departments_to_accept_any_more(scene):
    # the page offers no accept button once declined; a POST must not slip past the issuer's decision
    [task] = dispatch(scene, scene["transport"])
    services.task_decline(actor=scene["transport_head"], task=task, reason="人手不足")
    with pytest.raises(ServiceError) as refused:
        services.task_accept(actor=scene["transport_head"], task=task)
    assert refused.value.code == "invalid_transition"
    task.refresh_from_db()
    assert task.status == TaskStatus.DECLINED
    assert list(task.events.values_list("kind", flat=True)) == ["issued", "declined"]


def test_transfer_keeps_the_first_department_accountable_until_the_target_accepts(scene):
    [task] = dispatch(scene, scene["health"])
    deadline = task.deadline
    services.task_request_transfer(
        actor=scene["health_head"], task=task, to_department=scene["fire"], reason="涉及救援"
    )
    task.refresh_from_db()
    assert task.department == scene["health"] and task.transfer_to == scene["fire"]
    assert Task.objects.restrict(scene["fire_head"], "take_transfer").filter(pk=task.pk).exists()
    services.task_transfer_accept(actor=scene["fire_head"], task=task)
    task.refresh_from_db()
    assert (task.department, task.transfer_to, task.status, task.deadline) == (
        scene["fire"],
        None,
        TaskStatus.ACCEPTED,
        deadline,
    )


def test_a_refused_transfer_returns_the_task_to_its_previous_state(scene):
    [task] = dispatch(scene, scene["health"])
    services.task_accept(actor=scene["health_head"], task=task)
    services.task_request_transfer(actor=scene["health_head"], task=task, to_department=scene["fire"], reason="x")
    services.task_transfer_refuse(actor=scene["fire_head"], task=task, reason="不属于消防职责")
    task.refresh_from_db()
    assert (task.status, task.department, task.transfer_to) == (TaskStatus.ACCEPTED, scene["health"], None)


def test_a_dispute_needs_an_information_office_and_its_ruling_names_the_department(scene, admin):
    office_dept = scene["issuer"]
    center = f.department(region=scene["city"], type="big_data_company")
    group = org.leading_group_create(
        actor=admin,
        name="组",
        kind=LeadingGroupKind.CONVENED,
        regions=[scene["city"]],
        information_office=office_dept,
        big_data_center=center,
        members=[scene["fire"], scene["transport"]],
    )
    office_head = scene["issuer_head"]
    [task] = services.task_dispatch(
        actor=office_head,
        issuer_department=office_dept,
        issuer_group=group,
        departments=[scene["transport"]],
        title="抢通道路",
        deadline=timezone.now() + timedelta(hours=3),
    )
    services.task_decline(actor=scene["transport_head"], task=task, reason="应由消防负责")
    services.task_dispute(actor=scene["transport_head"], task=task, reason="职责划分争议")
    services.task_rule(actor=office_head, task=task, department=scene["fire"], note="按预案由消防牵头")
    task.refresh_from_db()
    assert (task.status, task.department) == (TaskStatus.ACCEPTED, scene["fire"])
    [plain] = dispatch(scene, scene["fire"])
    with pytest.raises(ServiceError) as err:
        services.task_dispute(actor=scene["fire_head"], task=plain, reason="x")
    assert err.value.code == "no_office"


def test_every_transition_is_one_ledger_event_and_one_task_event(scene):
    [task] = dispatch(scene, scene["fire"])
    events, history = AuditEvent.objects.count(), TaskEvent.objects.count()
    services.task_accept(actor=scene["fire_head"], task=task)
    assert AuditEvent.objects.count() == events + 1 and TaskEvent.objects.count() == history + 1
    with pytest.raises(ServiceError):
        services.task_accept(actor=scene["fire_head"], task=task)  # already accepted
    assert AuditEvent.objects.count() == events + 1 and TaskEvent.objects.count() == history + 1


def test_escalation_steps_happen_once_each(scene):
    [task] = dispatch(scene, scene["fire"], deadline=timezone.now() + timedelta(minutes=20), priority="urgent")
    later = timezone.now() + timedelta(minutes=16)
    assert services.tasks_escalate(now=later)[TaskEventKind.REMINDED] == 1
    assert services.tasks_escalate(now=later)[TaskEventKind.REMINDED] == 0
    overdue = timezone.now() + timedelta(minutes=21)
    assert services.tasks_escalate(now=overdue)[TaskEventKind.ESCALATED_HEAD] == 1
    much_later = timezone.now() + timedelta(hours=2)
    counts = services.tasks_escalate(now=much_later)
    assert counts[TaskEventKind.ESCALATED_HEAD] == 0 and counts[TaskEventKind.ESCALATED_GROUP] == 1
    assert services.tasks_escalate(now=much_later) == dict.fromkeys(counts, 0)
    kinds = list(task.events.values_list("kind", flat=True))
    assert kinds.count("reminded") == 1 and kinds.count("escalated_head") == 1 and kinds.count("escalated_group") == 1


def test_the_same_idempotency_key_dispatches_once(scene):
    """A double click or a retried request with the same key returns the first dispatch's tasks."""
    first = dispatch(scene, scene["fire"], scene["transport"], idempotency_key="dispatch-1")
    again = dispatch(scene, scene["fire"], scene["transport"], idempotency_key="dispatch-1")
    assert [t.pk for t in again] == [t.pk for t in first]
    assert Task.objects.filter(dispatch_key="dispatch-1").count() == 2
    assert AuditEvent.objects.filter(action="task.dispatch").count() == 1


def office_group(scene, admin):
    """A leading group whose information office is the issuer's emergency bureau."""
    return org.leading_group_create(
        actor=admin,
        name="防汛组",
        kind=LeadingGroupKind.CONVENED,
        regions=[scene["city"]],
        information_office=scene["issuer"],
        big_data_center=f.department(region=scene["city"], type="big_data_company"),
        members=[scene["fire"], scene["transport"]],
    )


def refused(call, **kwargs) -> str:
    """Run a service that must refuse; return its error code."""
    with pytest.raises(ServiceError) as err:
        call(**kwargs)
    return err.value.code


def test_only_a_declined_task_can_be_overruled_or_reassigned(scene):
    issuer = scene["issuer_head"]
    [issued] = dispatch(scene, scene["transport"])
    assert refused(services.task_overrule, actor=issuer, task=issued, note="必须执行") == "invalid_transition"
    assert refused(services.task_reassign, actor=issuer, task=issued, department=scene["fire"]) == "invalid_transition"
    [pending] = dispatch(scene, scene["health"])
    services.task_request_transfer(actor=scene["health_head"], task=pending, to_department=scene["fire"], reason="x")
    assert refused(services.task_overrule, actor=issuer, task=pending, note="必须执行") == "invalid_transition"
    assert refused(services.task_reassign, actor=issuer, task=pending, department=scene["transport"]) == (
        "invalid_transition"
    )
    pending.refresh_from_db()
    assert (pending.status, pending.department, pending.transfer_to) == (
        TaskStatus.TRANSFER_REQUESTED,
        scene["health"],
        scene["fire"],
    )
    issued.refresh_from_db()
    assert issued.status == TaskStatus.ISSUED and list(issued.events.values_list("kind", flat=True)) == ["issued"]


def test_a_disputed_task_is_settled_only_by_the_information_offices_ruling(scene, admin):
    group = office_group(scene, admin)
    [task] = services.task_dispatch(
        actor=scene["issuer_head"],
        issuer_department=scene["issuer"],
        issuer_group=group,
        departments=[scene["transport"]],
        title="抢通道路",
        deadline=timezone.now() + timedelta(hours=3),
    )
    services.task_decline(actor=scene["transport_head"], task=task, reason="应由消防负责")
    services.task_dispute(actor=scene["transport_head"], task=task, reason="职责划分争议")
    # the issuer's overrule was a way around the ruling: the task is the office's to rule on now
    assert refused(services.task_overrule, actor=scene["issuer_head"], task=task, note="执行") == "invalid_transition"
    assert refused(services.task_accept, actor=scene["transport_head"], task=task) == "invalid_transition"
    task.refresh_from_db()
    assert task.status == TaskStatus.DISPUTED
    assert list(task.events.values_list("kind", flat=True)) == ["issued", "declined", "disputed"]


def test_a_completed_task_is_reopened_only_by_the_issuer_sending_it_back(scene):
    [task] = dispatch(scene, scene["fire"])
    services.task_accept(actor=scene["fire_head"], task=task)
    # sending back is for a completed task only
    assert refused(services.task_return, actor=scene["issuer_head"], task=task, reason="缺少照片") == (
        "invalid_transition"
    )
    services.task_complete(actor=scene["fire_head"], task=task, result="完成", evidence="照片存于指挥部")
    # the department cannot reopen its own completed work
    assert refused(services.task_start, actor=scene["fire_head"], task=task) == "invalid_transition"
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED and task.completed_at is not None
    services.task_return(actor=scene["issuer_head"], task=task, reason="缺少照片")
    task.refresh_from_db()
    assert task.status == TaskStatus.IN_PROGRESS and task.completed_at is None


def test_no_dispute_while_a_transfer_waits_for_its_answer(scene, admin):
    group = office_group(scene, admin)
    [task] = services.task_dispatch(
        actor=scene["issuer_head"],
        issuer_department=scene["issuer"],
        issuer_group=group,
        departments=[scene["fire"]],
        title="转移群众",
        deadline=timezone.now() + timedelta(hours=3),
    )
    services.task_request_transfer(actor=scene["fire_head"], task=task, to_department=scene["transport"], reason="x")
    assert refused(services.task_dispute, actor=scene["fire_head"], task=task, reason="争议") == "invalid_transition"
    services.task_transfer_refuse(actor=scene["transport_head"], task=task, reason="不属于交通")
    services.task_dispute(actor=scene["fire_head"], task=task, reason="争议")
    task.refresh_from_db()
    assert (task.status, task.transfer_to) == (TaskStatus.DISPUTED, None)


def test_completion_needs_evidence_and_the_ledger_names_it(scene):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.tasking.attachments import task_attach

    [task] = dispatch(scene, scene["fire"])
    services.task_accept(actor=scene["fire_head"], task=task)
    events = AuditEvent.objects.count()
    err = pytest.raises(ServiceError, services.task_complete, actor=scene["fire_staff"], task=task, result="完成")
    assert (err.value.code, err.value.field) == ("evidence_required", "evidence")
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED and AuditEvent.objects.count() == events
    # an attachment that is not marked as evidence is not evidence
    task_attach(actor=scene["fire_staff"], task=task, uploaded_file=SimpleUploadedFile("note.txt", b"plan"))
    with pytest.raises(ServiceError):
        services.task_complete(actor=scene["fire_staff"], task=task, result="完成")
    photo = task_attach(
        actor=scene["fire_staff"],
        task=task,
        uploaded_file=SimpleUploadedFile("roll-call.txt", b"1,200 names"),
        is_evidence=True,
    )
    services.task_complete(actor=scene["fire_staff"], task=task, result="转移完成 1,200 人")
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED and task.evidence == ""
    event = AuditEvent.objects.filter(action="task.complete").get()
    assert event.after["evidence_attachments"] == [photo.pk] and event.after["evidence"] == ""


def test_a_statement_of_evidence_is_kept_on_the_task_and_in_the_ledger(scene):
    [task] = dispatch(scene, scene["fire"])
    services.task_accept(actor=scene["fire_head"], task=task)
    services.task_complete(actor=scene["fire_head"], task=task, result="完成", evidence="点名册存于市指挥部")
    task.refresh_from_db()
    assert task.evidence == "点名册存于市指挥部"
    event = AuditEvent.objects.filter(action="task.complete").get()
    assert event.after["evidence"] == "点名册存于市指挥部" and event.after["evidence_attachments"] == []


def test_an_escalation_step_read_before_a_transfer_is_not_charged_to_the_old_department(scene):
    [task] = dispatch(scene, scene["health"], deadline=timezone.now() + timedelta(minutes=30))
    services.task_request_transfer(actor=scene["health_head"], task=task, to_department=scene["fire"], reason="x")
    stale = Task.objects.select_related("department__region").get(pk=task.pk)  # what the beat job read
    services.task_transfer_accept(actor=scene["fire_head"], task=task)
    overdue = timezone.now() + timedelta(minutes=31)
    assert services.task_escalation_step(task=stale, step=TaskEventKind.ESCALATED_HEAD, now=overdue) is False
    task.refresh_from_db()
    assert task.escalated_head_at is None
    # the next run escalates to the department accountable now
    assert services.tasks_escalate(now=overdue)[TaskEventKind.ESCALATED_HEAD] == 1
    [step] = task.events.filter(kind=TaskEventKind.ESCALATED_HEAD)
    assert step.department == scene["fire"]


def test_a_member_of_the_incidents_group_tasks_the_groups_departments_in_another_region(scene, admin):
    from apps.incidents import services as incident_services
    from apps.incidents.choices import Category, Severity, Subtype

    group = org.leading_group_create(
        actor=admin,
        name="跨省防汛组",
        kind=LeadingGroupKind.CONVENED,
        regions=[scene["city"]],
        information_office=scene["health"],
        big_data_center=f.department(region=scene["city"], type="big_data_company"),
        members=[scene["issuer"], scene["far"]],
    )
    incident = incident_services.incident_report(
        actor=scene["issuer_head"],
        department=scene["issuer"],
        title="跨省洪水",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.II,
        place="江堤",
        first_seen_at=timezone.now(),
    )
    incident = incident_services.incident_assign_leading_group(actor=admin, incident=incident, group=group)
    # without the incident the far province's fire bureau is out of the issuer's reach
    with pytest.raises(ServiceError) as err:
        dispatch(scene, scene["far"])
    assert err.value.code == "department_out_of_reach"
    [task] = dispatch(scene, scene["far"], incident=incident)
    assert task.department == scene["far"] and task.incident == incident
