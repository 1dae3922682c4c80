"""Plan activations turn their planned dispatches into tasks (incidents → tasking).

Verifying an incident activates the matching plan (`plan_activate_matching`), whose
`dispatch_planned` hands every PlannedDispatch to `task_dispatch_planned`: one Task each, issued by
the leading group's information office when a group is in charge, else by the reporting department.
"""

from collections import Counter

import pytest
from django.db import transaction

from apps.core.permissions import Role
from apps.incidents import services as incidents
from apps.incidents.choices import Severity
from apps.incidents.models import PlanActivation, PlannedDispatch
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.organizations.choices import DepartmentType as T
from apps.tasking import services
from apps.tasking.choices import Priority, TaskEventKind, TaskStatus
from apps.tasking.models import Task, TaskEvent
from tests.incidents.world import World, build_world, commander, plan, report_incident

pytestmark = pytest.mark.django_db

TEMPLATES = (("消防力量前置", T.FIRE, 60), ("开展卫生防疫", T.HEALTH, 240))


@pytest.fixture
def w(db) -> World:
    return build_world()


def planned_tasks(incident) -> list[Task]:
    return list(Task.objects.filter(incident=incident).select_related("planned_dispatch").order_by("id"))


def test_verifying_creates_one_task_per_planned_dispatch_issued_by_the_information_office(w):
    # Given: a severity III plan for floods with a fire and a health template; the group is in charge
    plan(severity=Severity.III, templates=TEMPLATES)
    incident = report_incident(w, regions=[w.a1])
    incidents.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)

    # When: the incident is verified
    incidents.incident_verify(actor=commander(w), incident=incident)

    # Then: one task per planned dispatch (fire A1, fire A1a, health A1), linked both ways
    dispatches = list(PlannedDispatch.objects.filter(activation__incident=incident).order_by("id"))
    assert Counter(d.department for d in dispatches) == {w.fire_a1: 1, w.fire_a1a: 1, w.health_a1: 1}
    tasks = planned_tasks(incident)
    assert len(tasks) == len(dispatches) == 3
    for dispatch in dispatches:
        task = Task.objects.get(pk=dispatch.task_id)
        assert task.planned_dispatch == dispatch
        assert (task.department, task.title, task.deadline) == (dispatch.department, dispatch.title, dispatch.deadline)
        assert (task.status, task.priority, task.incident) == (TaskStatus.ISSUED, Priority.HIGH, incident)
        # issued by the leading group's information office, on the group's behalf
        assert (task.issuer_department, task.issuer_group) == (w.office_b, w.group)
    # one batch, one ISSUED history row and one notification per task, one ledger event for the lot
    assert len({t.batch for t in tasks}) == 1
    assert TaskEvent.objects.filter(task__in=tasks, kind=TaskEventKind.ISSUED).count() == 3
    assert Counter(Notification.objects.filter(kind="task.issued").values_list("department_id", flat=True)) == {
        w.fire_a1.pk: 1,
        w.fire_a1a.pk: 1,
        w.health_a1.pk: 1,
    }
    assert AuditEvent.objects.filter(action="task.dispatch").count() == 1
    # the accountable departments can act on them; the information office controls them
    services.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=tasks[0])
    assert Task.objects.restrict(w.user(w.office_b), "control").filter(pk__in=[t.pk for t in tasks]).count() == 3


def test_without_a_leading_group_the_reporting_department_issues_the_tasks(w):
    plan(severity=Severity.III, templates=TEMPLATES)
    incident = report_incident(w, regions=[w.a1])

    incidents.incident_verify(actor=commander(w), incident=incident)

    tasks = planned_tasks(incident)
    assert len(tasks) == 3
    assert {(t.issuer_department, t.issuer_group) for t in tasks} == {(w.em_a1, None)}
    # the reporting department's head controls them (issuer_group is empty)
    assert Task.objects.restrict(w.user(w.em_a1, Role.HEAD), "control").filter(incident=incident).count() == 3


def test_re_running_the_activation_creates_no_duplicate_tasks(w):
    # Given: a verified incident whose plan dispatched three tasks
    plan(severity=Severity.III, templates=TEMPLATES)
    incident = report_incident(w, regions=[w.a1])
    incidents.incident_verify(actor=commander(w), incident=incident)
    [activation] = PlanActivation.objects.filter(incident=incident)
    before = (Task.objects.count(), TaskEvent.objects.count(), Notification.objects.count())

    # When: the activation is run again, and its dispatches are handed to the task services again
    with transaction.atomic():
        assert incidents.plan_activate_matching(actor=commander(w), incident=incident) == []
        incidents.dispatch_planned(actor=commander(w), activation=activation)
        assert services.task_dispatch_planned(actor=commander(w), activation=activation) == []

    # Then: nothing new
    assert (Task.objects.count(), TaskEvent.objects.count(), Notification.objects.count()) == before
    assert PlanActivation.objects.filter(incident=incident).count() == 1


def test_raising_severity_dispatches_the_new_plan_and_lowering_it_deletes_no_task(w):
    # Given: plans for III (fire) and II (health); an incident verified at III, worked on, then raised
    plan(severity=Severity.III, templates=(TEMPLATES[0],))
    plan(severity=Severity.II, templates=(TEMPLATES[1],))
    incident = report_incident(w, regions=[w.a1])
    incidents.incident_verify(actor=commander(w), incident=incident)
    [fire_task, county_fire_task] = planned_tasks(incident)
    services.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=fire_task)
    incidents.incident_set_severity(actor=commander(w), incident=incident, severity=Severity.II, reason="险情扩大")
    raised = {t.pk: t.status for t in planned_tasks(incident)}
    assert len(raised) == 3  # + health A1 from the severity II plan

    # When: the severity is lowered back to III
    incidents.incident_set_severity(actor=commander(w), incident=incident, severity=Severity.III, reason="水位回落")

    # Then: every task is still there, in the state it was in; the III plan did not activate twice
    assert {t.pk: t.status for t in planned_tasks(incident)} == raised
    assert raised[fire_task.pk] == TaskStatus.ACCEPTED and raised[county_fire_task.pk] == TaskStatus.ISSUED
    assert PlanActivation.objects.filter(incident=incident).count() == 2
    assert PlannedDispatch.objects.filter(activation__incident=incident, task_id__isnull=True).count() == 0
