"""Races on PostgreSQL: threads with their own connections hit the same task at the same moment.

Transactional tests (rows are committed, so the threads see them). Each thread loads its own user
and Principal, waits at a barrier, acts, and closes its connection. The assertions read the
database afterwards: the task's state, its history (TaskEvent) and the ledger must agree.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.tasking import services
from apps.tasking.choices import ESCALATE_GROUP_AFTER_MINUTES, Priority, TaskEventKind, TaskStatus
from apps.tasking.models import Task, TaskEvent
from tests import factories as f
from tests.incidents.world import build_world
from tests.races import JOIN_TIMEOUT, fresh_user, run_together

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def w(transactional_db):
    if connection.vendor != "postgresql":
        pytest.fail("race tests need PostgreSQL", pytrace=False)
    return build_world()


def fresh_task(pk) -> Task:
    return Task.objects.get(pk=pk)


def run_while_locked(holder, contender, *, names=("holder", "contender")):
    """Deterministic interleaving: `holder()` runs in a transaction that commits only once
    `contender()` (started after `holder()` returned) is blocked on a lock the holder took."""
    held, outcome = threading.Event(), {}

    def hold():
        try:
            with transaction.atomic():
                outcome[names[0]] = holder()
                held.set()
                wait_until_someone_waits_on_me()
        except BaseException as exc:
            outcome[names[0]] = exc
        finally:
            held.set()
            connection.close()

    def contend():
        try:
            assert held.wait(timeout=30)
            outcome[names[1]] = contender()
        except BaseException as exc:
            outcome[names[1]] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=hold, name=names[0]), threading.Thread(target=contend, name=names[1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return outcome


def wait_until_someone_waits_on_me(timeout: float = 20) -> None:
    """Poll until another backend is blocked by this connection's locks (pg_blocking_pids)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is cached per transaction
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))")
            if cursor.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the contender never blocked on the holder's lock")
            time.sleep(0.02)


def dispatch(w, department, *, issuer=None, **kwargs) -> Task:
    issuer = issuer or w.em_a1
    [task] = services.task_dispatch(
        actor=w.user(issuer, Role.HEAD),
        issuer_department=issuer,
        departments=[department],
        title=kwargs.pop("title", "转移沿江群众"),
        deadline=kwargs.pop("deadline", timezone.now() + timedelta(hours=2)),
        **kwargs,
    )
    return task


def assert_invalid_transitions(results, *, winners: int = 1) -> None:
    outcomes = Counter(r[0] for r in results)
    assert outcomes == {"ok": winners, "error": len(results) - winners}, results
    for kind, value in results:
        if kind == "error":
            assert isinstance(value, ServiceError), value
            assert value.code == "invalid_transition", value


def assert_refused_as_too_late(loser) -> None:
    """A transfer accept that lost is refused as if it came a moment later: the transition is no
    longer valid, or (authorized against the locked row) there is no transfer left to take; never
    a vanished task."""
    assert (isinstance(loser, ServiceError) and loser.code == "invalid_transition") or (
        isinstance(loser, AccessDenied) and not loser.hidden
    ), repr(loser)


def test_parallel_accepts_of_one_task_succeed_once(w):
    # Given: a task issued to A1's fire brigade, which has eight heads
    task = dispatch(w, w.fire_a1)
    heads = [w.user(w.fire_a1, Role.HEAD).pk] + [f.member(w.fire_a1, Role.HEAD).pk for _ in range(7)]

    # When: all eight accept at the same moment
    results = run_together(
        8,
        lambda i, prepared: services.task_accept(actor=prepared[0], task=prepared[1]).status,
        prepare=lambda i: (fresh_user(heads[i]), fresh_task(task.pk)),
    )

    # Then: one acceptance; the other seven were told the transition is no longer valid
    assert_invalid_transitions(results)
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED and task.accepted_at is not None
    assert TaskEvent.objects.filter(task=task, kind=TaskEventKind.ACCEPTED).count() == 1
    assert AuditEvent.objects.filter(action="task.accept", target_id=str(task.pk)).count() == 1


