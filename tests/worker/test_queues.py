"""Two real workers on two queues of the production routing table, through a real broker.

A `dispatch` worker and an `ingest` worker (each `celery worker -Q <queue>`, as on separate hosts)
share the test database and file storage. Tasks are published with the production routes (under a
per-test prefix, `queue_routing.py`) by this process and by the workers themselves. It shows:

- an upload's load runs on the ingest worker only, and so does the linking task that worker queues;
- the notification that load commits is relayed and delivered by the dispatch worker only;
- a ledger checkpoint runs on the dispatch worker only (the signed line lands in its directory);
- a report job waits in the `reports` queue, which neither worker consumes.

Which worker ran a task is read from each worker's own log ("Task <name>[<id>] received"), and,
for the checkpoint, from where its file was written. Runs once per broker (Redis, RabbitMQ).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from apps.ledger.checkpoints import read_checkpoints
from apps.ledger.tasks import ledger_checkpoint_task
from apps.notifications.models import Notification, OutboxMessage
from apps.reporting.tasks import report_generate_task
from config.celery import app
from tests.datapool.world import pool_world
from tests.worker.notif_worker import READY_TIMEOUT, STOP_TIMEOUT, worker_database_url
from tests.worker.queue_routing import prefixed_routing
from tests.worker.test_datapool_worker import finished, resident_csv, submit

pytestmark = pytest.mark.worker


@dataclass
class QueueWorker:
    """`celery worker --pool=solo -Q <prefix><queue>` with the production routes under the prefix."""

    queue: str  # dispatch | ingest
    prefix: str
    broker_url: str
    workdir: Path
    media: Path
    process: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.queue}-worker.log"

    @property
    def checkpoint_dir(self) -> Path:
        return self.workdir / f"{self.queue}-checkpoints"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def received(self, task_name: str) -> list[str]:
        """The ids of the `task_name` messages this worker took from its queue."""
        marker = f"Task {task_name}["
        lines = [line for line in self.log().splitlines() if marker in line and line.endswith("] received")]
        return [line.split(marker, 1)[1].split("]", 1)[0] for line in lines]

    def start(self) -> None:
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "tests.worker.queues_worker_settings",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "LEDGER_CHECKPOINT_DIR": str(self.checkpoint_dir),
            "QUEUE_TEST_PREFIX": self.prefix,
            "QUEUE_TEST_MEDIA": str(self.media),
            "PYTHONUNBUFFERED": "1",
        }
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool=solo", "--concurrency=1", "--loglevel=INFO",
            "-Q", self.prefix + self.queue, "-n", f"{self.queue}-{self.prefix.rstrip('-')}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                cmd,
                cwd=django_settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        self.wait_for(lambda: " ready." in self.log(), timeout=READY_TIMEOUT, what=f"{self.queue} worker 'ready.'")

    def wait_for(self, probe, *, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if self.process is not None and self.process.poll() is not None:
                code = self.process.returncode
                pytest.fail(f"{self.queue} worker exited with {code} while waiting for {what}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout} s", pytrace=False)
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session, started above
            self.process.wait(timeout=10)
            pytest.fail(f"{self.queue} worker ignored SIGTERM for {STOP_TIMEOUT} s and was killed", pytrace=False)


@dataclass
class BothLogs:
    """What the conftest's failure hook reads (`log_path`, `log()`), for both workers at once."""

    workers: dict

    @property
    def log_path(self) -> str:
        return ", ".join(str(w.log_path) for w in self.workers.values())

    def log(self) -> str:
        return "\n".join(f"===== {q} worker =====\n{w.log()}" for q, w in self.workers.items())


def queue_size(broker_url: str, name: str) -> int:
    with app.connection_for_write(broker_url) as conn:
        return conn.default_channel.queue_declare(queue=name, passive=True).message_count


def delete_queues(broker_url: str, routing: dict) -> None:
    """Remove the test's queues, bindings and exchanges; on Redis also any unacknowledged message."""
    names = {q.name for q in routing["task_queues"]}
    with app.connection_for_write(broker_url) as conn:
        channel = conn.default_channel
        for queue in routing["task_queues"]:
            bound = queue(channel)
            bound.declare()  # Redis deletes only the bindings this channel declared
            bound.delete()
            channel.exchange_delete(queue.name)
        client = getattr(channel, "client", None)
        if client is not None:  # Redis
            for tag, raw in client.hgetall(channel.unacked_key).items():
                with contextlib.suppress(ValueError, TypeError, IndexError):
                    if json.loads(raw)[2] in names:
                        client.hdel(channel.unacked_key, tag)
                        client.zrem(channel.unacked_index_key, tag)


