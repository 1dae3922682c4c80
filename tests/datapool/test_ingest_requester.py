"""A load acts for whoever submitted it (decision 0001, "Celery tasks"): the submitter is asked
again when the job starts, and one who lost the dataset meanwhile gets a cleanly failed job (status,
reason, one ledger event) with nothing loaded."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Max

from apps.datapool import services
from apps.datapool.choices import Channel, JobStatus
from apps.datapool.demo import RESIDENT_FIELDS
from apps.datapool.models import Record, RejectedRow
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from apps.organizations.models import Membership
from tests.datapool.world import csv_bytes, pool_world, resident_rows
from tests.factories import admin_user

pytestmark = pytest.mark.django_db


def _last_seq() -> int:
    return AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0


def _submit(w, channel):
    """A queued job of `channel`, submitted by the owner's steward (upload) or staff (API batch)."""
    rows = resident_rows(5)
    with transaction.atomic():
        if channel == Channel.UPLOAD:
            upload = services.spool_upload(csv_bytes(rows, "utf-8"), "data.csv")
            return services.ingestion_submit_file(actor=w.steward, dataset=w.dataset, upload=upload), w.steward
        names = [f["name"] for f in RESIDENT_FIELDS]  # an API batch speaks field names, not labels
        records = [dict(zip(names, row, strict=True)) for row in rows[1:]]
        job = services.ingestion_submit_records(actor=w.staff, dataset=w.dataset, records=records, idempotency_key="b1")
        return job, w.staff


@pytest.mark.parametrize("channel", [Channel.UPLOAD, Channel.API])
def test_a_load_whose_submitter_lost_the_dataset_fails_cleanly(channel):
    w = pool_world()
    job, submitter = _submit(w, channel)
    for seat in Membership.objects.filter(user=submitter, department=w.owner):
        org_services.membership_remove(actor=admin_user(), membership=seat)  # after submitting, before the run
    seq = _last_seq()

    job = services.ingestion_run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.error_code, job.rows_accepted) == (JobStatus.FAILED, "access_lost", 0)
    assert job.error_message()  # a sentence for the submitter, never a bare code
    assert not Record.objects.filter(dataset=w.dataset).exists()
    assert not RejectedRow.objects.filter(job=job).exists()
    events = list(AuditEvent.objects.filter(seq__gt=seq).values_list("action", "target_id"))
    assert events == [("ingestion.fail", str(job.pk))]
    # a redelivered message finds the job finished and leaves it alone
    assert services.ingestion_run(job.pk).status == JobStatus.FAILED
    assert AuditEvent.objects.filter(seq__gt=seq, action="ingestion.fail").count() == 1


@pytest.mark.parametrize("channel", [Channel.UPLOAD, Channel.API])
def test_a_submitter_who_keeps_the_dataset_gets_the_load(channel):
    w = pool_world()
    job, _submitter = _submit(w, channel)

    job = services.ingestion_run(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message()
    assert Record.objects.filter(dataset=w.dataset).count() == 5
