"""Loads whose Celery message was lost, or that crashed on a bug, never stay "running"."""

import pytest
from django.db import transaction
from django.utils import timezone

from apps.datapool import services
from apps.datapool.models import IngestionJob, Record
from tests.datapool.world import csv_bytes, pool_world, resident_rows

pytestmark = pytest.mark.django_db


def _submit(w, rows=5):
    with transaction.atomic():
        return services.ingestion_submit_file(
            actor=w.steward, dataset=w.dataset, upload=services.spool_upload(csv_bytes(resident_rows(rows)), "a.csv")
        )


def test_a_load_that_crashes_on_a_bug_is_failed_with_nothing_loaded(monkeypatch):
    w = pool_world()
    job = _submit(w)

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(services, "quality_measure", broken)
    job = services.ingestion_run(job.pk)
    assert job.status == "failed"
    assert job.error_code == "crashed"
    assert Record.objects.filter(job=job).count() == 0


def test_stale_queued_and_running_jobs_are_run_again_and_fresh_ones_are_left():
    w = pool_world()
    stale = _submit(w, rows=3)
    fresh = _submit(w, rows=4)
    IngestionJob.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=30))
    assert services.jobs_resume() == 1  # eager Celery in tests: the stale job runs at once
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == "succeeded" and stale.rows_accepted == 3
    assert fresh.status == "queued"


def test_a_job_still_running_past_the_time_limit_starts_over():
    w = pool_world()
    job = _submit(w, rows=2)
    IngestionJob.objects.filter(pk=job.pk).update(
        status="running", attempts=1, started_at=timezone.now() - timezone.timedelta(hours=3)
    )
    assert services.jobs_resume() == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 2
    assert Record.objects.filter(job=job).count() == 2
