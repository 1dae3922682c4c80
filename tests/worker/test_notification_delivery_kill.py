"""Notifications survive a broker that is down at commit time and workers killed mid-delivery.

Given 200 notifications committed while the broker refused connections (so their delivery jobs
exist only as outbox rows), a real prefork worker with an embedded beat relays and delivers them,
and is SIGKILLed — its whole process group, at a random moment while e-mails are going out — and
started again, several times. In the end every notification reached every recipient exactly once:
one recorded e-mail per (notification, recipient), none missing, none twice, and every outbox row
published and completed.

The receiving side is transactional (see notif_mail_backend): a send is recorded with the
delivery's commit. The send log shows what a plain SMTP server would have seen: sends whose
transaction the kill rolled back, repeated after the restart with the same Message-ID.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections import Counter

import pytest
from django.db import connection, transaction

from apps.core.permissions import Role
from apps.notifications import services
from apps.notifications.models import Delivery, OutboxMessage
from tests import factories as f
from tests.brokers import broker_unreachable
from tests.worker import notif_mail_backend as sink
from tests.worker.notif_worker import NotifWorker

pytestmark = pytest.mark.worker

NOTIFICATIONS = 200
KILLS = 3
FINISH_TIMEOUT = 45  # seconds for the last generation to deliver what is left


def sent_rows() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT delivery_key, recipient FROM {sink.TABLE}")  # noqa: S608
        return cursor.fetchall()


def sent_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {sink.TABLE}")  # noqa: S608
        return cursor.fetchone()[0]


def outbox_open() -> int:
    return OutboxMessage.objects.filter(completed_at__isnull=True).count()


@pytest.fixture
def sent_mail_table(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute(sink.DROP)
        cursor.execute(sink.CREATE)
    yield
    with connection.cursor() as cursor:
        cursor.execute(sink.DROP)


@pytest.fixture
def notif_worker(request, broker_url, tmp_path):
    worker = NotifWorker(
        queue=f"test-notif-{uuid.uuid4().hex[:12]}",
        broker_url=broker_url,
        workdir=tmp_path,
        send_log=tmp_path / "send-log.tsv",
    )
    worker.send_log.touch()
    request.node._notif_worker = worker
    try:
        yield worker
    finally:
        try:
            if worker.alive():
                worker.stop()
        finally:
            worker.cleanup_broker()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # pragma: no cover - only on failure
    report = yield
    worker = getattr(item, "_notif_worker", None)
    if worker is not None and report.failed:
        report.sections.append(("celery worker logs", worker.all_logs()[-20000:]))
    return report


@pytest.mark.django_db(transaction=True)
def test_every_notification_is_delivered_once_per_recipient_through_sigkills(notif_worker, sent_mail_table, caplog):
    seed = int(os.environ.get("NOTIF_KILL_SEED", random.randrange(1_000_000)))  # noqa: S311 - timing, not secrets
    rng = random.Random(seed)  # noqa: S311
    print(f"NOTIF_KILL_SEED={seed}")

    # Given: a department with two people who read e-mail (and one who has none)
    department = f.department(region=f.region(parent=f.region()))
    recipients = [
        f.member(department, Role.HEAD, email="head@example.org"),
        f.member(department, email="duty@example.org"),
    ]
    f.member(department)
    # … and 200 notifications committed while the broker is down: the nudge fails, nothing is lost
    with broker_unreachable(), transaction.atomic():
        created = services.notify_bulk(
            [
                services.message_for(department=department, kind="task.issued", title=f"Task {i}", key=f"kill:{i}")
                for i in range(NOTIFICATIONS)
            ]
        )
    assert created == NOTIFICATIONS
    assert "outbox_relay_task() not published" in caplog.text
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == NOTIFICATIONS
    ids = list(department.notifications.values_list("pk", flat=True))
    expected = Counter({f"email:{pk}:user:{user.pk}": 1 for pk in ids for user in recipients})
    total = len(expected)

    # When: the worker (relay and deliveries) is killed while it delivers, and restarted, KILLS times
    kills = []
    for n in range(KILLS):
        notif_worker.start()
        threshold = (n + 1) * total // (KILLS + 2) + rng.randrange(total // 10)
        deadline = time.monotonic() + FINISH_TIMEOUT
        while sent_count() < threshold:
            assert notif_worker.alive(), f"generation {notif_worker.generation} died on its own"
            assert time.monotonic() < deadline, f"no progress to {threshold} sends (at {sent_count()})"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))
        notif_worker.kill()
        kills.append(sent_count())

    # … and a last generation finishes the work
    notif_worker.start()
    deadline = time.monotonic() + FINISH_TIMEOUT
    while sent_count() < total or outbox_open():
        assert time.monotonic() < deadline, f"unfinished: {sent_count()}/{total} sent, {outbox_open()} jobs open"
        time.sleep(0.1)
    time.sleep(1.5)  # let redelivered and republished jobs run too: they must send nothing
    notif_worker.stop()

    # Then: every kill struck mid-delivery
    assert all(0 < k < total for k in kills), kills
    assert kills == sorted(kills)

    # … every notification reached every recipient exactly once
    delivered = Counter(key for key, _recipient in sent_rows())
    assert not {k: c for k, c in delivered.items() if c > 1}, "delivered twice"
    assert set(expected) - set(delivered) == set(), "never delivered"
    assert delivered == expected
    assert Delivery.objects.filter(channel="email", sent_at__isnull=False).count() == total
    assert not Delivery.objects.filter(sent_at__isnull=True).exists()

    # … and the outbox is fully published and completed
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()
    assert outbox_open() == 0

    # The send log: every key was attempted; the surplus are sends rolled back by a kill
    attempts = Counter(line.split("\t")[0] for line in notif_worker.send_log.read_text().splitlines())
    assert set(attempts) == set(expected)
    rolled_back = sum(attempts.values()) - total
    print(f"kills at {kills} of {total} sends; {rolled_back} sends rolled back by the kills and repeated")
    assert rolled_back <= 4 * KILLS  # at most the sends in flight in 2 pool processes per kill (+ slack)
