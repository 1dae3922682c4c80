"""The escalation ladder of the beat job `tasks_escalate(now=...)`: remind an unacknowledged task,
escalate an overdue one to the department head, then to the issuing leading group's information
office. Every step once per task (and per accountable department), whatever the number of runs.

Times are injected through `now=` (dispatch and the beat job); nothing here depends on the clock.
"""

from collections import Counter
from datetime import timedelta

import pytest
import time_machine

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.notifications.selectors import notification_list
from apps.tasking import services
from apps.tasking.choices import ACK_REMINDER_MINUTES, ESCALATE_GROUP_AFTER_MINUTES, Priority, TaskEventKind
from apps.tasking.models import Task
from tests.incidents.world import T0, World, build_world

pytestmark = pytest.mark.django_db

REMINDED, HEAD, GROUP = TaskEventKind.REMINDED, TaskEventKind.ESCALATED_HEAD, TaskEventKind.ESCALATED_GROUP
ANSWER = TaskEventKind.ANSWER_REMINDED
NOTHING = {REMINDED: 0, ANSWER: 0, HEAD: 0, GROUP: 0}
DEADLINE = T0 + timedelta(hours=12)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def w(db) -> World:
    return build_world()


def dispatch(w: World, department, *, priority=Priority.NORMAL, deadline=DEADLINE, by_group=False) -> Task:
    """A task issued at T0 by A1's emergency bureau, or by the leading group's information office."""
    issuer = w.office_b if by_group else w.em_a1
    [task] = services.task_dispatch(
        actor=w.user(issuer, Role.HEAD),
        issuer_department=issuer,
        issuer_group=w.group if by_group else None,
        departments=[department],
        title="加固江堤",
        deadline=deadline,
        priority=priority,
        now=T0,
    )
    return task


def steps_of(task: Task) -> Counter:
    return Counter(task.events.filter(kind__in=[REMINDED, HEAD, GROUP]).values_list("kind", flat=True))


def told(task: Task, step: str) -> list[tuple[int, str]]:
    return list(
        Notification.objects.filter(kind=f"task.{step}", target_id=str(task.pk)).values_list(
            "department_id", "audience_role"
        )
    )


@pytest.mark.parametrize("priority", Priority.values)
def test_an_unacknowledged_task_is_reminded_after_the_minutes_of_its_priority(w, priority):
    # Given: a task issued at T0 with a distant deadline
    task = dispatch(w, w.fire_a1, priority=priority, deadline=T0 + timedelta(days=3))
    due = T0 + minutes(ACK_REMINDER_MINUTES[priority])

    # When / Then: nothing a minute before the reminder is due; one reminder when it is due
    assert services.tasks_escalate(now=due - minutes(1)) == NOTHING
    assert services.tasks_escalate(now=due) == NOTHING | {REMINDED: 1}
    assert services.tasks_escalate(now=due + minutes(30)) == NOTHING
    task.refresh_from_db()
    assert task.reminded_at == due and steps_of(task) == {REMINDED: 1}
    # the reminder goes to the whole department (staff included)
    assert told(task, REMINDED) == [(w.fire_a1.pk, "")]
    assert notification_list(user=w.user(w.fire_a1)).filter(kind="task.reminded").count() == 1


def test_an_acknowledged_task_is_never_reminded(w):
    # Given: two urgent tasks; one is accepted, one declined before the reminder is due
    accepted, declined = dispatch(w, w.fire_a1, priority=Priority.URGENT), dispatch(w, w.health_a1)
    services.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=accepted)
    services.task_decline(actor=w.user(w.health_a1, Role.HEAD), task=declined, reason="不在职责范围")

    # When: the beat job runs well past every reminder time, but before the deadline
    counts = services.tasks_escalate(now=DEADLINE - minutes(1))

    # Then: no reminder for either
    assert counts == NOTHING
    assert not Notification.objects.filter(kind="task.reminded").exists()


# Regression: the reminder claim once accepted any open status, so a task accepted after the job
# read its candidates was still reminded. The reminder is now claimed only while issued.
def test_a_task_accepted_while_the_beat_job_runs_is_not_reminded(w):
    # Given: the beat job read an issued task as a reminder candidate, then the department accepted it
    task = dispatch(w, w.fire_a1, priority=Priority.URGENT)
    stale = Task.objects.select_related("department__region").get(pk=task.pk)
    services.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=task)

    # When: the job takes the reminder step for the candidate it read
    taken = services.task_escalation_step(task=stale, step=REMINDED, now=T0 + minutes(20))

    # Then: the claim fails on the accepted row; nobody is reminded of a task already acknowledged
    assert taken is False
    assert not Notification.objects.filter(kind="task.reminded").exists()


