"""Races on PostgreSQL: threads with their own connections hit the same rows at the same moment.

Transactional tests (rows are committed, so the threads see them); each thread prepares its own
user and Principal, waits at a barrier, acts, and closes its connection.
"""

from collections import Counter

import pytest
from django.db import connection

from apps.core.exceptions import ServiceError
from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import ClockStep, ReportKind, Severity
from apps.incidents.models import Incident, PlanActivation, PlannedDispatch, ReportingClock, SituationReport
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from tests import factories as f
from tests.incidents.world import T0, build_world, commander, initial_clock, minutes, plan, report_incident, rule
from tests.races import fresh_user, run_together

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def w(transactional_db):
    if connection.vendor != "postgresql":
        pytest.fail("race tests need PostgreSQL", pytrace=False)
    return build_world()


def test_concurrent_reports_are_numbered_1_to_n_without_duplicates(w):
    # Given: an incident and eight staff of the reporting department
    rule(Severity.III)
    incident = report_incident(w, department=w.em_a1, regions=[w.a1])
    staff = [w.user(w.em_a1).pk, w.user(w.em_a1, Role.HEAD).pk] + [f.member(w.em_a1).pk for _ in range(6)]

    # When: all eight submit at the same moment
    results = run_together(
        8,
        lambda i, user: (
            services.report_submit(
                actor=user,
                incident=incident,
                department=w.em_a1,
                kind=ReportKind.FOLLOW_UP,
                text=f"第{i}份",
                now=T0 + minutes(5),
            ).number
        ),
        prepare=lambda i: fresh_user(staff[i]),
    )

    # Then: every submission succeeded, numbered exactly 1..8
    assert [r[0] for r in results] == ["ok"] * 8, results
    assert sorted(r[1] for r in results) == list(range(1, 9))
    numbers = list(SituationReport.objects.filter(incident=incident).values_list("number", flat=True))
    assert sorted(numbers) == list(range(1, 9))
    assert Incident.objects.get(pk=incident.pk).report_count == 8
    assert AuditEvent.objects.filter(action="report.submit").count() == 8


def test_concurrent_clock_checks_take_each_step_once(w):
    # Given: the county's initial clock is 60 minutes overdue (every step due); the group is in charge
    rule(Severity.III)
    incident = report_incident(w, department=w.em_a1a, regions=[w.a1a])
    services.incident_assign_leading_group(actor=w.user(w.office_b), incident=incident, group=w.group)
    clock = initial_clock(incident, w.em_a1a)
    at = clock.due_at + minutes(60)

    # When: six beat runs start at the same moment
    results = run_together(6, lambda i, _: services.clocks_check(now=at))

    # Then: no run failed, and each step of the county's clock was taken exactly once
    assert [r[0] for r in results] == ["ok"] * 6, results
    for step in ClockStep.values:
        assert Notification.objects.filter(key__startswith=f"clock:{clock.pk}:{step}:").count() == 1, step
        assert (
            AuditEvent.objects.filter(
                action=f"clock.{step}", target_type="incidents.reportingclock", target_id=str(clock.pk)
            ).count()
            == 1
        ), step
    # ... and across every clock, the runs together reported exactly the steps recorded, none twice
    taken = sum((Counter(r[1]) for r in results), Counter())
    recorded = Counter(
        a.removeprefix("clock.")
        for a in AuditEvent.objects.filter(action__startswith="clock.").values_list("action", flat=True)
    )
    assert +taken == recorded
    per_clock = Counter(AuditEvent.objects.filter(action__startswith="clock.").values_list("target_id", "action"))
    assert set(per_clock.values()) == {1}
    assert ReportingClock.objects.get(pk=clock.pk).escalated_group_at == at


def test_concurrent_verifications_succeed_once_and_activate_the_plan_once(w):
    # Given: a reported incident with a matching plan, and four command holders
    plan(severity=Severity.III)
    incident = report_incident(w, regions=[w.a1])
    actors = [commander(w).pk, w.user(w.em_a1, Role.HEAD).pk, w.user(w.office_b).pk, w.user(w.office_b, Role.HEAD).pk]

    # When: all four verify at once
    results = run_together(
        4,
        lambda i, user: services.incident_verify(actor=user, incident=incident).status,
        prepare=lambda i: fresh_user(actors[i]),
    )

    # Then: one succeeded; the others were told the transition is no longer valid
    outcomes = Counter(r[0] for r in results)
    assert outcomes == {"ok": 1, "error": 3}, results
    for kind, value in results:
        if kind == "error":
            assert isinstance(value, ServiceError), value
            assert value.code == "invalid_transition"
    assert PlanActivation.objects.filter(incident=incident).count() == 1
    assert AuditEvent.objects.filter(action="incident.verify").count() == 1
    assert AuditEvent.objects.filter(action="plan.activate").count() == 1
    assert PlannedDispatch.objects.filter(activation__incident=incident).count() == 2  # fire A1 and A1a


def test_concurrent_duplicates_of_one_idempotency_key_return_one_report(w):
    # Given: a client that retries the same submission (same key) while the first is still in flight
    incident = report_incident(w, department=w.em_a1, regions=[w.a1])
    staff = w.user(w.em_a1).pk

    # When: four copies arrive at once
    results = run_together(
        4,
        lambda i, user: (
            services.report_submit(
                actor=user,
                incident=incident,
                department=w.em_a1,
                kind=ReportKind.FOLLOW_UP,
                text="同一份报告",
                idempotency_key="retry-42",
                now=T0 + minutes(5),
            ).pk
        ),
        prepare=lambda i: fresh_user(staff),
    )

    # Then: every copy gets the one report; no second number, one ledger event
    assert [r[0] for r in results] == ["ok"] * 4, results
    assert len({r[1] for r in results}) == 1
    assert list(SituationReport.objects.filter(incident=incident).values_list("number", flat=True)) == [1]
    assert Incident.objects.get(pk=incident.pk).report_count == 1
    assert AuditEvent.objects.filter(action="report.submit").count() == 1
