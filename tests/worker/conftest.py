"""A real Celery worker process, consuming from a real broker, against the test database.

`real_worker` starts `python -m celery -A config worker` with `tests.worker.worker_settings` on a
queue of its own, points it at the database this test uses (pytest-django's `test_*` copy), and
flips the test process's Celery app to non-eager for the test. Tests that use it must be
transactional: the worker only sees committed rows.

Every test using `real_worker` runs once per broker. An unreachable broker is a failure, not a
skip: CI promises Redis and RabbitMQ.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app

T = TypeVar("T")

REDIS_DEFAULT = "redis://127.0.0.1:6379/15"
AMQP_DEFAULT = "amqp://guest:guest@127.0.0.1:5672//"
READY_TIMEOUT = 60  # seconds for the worker to import Django and connect
# Seconds for a warm shutdown after SIGTERM. The worker's event loop only notices the signal when
# its poll returns, which on an idle AMQP connection takes up to kombu's 10 s maximum poll delay.
STOP_TIMEOUT = 30


def _redis_url() -> str:
    # CI exports CELERY_BROKER_URL (a Redis URL); use it when it is one.
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith(("redis://", "rediss://")) else REDIS_DEFAULT


def _amqp_url() -> str:
    return os.environ.get("CELERY_TEST_AMQP_URL", AMQP_DEFAULT)


@pytest.fixture(params=[pytest.param(_redis_url, id="redis"), pytest.param(_amqp_url, id="rabbitmq")])
def broker_url(request) -> str:
    """A reachable broker URL; fails the test (never skips) when the broker is down."""
    url = request.param()
    with app.connection_for_write(url) as conn:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=5)
        except Exception as exc:  # any transport error means "broker down"
            pytest.fail(f"broker {conn.as_uri()} is unreachable: {exc!r}", pytrace=False)
    return url


def _test_database_url() -> str:
    """The URL of the database this test runs against (pytest-django's `test_<name>`)."""
    sd = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.fail(f"real worker tests need PostgreSQL, not {connection.vendor}", pytrace=False)
    if not sd["NAME"].startswith("test_"):
        pytest.fail(f"refusing to point a worker at non-test database {sd['NAME']!r}", pytrace=False)
    auth = quote(sd["USER"] or "", safe="")
    if sd["PASSWORD"]:
        auth += ":" + quote(sd["PASSWORD"], safe="")
    host = sd["HOST"] or ""
    port = f":{sd['PORT']}" if sd["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(sd['NAME'], safe='')}"


@dataclass
class RealWorker:
    queue: str
    broker_url: str
    checkpoint_dir: Path
    log_path: Path
    process: subprocess.Popen

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_dir / "checkpoints.jsonl"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def wait_for(self, probe: Callable[[], T], *, timeout: float, what: str) -> T:
        """Poll `probe` until it returns something truthy; fail early if the worker died."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode} while waiting for {what}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout} s", pytrace=False)
            time.sleep(0.1)

    def send(self, task, *args, **kwargs):
        """Publish `task` to this worker's queue through the real broker (never eagerly)."""
        assert app.conf.task_always_eager is False
        # An explicit connection: the app's producer pool would keep the first broker it saw.
        with app.connection_for_write(self.broker_url) as conn:
            return task.apply_async(args, kwargs, queue=self.queue, connection=conn)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM); SIGKILL the process group only if that hangs."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own session, started below
            self.process.wait(timeout=10)
            pytest.fail(f"worker ignored SIGTERM for {STOP_TIMEOUT} s and was killed", pytrace=False)

    def delete_queue(self) -> None:
        """Remove the queue, its bindings and its exchange from the broker."""
        with app.connection_for_write(self.broker_url) as conn:
            channel = conn.default_channel
            # Declare first: kombu's Redis transport deletes only the bindings the channel itself
            # declared, and would otherwise leave `_kombu.binding*.<queue>` keys behind.
            queue = app.amqp.queues[self.queue](channel)
            queue.declare()
            queue.delete()
            channel.exchange_delete(self.queue)


@pytest.fixture
def real_worker(request, transactional_db, broker_url, tmp_path):
    """A running worker on a fresh queue; stopped (and its queue deleted) after the test."""
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    checkpoint_dir = tmp_path / "worker-checkpoints"
    log_path = tmp_path / "worker.log"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.worker.worker_settings",
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "LEDGER_CHECKPOINT_DIR": str(checkpoint_dir),
        "CELERY_TEST_QUEUE": queue,
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool=solo", "--concurrency=1", "--loglevel=INFO",
        "-Q", queue, "-n", f"{queue}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = broker_url
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cmd, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = RealWorker(queue, broker_url, checkpoint_dir, log_path, process)
    request.node._real_worker = worker  # the report hook below attaches its log on failure
    try:
        worker.wait_for(lambda: " ready." in worker.log(), timeout=READY_TIMEOUT, what="worker 'ready.' line")
        yield worker
    finally:
        app.conf.update(saved)
        try:
            worker.stop()
        finally:
            worker.delete_queue()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    worker = getattr(item, "_real_worker", None)
    if worker is not None and report.failed:
        report.sections.append((f"celery worker log ({worker.log_path})", worker.log()))
    return report
