"""The transactional outbox: delivery jobs commit with the notification, survive a broker that is
down at commit time, and are published by the relay (once, or again when a message was lost)."""

import contextlib
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.notifications import services
from apps.notifications.choices import OutboxTopic
from apps.notifications.models import Delivery, Notification, OutboxMessage
from config.celery import app
from tests import factories as f

pytestmark = pytest.mark.django_db


def ping(departments, key="ping", kind="test.ping"):
    return services.notify(departments=departments, kind=kind, title="Levee breach upstream", key=key)


def test_each_new_notification_gets_one_outbox_row_in_the_same_transaction(scene):
    # When: a notification goes to two departments, and the same key is notified again
    assert ping([scene["department"], scene["other"]]) == 2
    assert ping([scene["department"], scene["other"]]) == 0

    # Then: one delivery job per notification, unpublished until the relay runs
    rows = list(OutboxMessage.objects.order_by("key"))
    ids = sorted(Notification.objects.values_list("pk", flat=True))
    assert sorted(r.payload["notification_id"] for r in rows) == ids
    assert {r.topic for r in rows} == {OutboxTopic.NOTIFICATION}
    assert all(r.published_at is None and r.attempts == 0 for r in rows)


def test_a_rolled_back_caller_leaves_neither_notification_nor_outbox_row(scene):
    with pytest.raises(RuntimeError), transaction.atomic():
        ping([scene["department"]])
        raise RuntimeError("the caller's change failed")
    assert not Notification.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_the_relay_is_nudged_once_per_transaction_and_only_after_commit(scene, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        ping([scene["department"]], key="a")
        ping([scene["other"]], key="b")
        services.notify_bulk([services.message_for(department=scene["other"], kind="test.x", title="x", key="c")])
    assert [cb for cb in callbacks if cb is services._nudge_relay] == [services._nudge_relay]


def test_a_nudge_registered_in_a_rolled_back_savepoint_is_registered_again(scene, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                ping([scene["department"]], key="a")
                raise RuntimeError
        except RuntimeError:
            pass
        ping([scene["other"]], key="b")
    assert callbacks.count(services._nudge_relay) == 1
    assert OutboxMessage.objects.count() == 1


def test_fan_out_writes_its_outbox_in_a_constant_number_of_queries(scene):
    few = [f.department(region=scene["city"]) for _ in range(3)]
    many = [f.department(region=scene["city"]) for _ in range(30)]
    with CaptureQueriesContext(connection) as small:
        ping(few, key="few")
    with CaptureQueriesContext(connection) as large:
        ping(many, key="many")
    assert OutboxMessage.objects.count() == 33
    assert len(large.captured_queries) == len(small.captured_queries) <= 8


def test_the_relay_publishes_every_open_row_once_and_the_worker_completes_it(scene):
    ping([scene["department"], scene["other"]])

    # When: the relay runs (eagerly here: publishing runs the delivery task in-process)
    stats = services.outbox_relay()

    # Then: both rows are published and completed; the department's 3 addressed members got mail
    assert stats == {"published": 2, "failed": 0, "republished": 0}
    assert not OutboxMessage.objects.filter(Q_open()).exists()
    assert all(r.attempts == 1 and r.completed_at for r in OutboxMessage.objects.all())
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["head@example.org", "staff@example.org", "staff2@example.org", "outsider@example.org"]
    )

    # And: a second run has nothing to do
    assert services.outbox_relay() == {"published": 0, "failed": 0, "republished": 0}


def Q_open():  # noqa: N802 - reads like the Q it returns
    from django.db.models import Q

    return Q(published_at__isnull=True)


@contextlib.contextmanager
def publishing_to_a_broker():
    """The relay as a real worker runs it: publishing (here to a stub producer), not running tasks."""
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with mock.patch.object(app, "producer_or_acquire", lambda: contextlib.nullcontext()):
            yield
    finally:
        app.conf.task_always_eager = saved


def test_a_broker_error_stops_the_run_and_keeps_the_rest_for_the_next(scene):
    ping([f.department(region=scene["city"]) for _ in range(5)])
    calls = []

    def flaky(row, producer):
        calls.append(row.key)
        if len(calls) == 3:
            raise OperationalError("[Errno 111] Connection refused")

    with mock.patch.object(services, "_publish", side_effect=flaky), publishing_to_a_broker():
        stats = services.outbox_relay()
    assert stats == {"published": 2, "failed": 1, "republished": 0}
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 3

    with mock.patch.object(services, "_publish") as publish:
        assert services.outbox_relay()["published"] == 3
    assert publish.call_count == 3


def test_run_eagerly_a_failing_delivery_is_tried_again_only_once_stale(scene, settings):
    """Without a broker the relay runs the tasks itself; a failure must not make every later run
    (one per committed request) try again at once."""
    ping([scene["department"]])
    with mock.patch.object(mail.EmailMessage, "send", side_effect=ConnectionRefusedError("no SMTP server")):
        assert services.outbox_relay() == {"published": 0, "failed": 1, "republished": 0}
        assert services.outbox_relay() == {"published": 0, "failed": 0, "republished": 0}
    row = OutboxMessage.objects.get()
    assert row.attempts == 1 and row.completed_at is None and "Retry" in row.last_error

    OutboxMessage.objects.filter(pk=row.pk).update(published_at=timezone.now() - timedelta(hours=1))
    assert services.outbox_relay() == {"published": 1, "failed": 0, "republished": 1}
    assert len(mail.outbox) == 3 and OutboxMessage.objects.get().completed_at is not None


def test_a_row_published_long_ago_and_never_completed_is_published_again_a_bounded_number_of_times(scene, settings):
    settings.NOTIFICATIONS_OUTBOX_MAX_PUBLISHES = 3
    ping([scene["department"]])
    row = OutboxMessage.objects.get()
    with mock.patch.object(services, "_publish"):  # the message is "lost" in the broker
        services.outbox_relay()
        assert services.outbox_relay()["published"] == 0  # not stale yet
        for expected in (1, 1, 0):
            OutboxMessage.objects.filter(pk=row.pk).update(published_at=timezone.now() - timedelta(hours=1))
            assert services.outbox_relay()["republished"] == expected
    assert OutboxMessage.objects.get(pk=row.pk).attempts == 3


def test_a_broker_that_is_down_at_commit_time_loses_nothing(
    scene, broker_down, django_capture_on_commit_callbacks, caplog
):
    # Given: the broker refuses connections
    # When: a service notifies and its transaction commits (the nudge runs and fails)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ping([scene["department"]])
    assert time.monotonic() - started < 2, "the committed request waited for the broker"

    # Then: the caller saw no error; the failed nudge is logged and the job waits in the outbox
    assert "outbox_relay_task() not published" in caplog.text
    row = OutboxMessage.objects.get()
    assert row.published_at is None

    # And: a relay run while the broker is still down publishes nothing and says why
    assert services.outbox_relay()["failed"] == 1
    assert OutboxMessage.objects.get().published_at is None


def test_once_the_broker_is_back_the_beat_relay_delivers_what_waited(scene, django_capture_on_commit_callbacks):
    with mock.patch.object(services, "_nudge_relay"):  # the nudge was lost
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            ping([scene["department"]])
    assert not mail.outbox

    from apps.notifications.tasks import outbox_relay_task

    outbox_relay_task.apply()  # the beat tick
    assert len(mail.outbox) == 3
    assert Delivery.objects.filter(sent_at__isnull=False).count() == 3
    assert OutboxMessage.objects.get().completed_at is not None
