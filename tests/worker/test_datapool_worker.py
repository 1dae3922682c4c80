"""Data-pool loads run by a real Celery worker process from a real broker.

The rest of the suite runs ingestion in-process; this proves what that hides: the upload committed
by the web process is queued after commit, found by name, run by a worker with its own Django and
database connection, and read from shared file storage. And that a worker killed in the middle of
a load (SIGKILL, mid-COPY) loses nothing and doubles nothing: the broker hands the message out
again, the next worker starts the job over, and the dataset ends with exactly the file's rows.

The workers use the real-worker settings plus file storage on disk in a directory of the test's
own (the test settings keep files in memory, which a second process cannot see) and a short Redis
visibility timeout (so a killed worker's message comes back in seconds, not an hour).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import Count

from apps.datapool import services
from apps.datapool.demo import RESIDENT_FIELDS
from apps.datapool.models import IngestionJob, Record, RejectedRow
from apps.ledger.models import AuditEvent
from config.celery import app
from tests.datapool.world import pool_world
from tests.worker.notif_worker import READY_TIMEOUT, NotifWorker

pytestmark = pytest.mark.worker

SETTINGS_MODULE = "datapool_worker_settings"
SETTINGS_SOURCE = '''"""Written by tests/worker/test_datapool_worker.py for its worker processes."""
from tests.worker.worker_settings import *  # noqa: F403
from tests.worker.worker_settings import env

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env("DATAPOOL_TEST_MEDIA")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 10,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
'''
HEADER = ",".join(f["label"] for f in RESIDENT_FIELDS)


def resident_csv(n: int, *, bad: int = 0) -> bytes:
    """`n` valid residents with distinct ID numbers (and `bad` rows with an impossible age)."""
    lines = [HEADER]
    lines += [
        f"3201061990{i:07d}1,居民{i},139{i:08d},南京市鼓楼区中山北路{i % 400}号,320106,{i % 90},男,常住,"
        "2026-11-01 08:00:00"
        for i in range(n)
    ]
    lines += [f"3201061991{i:07d}1,坏行{i},,,320106,200,男,常住," for i in range(bad)]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class DatapoolWorker(NotifWorker):
    """Generations of a solo worker on the test's queue, with the settings written above."""

    settings_dir: Path | None = None
    media_dir: Path | None = None

    def env(self) -> dict[str, str]:
        base = super().env()
        return base | {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "PYTHONPATH": os.pathsep.join(p for p in (str(self.settings_dir), os.environ.get("PYTHONPATH", "")) if p),
            "DATAPOOL_TEST_MEDIA": str(self.media_dir),
            "CELERY_TEST_QUEUE": self.queue,
        }

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "the previous generation still runs"
        self.generation += 1
        log_path = self.workdir / f"worker-{self.generation}.log"
        self.logs.append(log_path)
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool=solo", "--concurrency=1", "--loglevel=INFO",
            "-Q", self.queue, "-n", f"{self.queue}-{self.generation}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                cmd,
                cwd=django_settings.BASE_DIR,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for(lambda: " ready." in self.log(), timeout=READY_TIMEOUT, what="worker 'ready.' line")

    def wait_for(self, probe, *, timeout: float, what: str):
        """Poll `probe` until it returns something truthy; fail early if the worker died."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode} while waiting for {what}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout} s", pytrace=False)
            time.sleep(0.1)


@pytest.fixture
def dp_worker(request, transactional_db, broker_url, tmp_path, settings):
    """A worker (not started yet) on a fresh queue, sharing file storage with this process, which
    publishes to it: services' `delay()` after commit goes through the real broker to this queue."""
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    (settings_dir / f"{SETTINGS_MODULE}.py").write_text(SETTINGS_SOURCE, encoding="utf-8")
    media = tmp_path / "media"
    media.mkdir()
    settings.STORAGES = django_settings.STORAGES | {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}}
    }
    queue = f"test-datapool-{uuid.uuid4().hex[:12]}"
    worker = DatapoolWorker(
        queue=queue,
        broker_url=broker_url,
        workdir=tmp_path,
        send_log=tmp_path / "unused-send-log",
        settings_dir=settings_dir,
        media_dir=media,
    )
    request.node._real_worker = worker  # the conftest report hook attaches the last log on failure
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")}
    pools = (app._pool, app.amqp._producer_pool)
    env_url = os.environ.pop("CELERY_BROKER_URL", None)  # Celery would prefer it to broker_url
    app.conf.update(task_always_eager=False, broker_url=broker_url, task_default_queue=queue)
    app._pool = app.amqp._producer_pool = None
    try:
        yield worker
    finally:
        if env_url is not None:
            os.environ["CELERY_BROKER_URL"] = env_url
        app.conf.update(saved)
        app._pool, app.amqp._producer_pool = pools
        try:
            if worker.alive():
                worker.stop()
        finally:
            worker.cleanup_broker()


