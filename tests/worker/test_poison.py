"""A task that kills its worker every time is dead-lettered after a bounded number of runs, and
the queue behind it moves on (decision 0013).

Per broker (Redis, RabbitMQ): one prefork worker with a single pool process, so one message at a
time (prefetch 1, acknowledged late), and TASK_MAX_DELIVERIES=3. First in the queue, a test-only
task that SIGKILLs the pool process running it; behind it, the relay of a notification committed
through the service, and that notification's delivery. Without the bound the poison message comes
back forever: the worker rejects it back to the queue each time its pool process dies. With it:
the message runs exactly three times (three pool processes killed), its fourth delivery becomes a
`DeadLetter` (task, arguments, queue, runs) and is acknowledged without running, the e-mail
behind it goes out once, the worker itself never died, and the queues end empty.
"""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection, transaction

from apps.core.models import DeadLetter, TaskDelivery
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications import services as notifications
from apps.notifications.models import OutboxMessage
from config.celery import app
from tests import factories as f
from tests.worker import notif_mail_backend as sink
from tests.worker.crash_harness import Fleet, broker_backlog, broker_cleanup, publishing_to
from tests.worker.crash_queues import queue_plan
from tests.worker.crash_tasks import POISON

pytestmark = pytest.mark.worker

MAX_DELIVERIES = 3


@pytest.fixture
def poison_fleet(request, broker_url, tmp_path, transactional_db):
    plan = queue_plan(f"poison-{uuid.uuid4().hex[:10]}")
    fleet = Fleet(
        broker_url=broker_url,
        plan=plan,
        workdir=tmp_path,
        workers=1,
        concurrency=1,
        beat=False,
        env={"TASK_MAX_DELIVERIES": str(MAX_DELIVERIES)},
    )
    (tmp_path / "send-log.tsv").touch()
    (tmp_path / "poison-log.tsv").touch()
    request.node._poison_fleet = fleet
    with connection.cursor() as cursor:
        cursor.execute(sink.DROP)
        cursor.execute(sink.CREATE)
    try:
        with publishing_to(broker_url, plan, tmp_path / "media"):
            yield fleet
    finally:
        try:
            fleet.kill_all()
        finally:
            broker_cleanup(broker_url, plan.queues)
            with connection.cursor() as cursor:
                cursor.execute(sink.DROP)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # pragma: no cover - only on failure
    report = yield
    fleet = getattr(item, "_poison_fleet", None)
    if fleet is not None and report.failed:
        report.sections.append(("celery worker logs", fleet.all_logs()[-20000:]))
    return report


def wait_for(fleet: Fleet, probe, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        assert fleet.workers[0].alive(), f"the worker died while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)
    return value


def sent_keys() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT delivery_key FROM {sink.TABLE}")  # noqa: S608
        return [key for (key,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_a_task_that_always_kills_its_worker_is_dead_lettered_and_the_queue_moves_on(poison_fleet, tmp_path):
    fleet = poison_fleet
    department = f.department(region=f.region())
    reader = f.member(department, Role.HEAD, email="head@example.org")
    fleet.start()
    worker_pid = fleet.workers[0].process.pid

    # Given: the poison message first in the queue, a notification's relay and delivery behind it
    poison = app.send_task(POISON, args=["poison-1"])
    with transaction.atomic():
        notifications.notify_bulk(
            [notifications.message_for(department=department, kind="task.issued", title="Behind", key="behind")]
        )
    notification = department.notifications.get()

    # When: the worker works through the queue
    letter = wait_for(fleet, lambda: DeadLetter.objects.filter(task_id=poison.id).first(), "dead letter")
    outbox_open = OutboxMessage.objects.filter(completed_at__isnull=True)
    wait_for(fleet, lambda: sent_keys() and not outbox_open.exists(), "e-mail")
    fleet.stop()

    # Then: the poison ran exactly MAX_DELIVERIES times, each in a pool process it killed
    runs = [line.split("\t") for line in (tmp_path / "poison-log.tsv").read_text().splitlines()]
    assert [marker for marker, _pid in runs] == ["poison-1"] * MAX_DELIVERIES
    assert len({pid for _marker, pid in runs}) == MAX_DELIVERIES
    assert fleet.all_logs().count("Task handler raised error: WorkerLostError") == MAX_DELIVERIES
    # … and its next delivery became a dead letter, with what it takes to run it again
    assert (letter.task_name, letter.args, letter.kwargs, letter.attempts) == (POISON, ["poison-1"], {}, MAX_DELIVERIES)
    assert letter.queue == fleet.plan.default_queue
    assert letter.requeued_at is None
    assert AuditEvent.objects.filter(action="task.dead_letter", target_id=str(letter.pk)).count() == 1
    assert not TaskDelivery.objects.exists()
    # … the work behind it was done, once
    assert sent_keys() == [f"email:{notification.pk}:user:{reader.pk}"]
    # … by the same worker, which never died, and nothing is left in the broker
    assert fleet.workers[0].generation == 1 and fleet.workers[0].process.pid == worker_pid
    assert fleet.workers[0].process.returncode == 0
    backlog = broker_backlog(fleet.broker_url, fleet.plan.queues)
    assert all(ready == 0 and not unacked for ready, unacked in backlog.values()), backlog
