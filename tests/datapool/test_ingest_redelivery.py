"""A load's message delivered again after its worker died between the load's commit and the steps
that follow it (linking, the department's notification): the redelivery does those steps, once.
And a load whose linking message was lost altogether is linked by the resume job.

In these tests the on-commit callbacks of a load never run (the test's transaction never commits),
which is exactly what a worker SIGKILLed right after the commit leaves behind: the records are
there, the job says succeeded, and nothing after it happened. The message, not yet acknowledged,
comes back; `ingestion_run` must not just say "finished" and drop it.
"""

import pytest
from django.utils import timezone

from apps.datapool import services
from apps.datapool.choices import JobStatus
from apps.datapool.models import IngestionJob, Record, RecordLink
from apps.datapool.processing import links_build
from apps.notifications.models import Notification
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows

pytestmark = pytest.mark.django_db


def notifications(kind: str, job) -> int:
    return Notification.objects.filter(kind=kind, target_id=str(job.pk)).count()


def test_a_redelivered_finished_load_links_and_notifies_once(django_capture_on_commit_callbacks):
    # Given: the same people loaded into two departments' datasets, each load killed after its commit
    w = pool_world()
    other = services.dataset_create(actor=w.outsider, owner=w.other, standard=w.standard, title="卫健人口")
    data = csv_bytes(resident_rows(20))
    first = load_bytes(w.steward, w.dataset, data)
    second = load_bytes(w.outsider, other, data)
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert not RecordLink.objects.exists()
    assert notifications("ingestion.succeeded", second) == 0

    # When: the second load's message is delivered again
    with django_capture_on_commit_callbacks(execute=True):
        again = services.ingestion_run(second.pk)

    # Then: the job is not run again, but its records are linked and its department notified
    assert (again.status, again.attempts) == ("succeeded", 1)
    assert Record.objects.filter(job=second).count() == 20
    links = RecordLink.objects.count()
    assert links >= 20  # at least one key kind links each person to the other dataset
    assert notifications("ingestion.succeeded", second) == 1

    # … and a further duplicate delivery adds nothing
    with django_capture_on_commit_callbacks(execute=True):
        services.ingestion_run(second.pk)
    assert RecordLink.objects.count() == links
    assert notifications("ingestion.succeeded", second) == 1
    assert Record.objects.filter(job=second).count() == 20


def test_a_redelivered_failed_load_notifies_its_department_once(django_capture_on_commit_callbacks):
    # Given: a load marked failed by a worker that died before telling the department
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3)))
    Notification.objects.filter(target_id=str(job.pk)).delete()
    IngestionJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error_code="crashed")

    # When: its message comes back, twice
    with django_capture_on_commit_callbacks(execute=True):
        services.ingestion_run(job.pk)
        services.ingestion_run(job.pk)

    # Then: the department hears of the failure once
    assert notifications("ingestion.failed", job) == 1


def test_a_redelivered_duplicate_upload_stays_silent(django_capture_on_commit_callbacks):
    # Given: a job that finished as a duplicate of an earlier load (two uploads of one file raced;
    # the loser adds no rows and tells nobody)
    w = pool_world()
    earlier = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(5)))
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(6)))
    Record.objects.filter(job=job).delete()
    IngestionJob.objects.filter(pk=job.pk).update(options={"duplicate_of": earlier.pk}, rows_read=0)

    # When: its message comes back
    with django_capture_on_commit_callbacks(execute=True):
        services.ingestion_run(job.pk)

    # Then: nobody is told about a load that added nothing
    assert notifications("ingestion.succeeded", job) == 0


def test_a_load_whose_linking_message_was_lost_is_linked_by_the_resume_job():
    # Given: the same people loaded into two departments' datasets; the first load was linked, the
    # second's linking message was lost (a Redis broker loses what a killed worker had popped), and
    # a third load finished just now, its linking still on its way
    w = pool_world()
    other = services.dataset_create(actor=w.outsider, owner=w.other, standard=w.standard, title="卫健人口")
    data = csv_bytes(resident_rows(20))
    first = load_bytes(w.steward, w.dataset, data)
    links_build(job_id=first.pk)
    lost = load_bytes(w.outsider, other, data)
    recent = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3)), name="recent.csv")
    IngestionJob.objects.filter(pk=lost.pk).update(finished_at=timezone.now() - timezone.timedelta(minutes=11))
    assert not RecordLink.objects.exists()

    # When: the resume job runs (tasks run in-process here)
    assert services.jobs_resume() == 1

    # Then: the lost linking was done, once; the recent load is left to its own linking task
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert lost.linked_at is not None and recent.linked_at is None
    links = RecordLink.objects.count()
    assert links >= 20
    assert services.jobs_resume() == 0
    assert RecordLink.objects.count() == links
