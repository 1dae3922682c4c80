"""The reporting-clock beat task, published to a real broker and run by a real worker process.

The worker runs `clocks_check()` with its own wall clock against rows this process committed;
each escalation step must land exactly once, however often the task is delivered.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.incidents import services
from apps.incidents.choices import ClockStep, Severity
from apps.incidents.models import ReportingClock
from apps.incidents.tasks import clocks_check_task
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from tests.incidents.world import build_world, initial_clock, report_incident, rule

pytestmark = pytest.mark.worker


@pytest.fixture
def overdue(transactional_db):
    """A county incident first seen 10 hours ago: its county, city and province clocks (due after
    1 h, 3 h and 4 h) are all past every step. The leading group is in charge."""
    w = build_world()
    rule(Severity.III)  # initial 240, county→city 60, city→province 120; remind 30, +30, +60
    now = timezone.now()
    incident = report_incident(
        w, department=w.em_a1a, regions=[w.a1a], first_seen_at=now - timedelta(hours=10), now=now
    )
    services.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)
    assert not Notification.objects.filter(kind__startswith="clock.").exists()
    return w, incident


def _run(worker, times: int) -> None:
    results = [worker.send(clocks_check_task) for _ in range(times)]
    for result in results:
        worker.wait_for(
            lambda r=result: f"clocks_check_task[{r.id}] succeeded" in worker.log(),
            timeout=30,
            what=f"'succeeded' log line for task {result.id}",
        )


def _assert_every_step_taken_once(w, incident) -> None:
    clocks = {c.department_id: c for c in ReportingClock.objects.filter(incident=incident)}
    assert set(clocks) == {w.em_a1a.pk, w.em_a1.pk, w.em_a.pk}
    events = Counter(AuditEvent.objects.filter(action__startswith="clock.").values_list("target_id", "action"))
    assert events == Counter({(str(c.pk), f"clock.{step}"): 1 for c in clocks.values() for step in ClockStep.values})

    county = clocks[w.em_a1a.pk]
    told = Counter(
        Notification.objects.filter(key__startswith=f"clock:{county.pk}:").values_list("kind", "department_id")
    )
    assert told == Counter(
        {
            ("clock.reminded", w.em_a1a.pk): 1,
            ("clock.head", w.em_a1a.pk): 1,
            ("clock.region_above", w.em_a1.pk): 1,
            ("clock.leading_group", w.office_b.pk): 1,
        }
    )
    # the city's clock escalates to the province; the province has no region above
    assert Notification.objects.filter(key__startswith=f"clock:{clocks[w.em_a1.pk].pk}:").count() == 4
    assert Notification.objects.filter(key__startswith=f"clock:{clocks[w.em_a.pk].pk}:").count() == 3
    for clock in clocks.values():
        clock.refresh_from_db()
        assert None not in (clock.reminded_at, clock.escalated_head_at, clock.escalated_region_at)
        assert clock.escalated_group_at is not None


# Transactional: the worker has its own connection and sees only committed rows.
@pytest.mark.django_db(transaction=True)
def test_worker_escalates_an_overdue_clock_once(real_worker, overdue):
    w, incident = overdue
    assert initial_clock(incident, w.em_a1a).escalated_head_at is None

    # When: the beat task goes through the broker once
    _run(real_worker, 1)

    # Then: every due step of every clock is recorded once, and notified once
    _assert_every_step_taken_once(w, incident)


@pytest.mark.django_db(transaction=True)
def test_worker_escalates_once_when_the_task_is_delivered_twice(real_worker, overdue):
    w, incident = overdue

    # When: the task is enqueued twice (a beat tick plus a redelivery)
    _run(real_worker, 2)

    # Then: still exactly once per step
    _assert_every_step_taken_once(w, incident)
    assert Notification.objects.filter(kind__startswith="clock.").count() == 4 + 4 + 3
