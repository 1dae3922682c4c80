"""A report or an archive whose message never reached a worker (the broker was down when it was
asked for, or lost the message) or whose worker died is not stuck: the request still succeeds,
and the beat sweep `reports_resume` publishes the work again; a report published twice is built
once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.incidents import services as incidents
from apps.incidents.choices import IncidentStatus
from apps.ledger.models import AuditEvent
from apps.reporting import services
from apps.reporting.choices import JobStatus, ReportKind
from apps.reporting.models import Archive, Report
from apps.reporting.tasks import reports_resume_task
from tests.incidents.world import build_world, commander
from tests.reporting.test_reports import _incident_with_work

pytestmark = pytest.mark.django_db


@pytest.fixture
def inc():
    w = build_world()
    return w, _incident_with_work(w)


def test_asking_for_a_report_while_the_broker_is_down_succeeds_and_the_report_waits(
    inc, broker_down, django_capture_on_commit_callbacks, caplog
):
    w, incident = inc
    client = Client()
    client.force_login(commander(w))
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        api = client.post(
            reverse("api:incident-report-request", args=[incident.pk]),
            {"kind": "situation"},
            content_type="application/json",
        )
        portal = client.post(
            reverse("portal:report-request", args=[incident.pk]), {"kind": "situation", "idempotency_key": "p1"}
        )
    assert api.status_code == 202, api.content[:300]
    assert portal.status_code == 302
    assert time.monotonic() - started < 6, "the committed requests waited for the broker"
    assert caplog.text.count("report_generate_task(") == 2 and "not published" in caplog.text
    assert list(Report.objects.filter(incident=incident).values_list("status", flat=True)) == [JobStatus.QUEUED] * 2


def test_the_sweep_builds_reports_left_queued_or_running_once_each(inc, django_capture_on_commit_callbacks):
    w, incident = inc
    lost = Report.objects.create(incident=incident, number=1, language="zh-hans")  # its message was lost
    died = Report.objects.create(incident=incident, number=2, language="zh-hans", status=JobStatus.RUNNING)
    fresh = Report.objects.create(incident=incident, number=3, language="zh-hans")  # still in the queue
    long_ago = timezone.now() - timedelta(hours=3)
    Report.objects.filter(pk=lost.pk).update(requested_at=long_ago)
    Report.objects.filter(pk=died.pk).update(requested_at=long_ago, started_at=long_ago)

    assert reports_resume_task.apply().get() == 2
    statuses = dict(Report.objects.values_list("pk", "status"))
    assert statuses == {lost.pk: JobStatus.DONE, died.pk: JobStatus.DONE, fresh.pk: JobStatus.QUEUED}
    built = AuditEvent.objects.filter(action="report.generate").values_list("target_id", flat=True)
    assert sorted(built) == sorted([str(lost.pk), str(died.pk)])

    # a second sweep (or a duplicate of the lost message arriving late) builds nothing again
    assert services.reports_resume() == 0
    services.report_generate(report_id=lost.pk)
    assert AuditEvent.objects.filter(action="report.generate").count() == 2


def test_a_closing_whose_message_was_lost_gets_its_review_and_then_its_archive(inc):
    w, incident = inc
    incident = incidents.incident_set_status(actor=commander(w), incident=incident, status=IncidentStatus.RESPONDING)
    # closed without running the on-commit publish: as if the broker had been down
    incident = incidents.incident_set_status(actor=commander(w), incident=incident, status=IncidentStatus.CLOSED)
    archive = Archive.objects.get(incident=incident)
    review = Report.objects.get(incident=incident, kind=ReportKind.REVIEW)
    assert (archive.status, review.status) == (JobStatus.QUEUED, JobStatus.QUEUED)

    assert services.reports_resume() == 0  # not stale yet: the message may still be in the queue
    Archive.objects.filter(pk=archive.pk).update(requested_at=timezone.now() - timedelta(minutes=11))
    Report.objects.filter(pk=review.pk).update(requested_at=timezone.now() - timedelta(minutes=11))
    assert services.reports_resume() == 1  # one task: the review, then the archive holding it

    archive.refresh_from_db()
    review.refresh_from_db()
    assert (archive.status, review.status) == (JobStatus.DONE, JobStatus.DONE)
    assert f"reports/review-{review.number}.pdf" in {entry["path"] for entry in archive.manifest["files"]}