def test_an_overdue_task_escalates_to_the_department_head_at_the_deadline(w):
    # Given: an accepted task (no reminder due)
    task = dispatch(w, w.fire_a1)
    services.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=task)

    # When / Then: nothing just before the deadline, one head escalation at the deadline
    assert services.tasks_escalate(now=DEADLINE - timedelta(seconds=1)) == NOTHING
    assert services.tasks_escalate(now=DEADLINE) == NOTHING | {HEAD: 1}
    task.refresh_from_db()
    assert task.escalated_head_at == DEADLINE and task.escalated_group_at is None
    assert told(task, HEAD) == [(w.fire_a1.pk, Role.HEAD)]
    # Only heads see it in their inbox; the department's staff do not
    assert notification_list(user=w.user(w.fire_a1, Role.HEAD)).filter(kind="task.escalated_head").count() == 1
    assert not notification_list(user=w.user(w.fire_a1, Role.STAFF)).filter(kind="task.escalated_head").exists()
    assert not notification_list(user=w.user(w.health_a1, Role.HEAD)).filter(kind="task.escalated_head").exists()


@pytest.mark.parametrize("priority", Priority.values)
def test_an_overdue_group_task_escalates_to_the_information_office_after_the_minutes_of_its_priority(w, priority):
    # Given: an accepted task from the leading group's information office
    task = dispatch(w, w.fire_a1, priority=priority, by_group=True)
    services.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=task)
    due = DEADLINE + minutes(ESCALATE_GROUP_AFTER_MINUTES[priority])

    # When: the job runs at the deadline, a minute before the group step, and when it is due
    assert services.tasks_escalate(now=DEADLINE) == NOTHING | {HEAD: 1}
    assert services.tasks_escalate(now=due - minutes(1)) == NOTHING
    assert services.tasks_escalate(now=due) == NOTHING | {GROUP: 1}

    # Then: the information office (the whole office: no role filter) was told once
    task.refresh_from_db()
    assert task.escalated_group_at == due
    assert told(task, GROUP) == [(w.office_b.pk, "")]
    assert notification_list(user=w.user(w.office_b, Role.STAFF)).filter(kind="task.escalated_group").count() == 1
    assert not notification_list(user=w.user(w.em_a1, Role.HEAD)).filter(kind="task.escalated_group").exists()


def test_a_task_without_a_group_escalates_to_its_issuing_department(w):
    task = dispatch(w, w.fire_a1)
    services.tasks_escalate(now=DEADLINE + timedelta(days=1))
    assert told(task, GROUP) == [(w.em_a1.pk, "")]


def test_every_step_happens_once_across_re_runs(w):
    # Given: an urgent task from the group that nobody acknowledges
    task = dispatch(w, w.fire_a1, priority=Priority.URGENT, by_group=True)
    times = [T0 + minutes(m) for m in range(0, 24 * 60, 7)] + [DEADLINE + timedelta(days=2)] * 3

    # When: the beat job runs every seven minutes for a day, then three more times
    totals = Counter()
    for at in times:
        totals.update(services.tasks_escalate(now=at))

    # Then: three steps, each once: one task event, one ledger event, one notification
    assert +totals == {REMINDED: 1, HEAD: 1, GROUP: 1}
    assert steps_of(task) == {REMINDED: 1, HEAD: 1, GROUP: 1}
    for step in (REMINDED, HEAD, GROUP):
        assert AuditEvent.objects.filter(action=f"task.{step}", target_id=str(task.pk)).count() == 1
        assert len(told(task, step)) == 1
    # ... taken by the first run at or after each due time (runs at multiples of seven minutes)
    task.refresh_from_db()
    assert task.reminded_at == T0 + minutes(21)  # due after 15 minutes
    assert task.escalated_head_at == T0 + minutes(721)  # due at the deadline, T0 + 720
    assert task.escalated_group_at == T0 + minutes(756)  # due 30 minutes after the deadline


def test_a_completed_or_cancelled_task_never_escalates(w):
    # Given: three tasks; one is completed (on time), one completed late, one cancelled
    issuer_head, fire_head = w.user(w.em_a1, Role.HEAD), w.user(w.fire_a1, Role.HEAD)
    on_time, late, cancelled = (dispatch(w, w.fire_a1, priority=Priority.URGENT) for _ in range(3))
    for task in (on_time, late):
        services.task_accept(actor=fire_head, task=task)
    services.task_complete(actor=fire_head, task=on_time, result="已完成", evidence="照片存于指挥部")
    services.task_cancel(actor=issuer_head, task=cancelled, reason="险情解除")
    services.tasks_escalate(now=DEADLINE)  # `late` escalates to the head while still open
    services.task_complete(actor=fire_head, task=late, result="已完成", evidence="照片存于指挥部")
    before = steps_of(late)

    # When: the job runs long after every step would have been due
    for day in range(1, 4):
        services.tasks_escalate(now=DEADLINE + timedelta(days=day))

    # Then: nothing happened to any of them
    assert steps_of(on_time) == steps_of(cancelled) == Counter()
    assert steps_of(late) == before == {HEAD: 1}
    assert not Notification.objects.filter(kind__in=["task.reminded", "task.escalated_group"]).exists()


