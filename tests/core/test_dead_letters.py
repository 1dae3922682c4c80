"""Dead letters (decision 0013): the delivery count of redelivered task messages, the dead letter
that replaces a message which keeps killing its workers, and requeueing it from the console.

The worker side (a real prefork worker whose task kills its pool process every time) is in
tests/worker/test_poison.py; these are the services and the console, in-process.
"""

import pytest
from django.core import mail
from django.urls import reverse

from apps.core import services
from apps.core.exceptions import AccessDenied, Conflict
from apps.core.models import DeadLetter, TaskDelivery
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.notifications import services as notifications
from apps.notifications.models import Delivery
from tests import factories as f
from tests.accounts.otp import verified_login

pytestmark = pytest.mark.django_db

DELIVER = "apps.notifications.tasks.deliver_notification_task"


def count(task_id="t-1", retries=0, worker="w1@host pid 10"):
    return services.task_delivery_count(task_id=task_id, retries=retries, task_name=DELIVER, worker=worker)


def test_a_redelivered_message_is_counted_from_its_second_start():
    # Given: a message seen again for the first time (its first start was not counted)
    first = count()
    # When: it starts again, on another worker
    again = count(worker="w2@host pid 20")
    # Then: one row per message, counting starts, remembering the last worker
    assert (first.deliveries, again.deliveries) == (2, 3)
    row = TaskDelivery.objects.get()
    assert (row.key, row.deliveries, row.last_worker) == ("t-1:0", 3, "w2@host pid 20")


def test_a_retry_is_a_new_message_with_its_own_count():
    count(retries=0)
    count(retries=0)
    assert count(retries=1).deliveries == 2
    assert TaskDelivery.objects.count() == 2


def test_a_message_that_returns_is_forgotten():
    count()
    count(task_id="other")
    services.task_delivery_done(task_id="t-1", retries=0)
    assert list(TaskDelivery.objects.values_list("key", flat=True)) == ["other:0"]


def test_dead_lettering_keeps_the_message_drops_the_count_and_writes_the_ledger(settings):
    # Given: a message that started TASK_MAX_DELIVERIES times and came back once more
    settings.TASK_MAX_DELIVERIES = 3
    for _ in range(3):
        delivery = count()
    assert delivery.deliveries == services.task_max_deliveries() + 1
    # When: it is dead-lettered
    letter = services.dead_letter_record(delivery=delivery, args=[41], kwargs={"x": 1}, queue="dispatch")
    # Then: the dead letter has what is needed to run it again; the count is gone; the ledger says so
    letter.refresh_from_db()
    assert (letter.task_name, letter.task_id, letter.args, letter.kwargs, letter.queue, letter.attempts) == (
        DELIVER,
        "t-1",
        [41],
        {"x": 1},
        "dispatch",
        3,
    )
    assert "died during each of 3 runs" in letter.last_error and "w1@host pid 10" in letter.last_error
    assert not TaskDelivery.objects.exists()
    event = AuditEvent.objects.get(action="task.dead_letter")
    assert event.target_id == str(letter.pk) and event.after["attempts"] == 3


def test_a_second_copy_of_a_dead_letter_adds_nothing():
    letter = services.dead_letter_record(delivery=count(), args=[], kwargs={}, queue="q")
    again = services.dead_letter_record(delivery=count(), args=[], kwargs={}, queue="q")
    assert again.pk == letter.pk
    assert DeadLetter.objects.count() == 1
    assert AuditEvent.objects.filter(action="task.dead_letter").count() == 1


@pytest.fixture
def notification_letter():
    """A dead letter of a real task: delivering a notification to a department with one reader."""
    department = f.department(region=f.region())
    f.member(department, Role.HEAD, email="head@example.org")
    notifications.notify_bulk(
        [notifications.message_for(department=department, kind="task.issued", title="Task", key="dl")]
    )
    notification = department.notifications.get()
    delivery = count(task_id="dead-1")
    return services.dead_letter_record(delivery=delivery, args=[notification.pk], kwargs={}, queue="")


def test_only_a_platform_administrator_may_requeue_a_dead_letter(notification_letter):
    head = f.member(f.department(region=f.region()), Role.HEAD)
    with pytest.raises(AccessDenied):
        services.dead_letter_requeue(actor=head, dead_letter=notification_letter)
    notification_letter.refresh_from_db()
    assert notification_letter.requeued_at is None


def test_requeueing_runs_the_task_again_once(admin, notification_letter):
    # When: an administrator requeues it (tasks run in-process here)
    letter = services.dead_letter_requeue(actor=admin, dead_letter=notification_letter)
    # Then: the task ran: the notification reached its reader
    assert [m.to for m in mail.outbox] == [["head@example.org"]]
    assert Delivery.objects.filter(sent_at__isnull=False).count() == 1
    letter.refresh_from_db()
    assert letter.requeued_by == admin and letter.requeued_at is not None and letter.requeued_task_id
    assert AuditEvent.objects.filter(action="task.requeue", target_id=str(letter.pk)).count() == 1
    # … and a second requeue is refused
    with pytest.raises(Conflict):
        services.dead_letter_requeue(actor=admin, dead_letter=letter)


def test_the_console_lists_dead_letters_and_requeues_them(client, admin, notification_letter):
    verified_login(client, admin)
    changelist = reverse("admin:core_deadletter_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and DELIVER in page.content.decode()
    assert client.get(reverse("admin:core_taskdelivery_changelist")).status_code == 200
    assert client.get(reverse("admin:core_deadletter_add")).status_code == 403

    response = client.post(changelist, {"action": "requeue", "_selected_action": [notification_letter.pk]})

    assert response.status_code == 302
    notification_letter.refresh_from_db()
    assert notification_letter.requeued_by == admin
    assert len(mail.outbox) == 1


def test_staff_without_platform_rights_do_not_see_dead_letters(client, notification_letter):
    staff = f.member(f.department(region=f.region()), Role.HEAD)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    verified_login(client, staff)
    assert client.get(reverse("admin:core_deadletter_changelist")).status_code == 403
