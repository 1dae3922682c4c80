"""Platform services: the delivery count of task messages whose worker died, and dead letters.

With `acks_late` and `reject_on_worker_lost` a message whose task kills its worker (a segfault,
the OOM killer, `os._exit`) goes back to the queue and kills the next worker too, forever. The task
base class (`apps.core.task_base`) counts the starts of every redelivered message here and, past
`TASK_MAX_DELIVERIES`, records the message as a dead letter and acknowledges it without running it
(docs/decisions/0013-dead-letters.md).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.ledger.services import audit_record

from .exceptions import Conflict, ServiceError
from .models import DeadLetter, TaskDelivery
from .scoping import authorize

logger = logging.getLogger(__name__)

DEFAULT_MAX_DELIVERIES = 5


def task_max_deliveries() -> int:
    """How many times one message may start before the next delivery is dead-lettered."""
    return max(1, int(getattr(settings, "TASK_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES)))


def task_delivery_key(*, task_id: str, retries: int) -> str:
    """One message: a task id, and the retry number (`self.retry()` publishes a new message
    under the same id, which starts its own count)."""
    return f"{task_id}:{retries}"[:200]


def task_delivery_count(*, task_id: str, retries: int, task_name: str, worker: str) -> TaskDelivery:
    """Count one more start of a redelivered message, committed before the task runs.

    The first delivery was not counted (it did not know it would die), so a message seen for the
    first time here is on its second start.
    """
    key = task_delivery_key(task_id=task_id, retries=retries)
    now = timezone.now()
    with transaction.atomic():
        row, created = TaskDelivery.objects.select_for_update().get_or_create(
            key=key,
            defaults={
                "task_id": task_id[:200],
                "task_name": task_name[:200],
                "deliveries": 2,
                "first_seen_at": now,
                "last_started_at": now,
                "last_worker": worker[:200],
            },
        )
        if not created:
            row.deliveries += 1
            row.last_started_at = now
            row.last_worker = worker[:200]
            row.save(update_fields=["deliveries", "last_started_at", "last_worker"])
    return row


def task_delivery_done(*, task_id: str, retries: int) -> None:
    """The message's task returned (succeeded, failed or asked for a retry): forget its count."""
    TaskDelivery.objects.filter(key=task_delivery_key(task_id=task_id, retries=retries)).delete()


def dead_letter_record(*, delivery: TaskDelivery, args, kwargs, queue: str) -> DeadLetter:
    """Take a message that keeps killing its workers off the queue: keep it as a dead letter.

    The caller (the task base class) then acknowledges the message without running it. A second
    copy of the same message arriving here finds the row and adds nothing.
    """
    attempts = delivery.deliveries - 1  # this delivery does not run
    with transaction.atomic():
        letter, created = DeadLetter.objects.get_or_create(
            key=delivery.key,
            defaults={
                "task_id": delivery.task_id,
                "task_name": delivery.task_name,
                "args": list(args or []),
                "kwargs": dict(kwargs or {}),
                "queue": (queue or "")[:200],
                "attempts": attempts,
                "first_seen_at": delivery.first_seen_at,
                "last_error": (
                    f"the worker died during each of {attempts} runs of this message "
                    f"(killed, out of memory or exited); last run on {delivery.last_worker or 'an unknown worker'}"
                ),
            },
        )
        TaskDelivery.objects.filter(pk=delivery.pk).delete()
        if created:
            audit_record(
                actor=None,
                action="task.dead_letter",
                target=letter,
                after={
                    "task": letter.task_name,
                    "task_id": letter.task_id,
                    "attempts": attempts,
                    "queue": letter.queue,
                },
            )
    logger.error(
        "task %s[%s] dead-lettered after %d runs that killed their worker (dead letter %s)",
        letter.task_name,
        letter.task_id,
        attempts,
        letter.pk,
    )
    return letter


@transaction.atomic
def dead_letter_requeue(*, actor, dead_letter: DeadLetter) -> DeadLetter:
    """Publish a dead letter's task again (platform administrators, once the cause is fixed).

    The message is published before this transaction commits: if the broker refuses it, nothing
    is marked and the administrator can try again. A crash between the publish and the commit
    may run the task twice, which idempotent tasks allow.
    """
    from celery import current_app

    authorize(actor, "requeue", DeadLetter)  # a platform record: platform administrators only
    letter = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
    if letter.requeued_at is not None:
        raise Conflict(_("This dead letter has been requeued already."))
    if letter.task_name not in current_app.tasks:
        current_app.loader.import_default_modules()  # the apps' tasks modules (autodiscovery is lazy)
    task = current_app.tasks.get(letter.task_name)
    if task is None:
        raise ServiceError(_("No task of this name is registered: %(name)s") % {"name": letter.task_name})
    letter.requeued_at = timezone.now()
    letter.requeued_by = actor
    audit_record(
        actor=actor,
        action="task.requeue",
        target=letter,
        after={"task": letter.task_name, "task_id": letter.task_id, "queue": letter.queue},
    )
    options = {"queue": letter.queue} if letter.queue else {}
    result = task.apply_async(args=letter.args, kwargs=letter.kwargs, **options)
    letter.requeued_task_id = str(result.id or "")[:200]
    letter.save(update_fields=["requeued_at", "requeued_by", "requeued_task_id"])
    return letter
