"""A report job acts for its requester (decision 0001, "Celery tasks"): the requester is asked
again when the job starts, and one who lost the incident's command meanwhile gets a cleanly failed
job (status, reason, one ledger event) and no files, no notifications."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db.models import Max

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.organizations import services as org_services
from apps.organizations.models import Membership
from apps.reporting import services
from apps.reporting.choices import JobStatus
from tests.factories import admin_user
from tests.incidents.world import SHANGHAI, build_world, commander, report_incident

pytestmark = pytest.mark.django_db


def _last_seq() -> int:
    return AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0


def _queued_report(w, django_capture_on_commit_callbacks):
    incident = report_incident(w, first_seen_at=datetime.now(SHANGHAI) - timedelta(hours=1), now=datetime.now(SHANGHAI))
    with django_capture_on_commit_callbacks(execute=False):  # queued, not yet run by a worker
        report = services.report_request(actor=commander(w), incident=incident)
    assert report.status == JobStatus.QUEUED
    return report


def test_a_report_whose_requester_lost_the_command_fails_cleanly(django_capture_on_commit_callbacks):
    w = build_world()
    report = _queued_report(w, django_capture_on_commit_callbacks)
    seat = Membership.objects.get(user=commander(w), department=w.em_a, role=Role.HEAD)
    org_services.membership_remove(actor=admin_user(), membership=seat)  # after the request, before the job
    seq = _last_seq()

    report = services.report_generate(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == JobStatus.FAILED
    assert report.error and report.finished_at is not None
    assert not (report.pdf or report.xlsx or report.csv) and report.content == {}
    events = list(AuditEvent.objects.filter(seq__gt=seq).values_list("action", "target_id", "after"))
    assert events == [
        ("report.fail", str(report.pk), {"reason": "requester_lost_access", "requested_by": commander(w).pk})
    ]
    assert not Notification.objects.filter(kind="report.ready").exists()


def test_a_deactivated_requester_also_stops_the_job(django_capture_on_commit_callbacks):
    w = build_world()
    report = _queued_report(w, django_capture_on_commit_callbacks)
    type(commander(w)).objects.filter(pk=commander(w).pk).update(is_active=False)

    report = services.report_generate(report_id=report.pk)

    assert report.status == JobStatus.FAILED
    assert AuditEvent.objects.filter(action="report.fail", target_id=str(report.pk)).count() == 1
    assert not AuditEvent.objects.filter(action="report.generate", target_id=str(report.pk)).exists()


def test_a_requester_still_in_command_gets_the_report(django_capture_on_commit_callbacks):
    w = build_world()
    report = _queued_report(w, django_capture_on_commit_callbacks)
    seq = _last_seq()

    report = services.report_generate(report_id=report.pk)

    assert report.status == JobStatus.DONE
    assert list(AuditEvent.objects.filter(seq__gt=seq).values_list("action", flat=True)) == ["report.generate"]
