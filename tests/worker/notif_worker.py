"""Helpers for `test_notification_delivery_kill`: a prefork worker (with an embedded beat) that can
be SIGKILLed as a whole process group and started again, and a broker that is down for a moment.

`conftest.real_worker` runs one solo worker for a test; this one needs several generations of a
prefork worker on one queue, so it manages its processes itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app

READY_TIMEOUT = 60
STOP_TIMEOUT = 30


def worker_database_url() -> str:
    """The URL of the (pytest-django `test_…`) database this test runs against."""
    sd = connection.settings_dict
    if connection.vendor != "postgresql" or not sd["NAME"].startswith("test_"):
        pytest.fail(f"the kill test needs the PostgreSQL test database, not {sd['NAME']!r}", pytrace=False)
    auth = quote(sd["USER"] or "", safe="")
    if sd["PASSWORD"]:
        auth += ":" + quote(sd["PASSWORD"], safe="")
    port = f":{sd['PORT']}" if sd["PORT"] else ""
    return f"postgres://{auth}@{sd['HOST'] or ''}{port}/{quote(sd['NAME'], safe='')}"


@dataclass
class NotifWorker:
    """Generations of `celery worker --pool=prefork --concurrency=2 -B` on one queue."""

    queue: str
    broker_url: str
    workdir: Path
    send_log: Path
    send_delay: float = 0.01
    process: subprocess.Popen | None = None
    generation: int = 0
    logs: list[Path] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return os.environ | {
            "DJANGO_SETTINGS_MODULE": "tests.worker.notif_worker_settings",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "LEDGER_CHECKPOINT_DIR": str(self.workdir / "checkpoints"),
            "NOTIF_QUEUE": self.queue,
            "NOTIF_SEND_LOG": str(self.send_log),
            "NOTIF_SEND_DELAY": str(self.send_delay),
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def log_path(self) -> Path:
        return self.logs[-1]

    def log(self, which: int = -1) -> str:
        path = self.logs[which] if self.logs else None
        return path.read_text(encoding="utf-8", errors="replace") if path and path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(f"===== generation {i + 1} =====\n{self.log(i)}" for i in range(len(self.logs)))

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "the previous generation still runs"
        self.generation += 1
        log_path = self.workdir / f"worker-{self.generation}.log"
        self.logs.append(log_path)
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool=prefork", "--concurrency=2", "--loglevel=INFO",
            "-B", "-s", str(self.workdir / f"beat-schedule-{self.generation}"),
            "-Q", self.queue, "-n", f"{self.queue}-{self.generation}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                cmd, cwd=settings.BASE_DIR, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while " ready." not in self.log():
            if self.process.poll() is not None:
                pytest.fail(f"worker generation {self.generation} exited with {self.process.returncode}", pytrace=False)
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"worker generation {self.generation} not ready in {READY_TIMEOUT} s", pytrace=False)
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process, its pool children and the beat."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)  # SIGKILL cannot be caught: every member is dead, its sockets closed

    def stop(self) -> None:
        """Warm shutdown; SIGKILL the group only if that hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"worker ignored SIGTERM for {STOP_TIMEOUT} s and was killed", pytrace=False)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cleanup_broker(self) -> None:
        """Delete the queue and its exchange; on Redis also the unacknowledged messages killed
        workers left behind (they would otherwise come back into the deleted queue later)."""
        with app.connection_for_write(self.broker_url) as conn:
            channel = conn.default_channel
            queue = app.amqp.queues[self.queue](channel) if self.queue in app.amqp.queues else None
            if queue is None:
                from kombu import Exchange, Queue

                queue = Queue(self.queue, Exchange(self.queue), routing_key=self.queue)(channel)
            queue.declare()
            queue.delete()
            channel.exchange_delete(self.queue)
            client = getattr(channel, "client", None)
            if client is not None:  # Redis
                for tag, raw in client.hgetall(channel.unacked_key).items():
                    with contextlib.suppress(ValueError, TypeError, IndexError):
                        _message, _exchange, routing_key = json.loads(raw)
                        if routing_key == self.queue:
                            client.hdel(channel.unacked_key, tag)
                            client.zrem(channel.unacked_index_key, tag)
