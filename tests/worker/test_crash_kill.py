"""Workers SIGKILLed at random moments, whole or one pool process at a time, lose and double nothing.

A bounded run of the crash harness per broker (Redis, RabbitMQ): two prefork workers consuming
production's three queues (on queues of the test's own) and a beat running the outbox relay;
100 notifications (200 e-mails) and 20 uploads (100–400 rows each, into three datasets whose people
overlap, so loads link) committed through the services in waves; after each wave but the last a
worker is SIGKILLed, its whole process group or a single pool process (three of each, in random
order, at random moments), and a killed worker is started again. Then, with the fleet stopped:
every e-mail recorded exactly once, every load all there (exactly its rows, each line once) or not
at all, every load linked and its department told, and nothing left open in the outbox, in the
redelivery counts or in the broker. The full version is scripts/crash_test.py.

`CRASH_SEED=<n>` repeats a run's random choices (the seed is printed).
"""

from __future__ import annotations

import os
import random

import pytest

from tests.worker.crash_harness import CrashRun

pytestmark = pytest.mark.worker


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # pragma: no cover - only on failure
    report = yield
    run = getattr(item, "_crash_run", None)
    fleet = getattr(run, "fleet", None)
    if fleet is not None and report.failed:
        report.sections.append(("celery worker logs", fleet.all_logs()[-30000:]))
    return report


@pytest.mark.django_db(transaction=True)
def test_random_sigkills_of_workers_and_pool_processes_lose_and_double_nothing(broker_url, tmp_path, request):
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))  # noqa: S311 - timing, not secrets
    run = CrashRun(broker_url=broker_url, workdir=tmp_path, notifications=100, loads=20, kills=6, seed=seed, say=print)
    request.node._crash_run = run
    print(f"CRASH_SEED={seed}")

    summary = run.run()

    print("\n".join(summary.lines()))
    # Both kinds of death happened, each while work was in flight, and workers did the work
    assert summary.kinds() == {"group": 3, "child": 3}
    assert all(kill.pending > 0 for kill in summary.kills), summary.kills
    assert summary.task_runs >= summary.tasks
    # Every effect exactly once, nothing half-done, nothing stuck
    assert summary.problems == []
    assert (summary.duplicates, summary.missing, summary.half_loaded, summary.stuck) == (0, 0, 0, 0)
    assert summary.emails_sent == summary.emails_expected > 2 * 100
    # No message killed its worker often enough to be dead-lettered
    assert summary.dead_letters == 0