def test_parallel_transfer_request_and_completion_end_in_one_consistent_state(w):
    # Given: several accepted tasks of A1's health commission (one race per task)
    head, staff = w.user(w.health_a1, Role.HEAD), w.user(w.health_a1, Role.STAFF)
    tasks = []
    for i in range(6):
        task = dispatch(w, w.health_a1, title=f"卫生防疫{i}")
        services.task_accept(actor=head, task=task)
        tasks.append(task)
    endings = Counter()

    for task in tasks:
        # When: the head asks the fire brigade to take over while staff report the task completed
        def act(i, prepared, task=task):
            user, fresh = prepared
            if i == 0:
                return services.task_request_transfer(
                    actor=user, task=fresh, to_department=w.fire_a1, reason="涉及救援"
                ).status
            return services.task_complete(actor=user, task=fresh, result="消杀完成", evidence="照片存于指挥部").status

        results = run_together(
            2, act, prepare=lambda i, task=task: (fresh_user([head, staff][i].pk), fresh_task(task.pk))
        )

        # Then: exactly one of the two happened, and the row, the history and the ledger agree on which
        assert_invalid_transitions(results)
        task.refresh_from_db()
        kinds = Counter(TaskEvent.objects.filter(task=task).values_list("kind", flat=True))
        actions = Counter(
            AuditEvent.objects.filter(target_type="tasking.task", target_id=str(task.pk)).values_list(
                "action", flat=True
            )
        )
        assert task.department == w.health_a1  # the first department stays accountable either way
        if task.status == TaskStatus.COMPLETED:
            assert (task.transfer_to, task.status_before_transfer, task.completed_at is None) == (None, "", False)
            assert (kinds[TaskEventKind.COMPLETED], kinds[TaskEventKind.TRANSFER_REQUESTED]) == (1, 0)
            assert (actions["task.complete"], actions["task.transfer_request"]) == (1, 0)
        else:
            assert task.status == TaskStatus.TRANSFER_REQUESTED
            assert (task.transfer_to, task.status_before_transfer, task.completed_at) == (
                w.fire_a1,
                TaskStatus.ACCEPTED,
                None,
            )
            assert (kinds[TaskEventKind.COMPLETED], kinds[TaskEventKind.TRANSFER_REQUESTED]) == (0, 1)
            assert (actions["task.complete"], actions["task.transfer_request"]) == (0, 1)
        endings[task.status] += 1
    assert sum(endings.values()) == len(tasks)


def test_parallel_transfer_accepts_by_two_heads_of_the_target_succeed_once(w):
    # Given: health asks the fire brigade to take a task over; the brigade has two heads
    health_head = w.user(w.health_a1, Role.HEAD)
    task = dispatch(w, w.health_a1)
    deadline = task.deadline
    services.task_request_transfer(actor=health_head, task=task, to_department=w.fire_a1, reason="涉及救援")
    heads = [w.user(w.fire_a1, Role.HEAD).pk, f.member(w.fire_a1, Role.HEAD).pk]

    # When: both heads accept the transfer at once
    results = run_together(
        2,
        lambda i, prepared: services.task_transfer_accept(actor=prepared[0], task=prepared[1]).department_id,
        prepare=lambda i: (fresh_user(heads[i]), fresh_task(task.pk)),
    )

    # Then: one took it over, the other was refused; the task has one accountable department and its
    # deadline is unchanged
    assert Counter(r[0] for r in results) == {"ok": 1, "error": 1}, results
    assert_refused_as_too_late(next(value for kind, value in results if kind == "error"))
    task.refresh_from_db()
    assert (task.status, task.department, task.transfer_to, task.deadline) == (
        TaskStatus.ACCEPTED,
        w.fire_a1,
        None,
        deadline,
    )
    assert TaskEvent.objects.filter(task=task, kind=TaskEventKind.TRANSFER_ACCEPTED).count() == 1
    assert AuditEvent.objects.filter(action="task.transfer_accept", target_id=str(task.pk)).count() == 1


# Regression: _lock() once took FOR UPDATE over a join; a waiter whose row changed department
# re-checked the join and got Task.DoesNotExist (a 500). The task row is now locked alone.
def test_the_second_transfer_accept_is_told_the_transition_is_invalid(w):
    # Given: health asks the fire brigade to take a task over; the brigade has two heads
    task = dispatch(w, w.health_a1)
    services.task_request_transfer(
        actor=w.user(w.health_a1, Role.HEAD), task=task, to_department=w.fire_a1, reason="涉及救援"
    )
    first, second = w.user(w.fire_a1, Role.HEAD).pk, f.member(w.fire_a1, Role.HEAD).pk

    # When: the second head's accept waits on the row lock while the first head's accept commits
    outcome = run_while_locked(
        lambda: services.task_transfer_accept(actor=fresh_user(first), task=fresh_task(task.pk)),
        lambda: services.task_transfer_accept(actor=fresh_user(second), task=fresh_task(task.pk)),
    )

    # Then: the first took it over; the second was refused as if it had come a moment later
    assert isinstance(outcome["holder"], Task), outcome
    assert_refused_as_too_late(outcome["contender"])
    task.refresh_from_db()
    assert (task.status, task.department) == (TaskStatus.ACCEPTED, w.fire_a1)