def test_a_transferred_task_gets_a_fresh_head_escalation_for_the_new_department(w):
    # Given: health accepted a task, let its deadline pass (head escalated), then asked fire to take over
    task = dispatch(w, w.health_a1)
    services.task_accept(actor=w.user(w.health_a1, Role.HEAD), task=task)
    assert services.tasks_escalate(now=DEADLINE + minutes(1)) == NOTHING | {HEAD: 1}
    services.task_request_transfer(
        actor=w.user(w.health_a1, Role.HEAD), task=task, to_department=w.fire_a1, reason="涉及救援"
    )

    # When: the fire brigade accepts the transfer
    services.task_transfer_accept(actor=w.user(w.fire_a1, Role.HEAD), task=task)

    # Then: the new department's ladder starts afresh; the deadline does not move
    task.refresh_from_db()
    assert (task.department, task.deadline) == (w.fire_a1, DEADLINE)
    assert task.reminded_at is None and task.escalated_head_at is None
    assert services.tasks_escalate(now=DEADLINE + minutes(2)) == NOTHING | {HEAD: 1}
    assert services.tasks_escalate(now=DEADLINE + minutes(3)) == NOTHING
    assert sorted(told(task, HEAD)) == sorted([(w.health_a1.pk, Role.HEAD), (w.fire_a1.pk, Role.HEAD)])
    assert notification_list(user=w.user(w.fire_a1, Role.HEAD)).filter(kind="task.escalated_head").count() == 1
    escalated = task.events.filter(kind=HEAD).values_list("department_id", flat=True)
    assert sorted(escalated) == sorted([w.health_a1.pk, w.fire_a1.pk])


def test_a_transfer_request_left_unanswered_reminds_the_named_departments_head_once(w):
    # Given: fire A1 accepts at once and asks county fire to take the task over 10 minutes in
    task = dispatch(w, w.fire_a1, deadline=T0 + timedelta(days=3))
    with time_machine.travel(T0 + minutes(10), tick=False):
        services.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=task)
        services.task_request_transfer(
            actor=w.user(w.fire_a1, Role.HEAD), task=task, to_department=w.fire_a1a, reason="辖区在县"
        )
    due = T0 + minutes(10 + ACK_REMINDER_MINUTES[Priority.NORMAL])

    # When / Then: nothing before the wait is over, one reminder to county fire's head, never again
    assert services.tasks_escalate(now=due - minutes(1)) == NOTHING
    assert services.tasks_escalate(now=due) == NOTHING | {ANSWER: 1}
    assert services.tasks_escalate(now=due + minutes(60)) == NOTHING
    assert told(task, ANSWER) == [(w.fire_a1a.pk, Role.HEAD)]
    task.refresh_from_db()
    assert task.answer_reminded_at == due and task.department == w.fire_a1


def test_a_decline_left_unanswered_reminds_the_issuer_and_an_answered_one_does_not(w):
    # Given: two tasks declined at T0 + 5; the issuer re-assigns one of them at once
    waiting, answered = (
        dispatch(w, w.health_a1, deadline=T0 + timedelta(days=3)),
        dispatch(w, w.health_a1, deadline=T0 + timedelta(days=3)),
    )
    with time_machine.travel(T0 + minutes(5), tick=False):
        for task in (waiting, answered):
            services.task_decline(actor=w.user(w.health_a1, Role.HEAD), task=task, reason="不在职责范围")
        services.task_reassign(actor=w.user(w.em_a1, Role.HEAD), task=answered, department=w.fire_a1)
    due = T0 + minutes(5 + ACK_REMINDER_MINUTES[Priority.NORMAL])

    # When: the beat job runs when the wait is over
    counts = services.tasks_escalate(now=due)

    # Then: the issuing bureau's head is reminded of the declined task, once; the re-assigned one is
    # an issued task again, whose own acknowledgement clock runs from its issue
    assert counts[ANSWER] == 1
    assert told(waiting, ANSWER) == [(w.em_a1.pk, Role.HEAD)] and told(answered, ANSWER) == []
    assert services.tasks_escalate(now=due + minutes(1))[ANSWER] == 0