@pytest.fixture
def two_workers(request, transactional_db, broker_url, tmp_path, settings):
    """A dispatch worker and an ingest worker (started), and this process publishing through the
    same broker with the same (prefixed) production routes and the same file storage."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    routing = prefixed_routing(prefix)
    media = tmp_path / "media"
    media.mkdir()
    settings.STORAGES = django_settings.STORAGES | {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}}
    }
    workers = {q: QueueWorker(q, prefix, broker_url, tmp_path, media) for q in ("dispatch", "ingest")}
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue", "task_routes")}
    pools = (app._pool, app.amqp._producer_pool)
    env_url = os.environ.pop("CELERY_BROKER_URL", None)  # Celery would prefer it to broker_url
    app.conf.update(
        task_always_eager=False,
        broker_url=broker_url,
        task_default_queue=routing["task_default_queue"],
        task_routes=routing["task_routes"],  # flushes the app's router
    )
    app._pool = app.amqp._producer_pool = None
    request.node._real_worker = BothLogs(workers)  # the conftest report hook attaches the logs on failure
    try:
        for worker in workers.values():
            worker.start()
        for worker in workers.values():
            worker.wait_ready()
        yield workers, routing, prefix
    finally:
        if env_url is not None:
            os.environ["CELERY_BROKER_URL"] = env_url
        app.conf.update(saved)
        app._pool, app.amqp._producer_pool = pools
        try:
            for worker in workers.values():
                worker.stop()
        finally:
            delete_queues(broker_url, routing)


@pytest.mark.django_db(transaction=True)
def test_each_worker_runs_only_the_tasks_routed_to_its_queue(two_workers, broker_url):
    workers, _routing, prefix = two_workers
    dispatch, ingest = workers["dispatch"], workers["ingest"]
    w = pool_world()

    # When: a steward uploads a file (the service publishes the load after its commit)
    job = submit(w, resident_csv(300, bad=2), "residents.csv")

    # Then: the ingest worker loads it, and the linking task it queues comes back to it
    done = ingest.wait_for(lambda: finished(job), timeout=90, what=f"end of ingestion job {job.pk}")
    assert done.status == "succeeded", done.error_message()
    assert (done.rows_accepted, done.rows_rejected) == (300, 2)
    ingest.wait_for(lambda: ingest.received("apps.datapool.tasks.links_build_task"), timeout=30, what="linking task")
    assert len(ingest.received("apps.datapool.tasks.ingestion_run_task")) == 1
    assert not dispatch.received("apps.datapool.tasks.ingestion_run_task")
    assert not dispatch.received("apps.datapool.tasks.links_build_task")

    # … and the notification that load committed is relayed and delivered by the dispatch worker
    key = f"ingestion.succeeded:{job.pk}:{w.owner.pk}"
    notification = ingest.wait_for(
        lambda: Notification.objects.filter(key=key).first(), timeout=30, what="the load's notification"
    )
    dispatch.wait_for(
        lambda: OutboxMessage.objects.filter(
            payload__notification_id=notification.pk, completed_at__isnull=False
        ).exists(),
        timeout=30,
        what="the delivery job of the load's notification to complete",
    )
    assert dispatch.received("apps.notifications.tasks.deliver_notification_task")
    assert dispatch.received("apps.notifications.tasks.outbox_relay_task")
    assert not ingest.received("apps.notifications.tasks.outbox_relay_task")
    assert not ingest.received("apps.notifications.tasks.deliver_notification_task")

    # When: a ledger checkpoint is queued (a dispatch task)
    with app.connection_for_write(broker_url) as conn:
        result = ledger_checkpoint_task.apply_async(connection=conn)

    # Then: the dispatch worker signs it into its own checkpoint directory; the ingest worker never saw it
    checkpoints = dispatch.wait_for(
        lambda: read_checkpoints(dispatch.checkpoint_dir / "checkpoints.jsonl"), timeout=30, what="a checkpoint"
    )
    assert len(checkpoints) == 1
    assert dispatch.received("apps.ledger.tasks.ledger_checkpoint_task") == [result.id]
    assert not ingest.received("apps.ledger.tasks.ledger_checkpoint_task")
    assert not (ingest.checkpoint_dir / "checkpoints.jsonl").exists()

    # When: a report job is queued (a reports task): neither worker consumes that queue
    with app.connection_for_write(broker_url) as conn:
        report_generate_task.apply_async((0,), connection=conn)

    # Then: it waits in the reports queue
    ingest.wait_for(lambda: queue_size(broker_url, prefix + "reports") == 1, timeout=10, what="the queued report job")
    assert not dispatch.received("apps.reporting.tasks.report_generate_task")
    assert not ingest.received("apps.reporting.tasks.report_generate_task")
