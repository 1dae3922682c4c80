"""The broker is down while dispatches and notifications are committed: nothing is lost once it is
back (the outbox, decision 0006).

Per broker, a private one on a free port (Redis without persistence, as CI runs it; a RabbitMQ node
of the test's own), so it can be crashed without touching the shared brokers: a prefork worker and
a beat running the outbox relay are up and have delivered a first dispatch; the broker is SIGKILLed;
while it is down the tasking and notification services commit 8 dispatches (to three departments
each) and 24 notifications: every call succeeds, every outbox job is written, every on-commit nudge
fails quickly and is logged; after a few seconds the broker starts again (Redis empty: whatever it
held is gone). Then every e-mail of every notification is recorded exactly once, every outbox job
is completed, and nothing is left in the broker. scripts/crash_test.py runs the same with the broker
down for a full minute.
"""

from __future__ import annotations

import pytest

from tests.worker.crash_harness import OutageRun
from tests.worker.private_broker import private_broker

pytestmark = pytest.mark.worker

DISPATCHES = 8
NOTIFICATIONS = 24


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # pragma: no cover - only on failure
    report = yield
    run = getattr(item, "_outage_run", None)
    if run is not None and report.failed:
        fleet = getattr(run, "fleet", None)
        report.sections.append(("celery worker logs", fleet.all_logs()[-20000:] if fleet else ""))
        report.sections.append(("broker output", run.broker.output()))
    return report


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
@pytest.mark.django_db(transaction=True)
def test_what_is_committed_while_the_broker_is_down_is_delivered_once_when_it_is_back(kind, tmp_path, request):
    broker = private_broker(kind, tmp_path / "broker")
    run = OutageRun(
        broker=broker, workdir=tmp_path / "run", outage=4.0, dispatches=DISPATCHES, notifications=NOTIFICATIONS
    )
    request.node._outage_run = run

    summary = run.run()

    print("\n".join(summary.lines()))
    # While it was down: every service call committed its outbox jobs, none could be published
    assert summary.written_while_down == DISPATCHES * 3 + NOTIFICATIONS
    assert summary.nudges_failed == DISPATCHES + NOTIFICATIONS // 10 + 1  # one per transaction
    assert summary.outage >= 4.0
    # Once it was back: every e-mail exactly once, nothing left open
    assert summary.problems == []
    assert (summary.duplicates, summary.missing, summary.stuck) == (0, 0, 0)
    assert summary.emails_sent == summary.emails_expected == 2 * 3 * (DISPATCHES + 1) + 2 * NOTIFICATIONS
    assert summary.drained_in is not None
