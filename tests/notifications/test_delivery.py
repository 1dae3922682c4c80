"""E-mail delivery: who receives, preferences, and once per recipient however often the task runs."""

import threading

import pytest
from django.core import mail
from django.db import connection, transaction

from apps.core.permissions import Role
from apps.notifications import services
from apps.notifications.models import Delivery, NotificationPreference, OutboxMessage
from apps.notifications.services import PreferenceInput
from apps.notifications.tasks import deliver_notification_task

pytestmark = pytest.mark.django_db


def notify_one(department, *, kind="task.issued", role="", key="k"):
    services.notify(
        departments=[department],
        kind=kind,
        title="New task: evacuate\nthe east bank",
        body="Move 1,200 people by 18:00.",
        link="/tasks/7/",
        key=key,
        audience_role=role,
    )
    return department.notifications.get(key=f"{key}:{department.pk}")


def recipients():
    return sorted(m.to[0] for m in mail.outbox)


def test_every_active_addressed_person_in_the_department_gets_one_email(scene, settings):
    settings.NOTIFICATIONS_SITE_URL = "https://yingji.example.org"
    notification = notify_one(scene["department"])

    counts = services.notification_deliver(notification_id=notification.pk)

    # no service account, no inactive user, no member without an address, nobody from elsewhere
    assert recipients() == ["head@example.org", "staff2@example.org", "staff@example.org"]
    assert counts["sent"] == 3
    message = mail.outbox[0]
    assert message.subject == "[Notify-Department] New task: evacuate the east bank"  # one line
    assert "Move 1,200 people by 18:00." in message.body
    assert "https://yingji.example.org/tasks/7/" in message.body
    assert message.extra_headers["X-Delivery-Key"].startswith(f"email:{notification.pk}:user:")
    assert OutboxMessage.objects.get(key=f"notification:{notification.pk}").completed_at is not None


def test_an_audience_role_limits_the_recipients(scene):
    notification = notify_one(scene["department"], role=Role.HEAD)
    services.notification_deliver(notification_id=notification.pk)
    assert recipients() == ["head@example.org"]


def test_the_task_run_twice_delivers_once(scene):
    notification = notify_one(scene["department"])

    first = deliver_notification_task.apply(args=[notification.pk]).get()
    second = deliver_notification_task.apply(args=[notification.pk]).get()

    assert (first["sent"], second["sent"], second["skipped"]) == (3, 0, 3)
    assert len(mail.outbox) == 3
    assert Delivery.objects.filter(notification=notification, sent_at__isnull=False).count() == 3


def test_a_failed_send_is_recorded_and_retried_and_then_sent_once(scene, settings, eager_retries):
    settings.NOTIFICATIONS_EMAIL_MAX_RETRIES = 3
    notification = notify_one(scene["department"])
    real_send = mail.EmailMessage.send
    failures = {"left": 2}

    def flaky_send(message, fail_silently=False):
        if message.to == ["staff@example.org"] and failures["left"]:
            failures["left"] -= 1
            raise ConnectionRefusedError("SMTP server refused the connection")
        return real_send(message, fail_silently)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mail.EmailMessage, "send", flaky_send)
        # eagerly, Celery runs the retries at once (the countdown is for real workers)
        deliver_notification_task.apply(args=[notification.pk])

    assert eager_retries == [10, 20]  # backing off
    assert recipients() == ["head@example.org", "staff2@example.org", "staff@example.org"]
    staff = Delivery.objects.get(key=f"email:{notification.pk}:user:{scene['staff'].pk}")
    assert staff.attempts == 3 and staff.sent_at is not None and staff.last_error == ""
    head = Delivery.objects.get(key=f"email:{notification.pk}:user:{scene['head'].pk}")
    assert head.attempts == 1


