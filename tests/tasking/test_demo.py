"""The demo's task scenario: the flood plan's tasks, one declined, one transferred, one overdue and
escalated. Loading the demo twice changes nothing the second time."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from apps.incidents.demo import FLOOD_TITLE
from apps.incidents.models import Incident
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.organizations.choices import DepartmentType as T
from apps.organizations.models import Department
from apps.tasking.choices import TaskEventKind, TaskStatus
from apps.tasking.demo import OVERDUE_TITLE, demo_load_tasks
from apps.tasking.models import Task, TaskComment, TaskEvent

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "tasks": Task.objects.count(),
        "events": TaskEvent.objects.count(),
        "comments": TaskComment.objects.count(),
        "notifications": Notification.objects.count(),
        "ledger": AuditEvent.objects.count(),
    }


def load() -> str:
    out = StringIO()
    call_command("load_demo", "--quiet", stdout=out)
    return out.getvalue()


def nanjing(type_: str) -> Department:
    return Department.objects.get(region__code="320100", type=type_)


def kinds(task: Task) -> list[str]:
    return list(task.events.values_list("kind", flat=True))


def test_load_demo_plays_the_task_scenario_once():
    # When: the demo is loaded twice
    load()
    first = counts()
    assert "Demo scenario ready" in load()

    # Then: the second load added nothing, and calling the step again takes no step
    assert counts() == first
    assert demo_load_tasks() == 0
    assert counts() == first

    flood = Incident.objects.get(title=FLOOD_TITLE)
    planned = {
        t.planned_dispatch.department.type: t
        for t in flood.tasks.filter(planned_dispatch__department__region__code="320100").select_related(
            "planned_dispatch__department"
        )
    }
    # fire accepted and at work
    fire = planned[T.FIRE]
    assert (fire.status, fire.department) == (TaskStatus.IN_PROGRESS, nanjing(T.FIRE))
    assert kinds(fire) == ["issued", "accepted", "started", "progress"]
    # transport declined with a reason; the information office re-assigned it to the traffic police
    transport = planned[T.TRANSPORT]
    assert (transport.status, transport.department) == (TaskStatus.ISSUED, nanjing(T.TRAFFIC_POLICE))
    assert kinds(transport) == ["issued", "declined", "reassigned"]
    declined = transport.events.get(kind=TaskEventKind.DECLINED)
    assert declined.note and declined.department == nanjing(T.TRANSPORT)
    assert transport.events.get(kind=TaskEventKind.REASSIGNED).actor_name == "js_xinxiban_head"
    # health transferred to the environment bureau, which accepted; the deadline did not move
    health = planned[T.HEALTH]
    assert (health.status, health.department, health.transfer_to) == (
        TaskStatus.ACCEPTED,
        nanjing(T.ENVIRONMENT),
        None,
    )
    assert health.deadline == health.planned_dispatch.deadline
    assert kinds(health) == ["issued", "transfer_requested", "transfer_accepted"]
    # one task overdue and escalated: reminded, then the head, then the leading group's office
    overdue = Task.objects.get(title=OVERDUE_TITLE)
    assert overdue.status == TaskStatus.ISSUED and overdue.issuer_group == flood.leading_group
    assert kinds(overdue) == ["issued", "reminded", "escalated_head", "escalated_group"]
    told = Counter(Notification.objects.filter(target_id=str(overdue.pk)).values_list("kind", "audience_role"))
    assert told == {
        ("task.issued", ""): 1,
        ("task.reminded", ""): 1,
        ("task.escalated_head", "head"): 1,
        ("task.escalated_group", ""): 1,
    }
    # nothing else was escalated by the demo's run of the beat job
    others = TaskEvent.objects.exclude(task=overdue)
    assert not others.filter(kind__in=["reminded", "escalated_head", "escalated_group"]).exists()