def test_parallel_escalation_runs_take_each_step_once(w):
    # Given: twenty urgent tasks, some from the leading group's information office, all long overdue
    office_head = w.user(w.office_b, Role.HEAD)
    issued = timezone.now() - timedelta(hours=10)
    deadline = issued + timedelta(hours=1)
    tasks = [dispatch(w, dept, priority=Priority.URGENT, deadline=deadline, now=issued) for dept in (w.fire_a1,) * 10]
    tasks += services.task_dispatch(
        actor=office_head,
        issuer_department=w.office_b,
        issuer_group=w.group,
        departments=[w.fire_a1, w.health_a1, w.em_a1, w.fire_a1a, w.em_a1a, w.fire_b1, w.em_b1, w.bdc_b1],
        title="排查沿江危化企业",
        priority=Priority.URGENT,
        deadline=deadline,
        now=issued,
    )
    tasks += [dispatch(w, w.health_a1, priority=Priority.URGENT, deadline=deadline, now=issued) for _ in range(2)]
    at = deadline + timedelta(minutes=ESCALATE_GROUP_AFTER_MINUTES[Priority.URGENT] + 5)

    # When: six beat runs start at the same moment
    results = run_together(6, lambda i, _: services.tasks_escalate(now=at))

    # Then: no run failed, and every step of every task was taken exactly once
    assert [r[0] for r in results] == ["ok"] * 6, results
    steps = (TaskEventKind.REMINDED, TaskEventKind.ESCALATED_HEAD, TaskEventKind.ESCALATED_GROUP)
    for task in tasks:
        for step in steps:
            assert TaskEvent.objects.filter(task=task, kind=step).count() == 1, (task.pk, step)
            assert AuditEvent.objects.filter(action=f"task.{step}", target_id=str(task.pk)).count() == 1
            assert Notification.objects.filter(kind=f"task.{step}", target_id=str(task.pk)).count() == 1
        task.refresh_from_db()
        assert task.reminded_at == task.escalated_head_at == task.escalated_group_at == at
    # ... and the runs together reported exactly what was recorded, none twice
    taken = sum((Counter(r[1]) for r in results), Counter())
    assert dict(taken) == {step: len(tasks) for step in steps}
    # the group step told the information office for the group's tasks, the issuer for the others
    group_told = Counter(
        Notification.objects.filter(kind="task.escalated_group").values_list("department_id", flat=True)
    )
    assert group_told == {w.office_b.pk: 8, w.em_a1.pk: 12}


# Regression: services once authorized before waiting for the row lock, deciding on the old row
# and writing the new one. The permission is now re-checked on the locked row.
def test_a_department_cannot_accept_a_task_re_assigned_away_from_it_meanwhile(w):
    # Given: the county emergency bureau declined a task
    county_head = w.user(w.em_a1a, Role.HEAD)
    task = dispatch(w, w.em_a1a)
    services.task_decline(actor=county_head, task=task, reason="不在职责范围")
    issuer_head, county_head = w.user(w.em_a1, Role.HEAD).pk, county_head.pk

    # When: the issuer re-assigns it to the county fire brigade, and while that commits the bureau's
    # head (who may still accept: declined → accepted is a valid change of mind) accepts it
    outcome = run_while_locked(
        lambda: services.task_reassign(actor=fresh_user(issuer_head), task=fresh_task(task.pk), department=w.fire_a1a),
        lambda: services.task_accept(actor=fresh_user(county_head), task=fresh_task(task.pk)),
    )

    # Then: the bureau was refused, and the fire brigade still has to acknowledge the task
    assert isinstance(outcome["holder"], Task), outcome
    task.refresh_from_db()
    assert (task.department, task.status) == (w.fire_a1a, TaskStatus.ISSUED), outcome
    assert isinstance(outcome["contender"], AccessDenied), outcome
