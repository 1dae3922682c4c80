"""The task-escalation beat task, published to a real broker and run by a real worker process.

The worker runs `tasks_escalate()` with its own wall clock against rows this process committed: an
urgent task issued three hours ago, due an hour ago and never acknowledged, has every step due
(reminder, department head, the leading group's information office). Each step must land exactly
once, however often the task is delivered.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.tasking import services
from apps.tasking.choices import Priority, TaskEventKind
from apps.tasking.models import Task, TaskEvent
from apps.tasking.tasks import tasks_escalate_task
from tests.incidents.world import build_world

pytestmark = pytest.mark.worker

STEPS = (TaskEventKind.REMINDED, TaskEventKind.ESCALATED_HEAD, TaskEventKind.ESCALATED_GROUP)


@pytest.fixture
def overdue(transactional_db):
    """An urgent task from the leading group's information office to A1's fire brigade: issued
    three hours ago, due an hour ago (the group step is due 30 minutes after the deadline)."""
    w = build_world()
    now = timezone.now()
    [task] = services.task_dispatch(
        actor=w.user(w.office_b, Role.HEAD),
        issuer_department=w.office_b,
        issuer_group=w.group,
        departments=[w.fire_a1],
        title="排查沿江危化企业",
        priority=Priority.URGENT,
        deadline=now - timedelta(hours=1),
        now=now - timedelta(hours=3),
    )
    assert not Notification.objects.filter(kind__in=[f"task.{s}" for s in STEPS]).exists()
    return w, task


def _run(worker, times: int) -> None:
    results = [worker.send(tasks_escalate_task) for _ in range(times)]
    for result in results:
        worker.wait_for(
            lambda r=result: f"tasks_escalate_task[{r.id}] succeeded" in worker.log(),
            timeout=30,
            what=f"'succeeded' log line for task {result.id}",
        )


def _assert_every_step_taken_once(w, task: Task) -> None:
    assert Counter(TaskEvent.objects.filter(task=task, kind__in=STEPS).values_list("kind", flat=True)) == dict.fromkeys(
        STEPS, 1
    )
    actions = Counter(
        AuditEvent.objects.filter(target_type="tasking.task", target_id=str(task.pk)).values_list("action", flat=True)
    )
    assert {a: n for a, n in actions.items() if a.removeprefix("task.") in STEPS} == {f"task.{s}": 1 for s in STEPS}
    told = Counter(
        Notification.objects.filter(target_id=str(task.pk), kind__in=[f"task.{s}" for s in STEPS]).values_list(
            "kind", "department_id", "audience_role"
        )
    )
    assert told == {
        ("task.reminded", w.fire_a1.pk, ""): 1,
        ("task.escalated_head", w.fire_a1.pk, Role.HEAD): 1,
        ("task.escalated_group", w.office_b.pk, ""): 1,
    }
    task.refresh_from_db()
    assert None not in (task.reminded_at, task.escalated_head_at, task.escalated_group_at)


# Transactional: the worker has its own connection and sees only committed rows.
@pytest.mark.django_db(transaction=True)
def test_worker_escalates_an_overdue_task_once(real_worker, overdue):
    w, task = overdue

    # When: the beat task goes through the broker once
    _run(real_worker, 1)

    # Then: every step is recorded once, and notified once
    _assert_every_step_taken_once(w, task)


@pytest.mark.django_db(transaction=True)
def test_worker_escalates_once_when_the_task_is_delivered_twice(real_worker, overdue):
    w, task = overdue

    # When: the task is enqueued twice (a beat tick plus a redelivery)
    _run(real_worker, 2)

    # Then: still exactly once per step
    _assert_every_step_taken_once(w, task)
    assert Notification.objects.filter(kind__in=[f"task.{s}" for s in STEPS]).count() == 3
