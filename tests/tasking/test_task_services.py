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
    services.task_complete(actor=scene["fire_staff"], task=task, result="转移完成 1,200 人")
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
    services.task_complete(actor=scene["fire_head"], task=task, result="ok")
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
