"""Per-department scorecards, computed from the task history, over a chosen period.

Every action runs at an injected moment (time-machine, frozen), so each figure below can be
worked out by hand from the timeline in the docstring of `history`.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
import time_machine

from apps.core.permissions import Role
from apps.tasking import services
from apps.tasking.models import Task
from apps.tasking.selectors import scorecard
from tests.incidents.world import T0, World, build_world

pytestmark = pytest.mark.django_db

START, END = T0, T0 + timedelta(days=1)  # the period [START, END)
NOW = END + timedelta(hours=6)
DUE_AFTER = timedelta(minutes=120)  # every task's deadline, after its issue


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@contextmanager
def at(moment):
    with time_machine.travel(moment, tick=False):
        yield


@pytest.fixture
def w(db) -> World:
    return build_world()


def dispatch(w: World, department, *, issued=START, deadline_after=DUE_AFTER) -> Task:
    with at(issued):
        [task] = services.task_dispatch(
            actor=w.user(w.em_a1, Role.HEAD),
            issuer_department=w.em_a1,
            departments=[department],
            title="防汛任务",
            deadline=issued + deadline_after,
        )
    return task


@pytest.fixture
def history(w):
    """Tasks issued by A1's emergency bureau (minutes after START unless said otherwise):

    fire A1 (F):   t1 accepted +10, completed +100 (deadline +120: on time)
                   t2 accepted +20, completed +200 (late)
                   t3 accepted +60, still in progress (overdue)
                   t9 issued a day before START, accepted 5 minutes later (outside the period)
    health A1 (H): t4 declined +5 → re-assigned +30 to county fire (FA), accepted +35, completed +90
                   t5 accepted +40, transfer to FA requested +50, accepted by FA +70, completed +110
                   t6 cancelled +15 (its deadline passes unmet: excluded)
    county emergency (E): t7 issued two days before START (declined, deadline outside the period)
                   t8 issued after END and accepted (outside the period)
    """
    fire_head, health_head, county_fire_head = (
        w.user(w.fire_a1, Role.HEAD),
        w.user(w.health_a1, Role.HEAD),
        w.user(w.fire_a1a, Role.HEAD),
    )
    county_head, issuer_head = w.user(w.em_a1a, Role.HEAD), w.user(w.em_a1, Role.HEAD)
    t = {n: dispatch(w, w.fire_a1) for n in (1, 2, 3)}
    t |= {n: dispatch(w, w.health_a1) for n in (4, 5, 6)}
    t[7] = dispatch(w, w.em_a1a, issued=START - timedelta(days=2))
    t[8] = dispatch(w, w.em_a1a, issued=END + timedelta(hours=1))
    t[9] = dispatch(w, w.fire_a1, issued=START - timedelta(days=1))

    def act(after, service, **kwargs):
        with at(START + after if isinstance(after, timedelta) else after):
            service(**kwargs)

    act(minutes(10), services.task_accept, actor=fire_head, task=t[1])
    act(minutes(20), services.task_accept, actor=fire_head, task=t[2])
    act(minutes(60), services.task_accept, actor=fire_head, task=t[3])
    act(minutes(100), services.task_complete, actor=fire_head, task=t[1], result="完成", evidence="照片存于指挥部")
    act(minutes(200), services.task_complete, actor=fire_head, task=t[2], result="完成", evidence="照片存于指挥部")
    act(minutes(61), services.task_start, actor=fire_head, task=t[3])
    act(START - timedelta(days=1) + minutes(5), services.task_accept, actor=fire_head, task=t[9])

    act(minutes(5), services.task_decline, actor=health_head, task=t[4], reason="应由消防负责")
    act(minutes(30), services.task_reassign, actor=issuer_head, task=t[4], department=w.fire_a1a)
    act(minutes(35), services.task_accept, actor=county_fire_head, task=t[4])
    act(
        minutes(90), services.task_complete, actor=county_fire_head, task=t[4], result="完成", evidence="照片存于指挥部"
    )
    act(minutes(40), services.task_accept, actor=health_head, task=t[5])
    act(
        minutes(50),
        services.task_request_transfer,
        actor=health_head,
        task=t[5],
        to_department=w.fire_a1a,
        reason="涉及救援",
    )
    act(minutes(70), services.task_transfer_accept, actor=county_fire_head, task=t[5])
    act(
        minutes(110),
        services.task_complete,
        actor=county_fire_head,
        task=t[5],
        result="完成",
        evidence="照片存于指挥部",
    )
    act(minutes(15), services.task_cancel, actor=issuer_head, task=t[6], reason="重复下达")

    act(START - timedelta(days=2) + minutes(30), services.task_decline, actor=county_head, task=t[7], reason="x")
    act(END + timedelta(hours=2), services.task_accept, actor=county_head, task=t[8])
    return t


def figures(rows) -> dict:
    return {
        r.department.pk: (
            r.tasks,
            r.median_accept_minutes,
            r.declines,
            r.transfers,
            r.overdue,
            r.overdue_rate,
            r.median_completion_minutes,
        )
        for r in rows
    }


def test_the_scorecard_figures_per_department(w, history):
    # When: the issuing bureau's head looks at the period
    rows = scorecard(user=w.user(w.em_a1, Role.HEAD), start=START, end=END, now=NOW)

    # Then: tasks due in the period, median minutes to accept, declines, transfers, overdue (count and
    # rate: completed late and still open past the deadline both count; cancelled is excluded),
    # median minutes from becoming accountable to completion
    assert figures(rows) == {
        w.fire_a1.pk: (3, 20.0, 0, 0, 2, 0.667, 150.0),
        w.health_a1.pk: (0, 40.0, 1, 1, 0, None, None),
        w.fire_a1a.pk: (2, 5.0, 0, 0, 0, 0.0, 50.0),
    }


def test_events_outside_the_period_are_excluded(w, history):
    # A period that holds only the day before: t9's acceptance (5 minutes) and nothing else due
    rows = scorecard(
        user=w.user(w.em_a1, Role.HEAD), start=START - timedelta(days=1), end=START - timedelta(hours=12), now=NOW
    )
    assert figures(rows) == {w.fire_a1.pk: (1, 5.0, 0, 0, 1, 1.0, None)}
    # A period that ends when t8 is issued holds nothing; one that holds t8 holds its acceptance (60
    # minutes after issue) and its deadline (END + 3 h, still open at NOW: overdue)
    assert scorecard(user=w.user(w.em_a1, Role.HEAD), start=END, end=END + timedelta(hours=1), now=NOW) == []
    later = scorecard(user=w.user(w.em_a1, Role.HEAD), start=END, end=END + timedelta(days=1), now=NOW)
    assert figures(later) == {w.em_a1a.pk: (1, 60.0, 0, 0, 1, 1.0, None)}


def test_an_open_task_is_overdue_only_once_its_deadline_has_passed(w, history):
    # t3 (deadline +120) is still open: not overdue a minute before its deadline, overdue a minute
    # after; t2 was completed late (+200), which is overdue whenever the figures are read
    issuer_head = w.user(w.em_a1, Role.HEAD)
    before = scorecard(user=issuer_head, start=START, end=END, now=START + minutes(119))
    after = scorecard(user=issuer_head, start=START, end=END, now=START + minutes(121))
    assert {r.department.pk: r.overdue for r in before} == {w.fire_a1.pk: 1, w.health_a1.pk: 0, w.fire_a1a.pk: 0}
    assert {r.department.pk: r.overdue for r in after} == {w.fire_a1.pk: 2, w.health_a1.pk: 0, w.fire_a1a.pk: 0}


def test_the_rows_cover_only_the_tasks_the_caller_may_see(w, history):
    # The fire brigade's head sees the brigade's own tasks: one row, the same figures as the issuer's
    rows = scorecard(user=w.user(w.fire_a1, Role.HEAD), start=START, end=END, now=NOW)
    assert figures(rows) == {w.fire_a1.pk: (3, 20.0, 0, 0, 2, 0.667, 150.0)}
    # The county brigade sees t4 and t5, and with them health's decline and transfer on those tasks
    rows = scorecard(user=w.user(w.fire_a1a, Role.HEAD), start=START, end=END, now=NOW)
    assert figures(rows) == {
        w.fire_a1a.pk: (2, 5.0, 0, 0, 0, 0.0, 50.0),
        w.health_a1.pk: (0, 40.0, 1, 1, 0, None, None),
    }
    # Another region's head (province B, outside the issuer's reach and with no agreement) gets nothing
    assert scorecard(user=w.user(w.em_b1, Role.HEAD), start=START, end=END, now=NOW) == []
    assert scorecard(user=w.user(w.fire_a2, Role.HEAD), start=START, end=END, now=NOW) == []


# Regression: a missing figure once sorted as 0, ranking a department that never accepted a task as
# the fastest and one with nothing due as never overdue. Missing figures now rank last.
def test_the_ranking_puts_the_lowest_overdue_rate_first_then_the_fastest_acceptance(w, db):
    # Given: five departments of A1 and its county, each with its own record in the period
    issuer_head = w.user(w.em_a1, Role.HEAD)
    fast, slow, overruled, late, unmeasured = w.fire_a1, w.health_a1, w.fire_a1a, w.em_a1a, w.em_a1
    heads = {d.pk: w.user(d, Role.HEAD) for d in (fast, slow, overruled, late, unmeasured)}

    def run(department, *, accept_after=None, complete_after=None, deadline_after=DUE_AFTER):
        task = dispatch(w, department, deadline_after=deadline_after)
        head = heads[department.pk]
        if accept_after is None:
            with at(START + minutes(1)):
                services.task_decline(actor=head, task=task, reason="不在职责范围")
            with at(START + minutes(2)):
                services.task_overrule(actor=issuer_head, task=task, note="职责所在")
        else:
            with at(START + accept_after):
                services.task_accept(actor=head, task=task)
        if complete_after is not None:
            with at(START + complete_after):
                services.task_complete(actor=head, task=task, result="完成", evidence="照片存于指挥部")

    run(fast, accept_after=minutes(10), complete_after=minutes(60))  # on time, accepted in 10
    run(slow, accept_after=minutes(30), complete_after=minutes(60))  # on time, accepted in 30
    run(overruled, complete_after=minutes(60))  # on time, never accepted by itself
    run(late, accept_after=minutes(5), complete_after=minutes(300))  # late, accepted in 5
    run(unmeasured, accept_after=minutes(1), deadline_after=timedelta(days=3))  # nothing due in the period

    # When: the scorecard is ranked
    rows = scorecard(user=issuer_head, start=START, end=END, now=NOW)

    # Then: lowest overdue rate first; within a rate the fastest acceptance; unknown figures last
    assert [r.department for r in rows] == [fast, slow, overruled, late, unmeasured]


def test_a_deadline_missed_before_a_handover_is_charged_to_the_department_that_missed_it(w, db):
    # Given: health A1 sits on a task past its deadline (+120), then asks county fire to take it
    # over (+150), which accepts (+160) and completes at once (+170)
    health_head, county_fire_head = w.user(w.health_a1, Role.HEAD), w.user(w.fire_a1a, Role.HEAD)
    task = dispatch(w, w.health_a1)
    with at(START + minutes(10)):
        services.task_accept(actor=health_head, task=task)
    with at(START + minutes(150)):
        services.task_request_transfer(actor=health_head, task=task, to_department=w.fire_a1a, reason="涉及救援")
    with at(START + minutes(160)):
        services.task_transfer_accept(actor=county_fire_head, task=task)
    with at(START + minutes(170)):
        services.task_complete(actor=county_fire_head, task=task, result="完成", evidence="照片存于指挥部")

    # When: the figures are read
    rows = scorecard(user=w.user(w.em_a1, Role.HEAD), start=START, end=END, now=NOW)

    # Then: the miss is health's, not the department that took the task over after the deadline
    overdue = {r.department.pk: (r.tasks, r.overdue) for r in rows}
    assert overdue == {w.health_a1.pk: (1, 1), w.fire_a1a.pk: (0, 0)}