def submit(world, data: bytes, name: str) -> IngestionJob:
    """Upload through the service in a committed transaction: the task is published on commit."""
    with transaction.atomic():
        job = services.ingestion_submit_file(
            actor=world.steward, dataset=world.dataset, upload=services.spool_upload(data, name)
        )
    assert job.status == "queued"
    return job


def state(job: IngestionJob) -> tuple:
    return IngestionJob.objects.filter(pk=job.pk).values_list("status", "rows_read", "attempts").get()


def copied() -> int:
    """Rows the COPY into the record table has taken so far (PostgreSQL's own progress view: the
    job's counters are not written while its load holds the job row)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(max(tuples_processed), 0) FROM pg_stat_progress_copy"
            " WHERE datname = current_database() AND relid = %s::regclass",
            [Record._meta.db_table],
        )
        return cursor.fetchone()[0]


def finished(job: IngestionJob):
    job = IngestionJob.objects.get(pk=job.pk)
    return job if job.is_finished else None


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_an_upload_from_the_queue(dp_worker):
    # Given: a dataset, and a worker listening on the broker
    w = pool_world()
    dp_worker.start()

    # When: a steward uploads a file (committed; the service queues the load after commit)
    job = submit(w, resident_csv(2000, bad=3), "residents.csv")

    # Then: the worker loads it; the rows, the rejects and the counters are all there
    done = dp_worker.wait_for(lambda: finished(job), timeout=60, what=f"end of ingestion job {job.pk}")
    assert done.status == "succeeded", done.error_message()
    assert (done.rows_read, done.rows_accepted, done.rows_rejected, done.attempts) == (2003, 2000, 3, 1)
    assert Record.objects.filter(job=done).count() == 2000
    assert RejectedRow.objects.filter(job=done, field="age").count() == 3
    w.dataset.refresh_from_db()
    assert w.dataset.record_count == 2000 and w.dataset.quality_score is not None
    # … in the worker process (nothing runs eagerly here), which then queued the linking task
    dp_worker.wait_for(
        lambda: "links_build_task" in dp_worker.log() and dp_worker.log().count(" succeeded in ") >= 2,
        timeout=30,
        what="'succeeded' log lines of the load and of the linking task",
    )
    assert "ingestion_run_task[" in dp_worker.log()


@pytest.mark.django_db(transaction=True)
def test_a_load_whose_worker_is_killed_mid_copy_is_run_again_from_scratch(dp_worker):
    # Given: a large upload, and a worker that starts loading it
    n = 200_000
    w = pool_world()
    dp_worker.start()
    job = submit(w, resident_csv(n), "residents-large.csv")
    dp_worker.wait_for(lambda: copied() >= 20_000, timeout=60, what="the worker's COPY to be under way")
    assert state(job)[:1] == ("running",)

    # When: the worker is SIGKILLed in the middle of the load
    dp_worker.kill()
    status, _rows_read, attempts = state(job)
    assert (status, attempts) == ("running", 1), "the load finished before the kill: make the file larger"
    assert not Record.objects.filter(dataset=w.dataset).exists()  # nothing half-loaded is visible

    # … and a new worker comes up: the broker hands the unacknowledged message out again
    dp_worker.start()
    done = dp_worker.wait_for(lambda: finished(job), timeout=120, what=f"end of ingestion job {job.pk}")

    # Then: the job was started over and the dataset has exactly the file's rows, once each
    assert done.status == "succeeded", done.error_message()
    assert (done.rows_read, done.rows_accepted, done.rows_rejected, done.attempts) == (n, n, 0, 2)
    records = Record.objects.filter(dataset=w.dataset)
    totals = records.aggregate(
        n=Count("id"), keys=Count("record_key", distinct=True), lines=Count("line", distinct=True)
    )
    assert totals == {"n": n, "keys": n, "lines": n}
    assert set(records.values_list("job_id", flat=True).distinct()) == {job.pk}
    actions = list(
        AuditEvent.objects.filter(target_type="datapool.ingestionjob", target_id=str(job.pk)).values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["ingestion.load", "ingestion.submit"]
    w.dataset.refresh_from_db()
    assert w.dataset.record_count == n
    dp_worker.stop()