def test_out_of_retries_the_outbox_row_stays_open_for_the_relay(scene, settings, eager_retries):
    settings.NOTIFICATIONS_EMAIL_MAX_RETRIES = 1
    notification = notify_one(scene["department"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mail.EmailMessage, "send", lambda *a, **k: (_ for _ in ()).throw(OSError("no route")))
        result = deliver_notification_task.apply(args=[notification.pk]).get()
    assert result["failed"] == 3
    row = OutboxMessage.objects.get(key=f"notification:{notification.pk}")
    assert row.completed_at is None
    assert Delivery.objects.filter(sent_at__isnull=True, last_error__contains="no route").count() == 3


def test_the_message_id_is_the_same_for_every_send_of_one_delivery(scene):
    """A send repeated after a crash between the send and the commit reaches the receiver with
    the same Message-ID, which mail systems use to collapse duplicates."""
    notification = notify_one(scene["department"])
    user = scene["head"]
    key = f"email:{notification.pk}:user:{user.pk}"
    first = services._notification_email(notification, user, key)
    again = services._notification_email(notification, user, key)
    assert first.extra_headers["Message-ID"] == again.extra_headers["Message-ID"]
    assert (
        first.extra_headers["Message-ID"]
        != services._notification_email(notification, user, key + "x").extra_headers["Message-ID"]
    )


# --- preferences -------------------------------------------------------------------------------


def test_email_off_for_a_kind_or_for_everything_is_respected(scene):
    services.notification_preferences_set(
        actor=scene["staff"], preferences=[PreferenceInput(kind="task.issued", email=False)]
    )
    services.notification_preferences_set(actor=scene["staff2"], preferences=[PreferenceInput(kind="", email=False)])
    services.notification_preferences_set(
        actor=scene["head"],
        preferences=[PreferenceInput(kind="", email=False), PreferenceInput(kind="task.issued", email=True)],
    )

    services.notification_deliver(notification_id=notify_one(scene["department"], key="a").pk)
    assert recipients() == ["head@example.org"]

    mail.outbox.clear()
    services.notification_deliver(notification_id=notify_one(scene["department"], kind="clock.reminded", key="b").pk)
    assert recipients() == ["staff@example.org"]


def test_digest_users_get_no_immediate_email(scene):
    services.notification_preferences_set(
        actor=scene["staff"], preferences=[PreferenceInput(kind="", daily_digest=True)]
    )
    services.notification_deliver(notification_id=notify_one(scene["department"]).pk)
    assert "staff@example.org" not in recipients()
    assert len(mail.outbox) == 2


def test_replacing_preferences_drops_rows_that_say_what_every_kind_says(scene):
    user = scene["staff"]
    services.notification_preferences_set(
        actor=user,
        replace=True,
        preferences=[
            PreferenceInput(kind="", email=False),
            PreferenceInput(kind="task.issued", email=False),  # same as every kind: not kept
            PreferenceInput(kind="clock.head", email=True),
        ],
    )
    assert dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email")) == {
        "": False,
        "clock.head": True,
    }
    services.notification_preferences_set(actor=user, replace=True, preferences=[PreferenceInput(kind="")])
    assert list(NotificationPreference.objects.filter(user=user).values_list("kind", flat=True)) == [""]


def test_a_malformed_kind_is_refused(scene):
    from apps.core.exceptions import ServiceError

    with pytest.raises(ServiceError):
        services.notification_preferences_set(actor=scene["staff"], preferences=[PreferenceInput(kind="Task Issued!")])


# --- two workers at once -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_notification_at_once_send_each_email_once():
    """Threads with their own connections run the same job together: the claim's row lock makes
    the second wait and then find each delivery sent."""
    from tests import factories as f

    department = f.department(region=f.region(parent=f.region()))
    for i in range(4):
        f.member(department, Role.STAFF, email=f"m{i}@example.org")
    with transaction.atomic():
        notification = notify_one(department)
    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            barrier.wait()
            services.notification_deliver(notification_id=notification.pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(m.to[0] for m in mail.outbox) == [f"m{i}@example.org" for i in range(4)]
    assert Delivery.objects.filter(sent_at__isnull=False).count() == 4


def test_setting_preferences_leaves_one_ledger_event_with_before_and_after(scene):
    from apps.ledger.models import AuditEvent

    user = scene["staff"]
    services.notification_preferences_set(actor=user, preferences=[PreferenceInput(kind="", email=False)])
    services.notification_preferences_set(
        actor=user,
        replace=True,
        preferences=[PreferenceInput(kind=""), PreferenceInput(kind="task.issued", email=False)],
    )
    events = list(AuditEvent.objects.filter(action="notification.preferences_set").order_by("seq"))
    assert len(events) == 2
    assert (events[1].target_type, events[1].target_id, events[1].actor_id) == ("accounts.user", str(user.pk), user.pk)
    off = {"in_app": True, "email": False, "daily_digest": False}
    on = {"in_app": True, "email": True, "daily_digest": False}
    assert events[1].before == {"": off}
    assert events[1].after == {"": on, "task.issued": off}
