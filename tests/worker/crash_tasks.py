"""Test-only tasks for the worker processes of the crash and poison tests (CELERY_IMPORTS in
crash_worker_settings). Never imported by the platform."""

from __future__ import annotations

import os
import signal

from celery import shared_task
from django.conf import settings

POISON = "tests.worker.crash_tasks.poison_task"


@shared_task(name=POISON)
def poison_task(marker: str) -> None:
    """Kill the process running it, every time (a segfault, the OOM killer): note the run first."""
    with open(settings.CRASH_POISON_LOG, "a", encoding="utf-8") as log:  # one write(2) per line
        log.write(f"{marker}\t{os.getpid()}\n")
    os.kill(os.getpid(), signal.SIGKILL)
