"""Celery tasks for notifications: thin, idempotent, ids only. Each calls one service.

All of them acknowledge late (`acks_late`) and, with the project's `reject_on_worker_lost`, a task
whose worker dies mid-run is delivered again; the services make the second run harmless.
"""

from celery import shared_task

from . import services
from .services import Outcome, conf


@shared_task(name="apps.notifications.tasks.outbox_relay_task", acks_late=True, ignore_result=True)
def outbox_relay_task() -> dict[str, int]:
    """Publish the outbox (beat every few seconds, and nudged after each commit that adds rows)."""
    return services.outbox_relay()


@shared_task(
    name="apps.notifications.tasks.deliver_notification_task",
    bind=True,
    acks_late=True,
    max_retries=None,  # bounded below by NOTIFICATIONS_EMAIL_MAX_RETRIES (a setting, read at run time)
)
def deliver_notification_task(self, notification_id: int) -> dict[str, int]:
    """E-mail the recipients of one notification (each once) and queue its webhook jobs."""
    counts = services.notification_deliver(notification_id=notification_id)
    if counts[Outcome.FAILED] and self.request.retries < conf("EMAIL_MAX_RETRIES"):
        raise self.retry(countdown=services.webhook_backoff(self.request.retries))
    # Out of retries: the outbox row stays open and the relay publishes it again after a while.
    return counts


@shared_task(name="apps.notifications.tasks.deliver_webhook_task", bind=True, acks_late=True, max_retries=None)
def deliver_webhook_task(self, notification_id: int, endpoint_id: int) -> str:
    """POST one notification to one endpoint; on failure retry with exponential backoff, then give up."""
    outcome = services.webhook_deliver(notification_id=notification_id, endpoint_id=endpoint_id)
    if outcome is Outcome.FAILED:
        if self.request.retries < conf("WEBHOOK_MAX_RETRIES"):
            raise self.retry(countdown=services.webhook_backoff(self.request.retries))
        services.webhook_give_up(notification_id=notification_id, endpoint_id=endpoint_id)
        return Outcome.GAVE_UP.value
    return outcome.value


@shared_task(name="apps.notifications.tasks.digest_send_task", acks_late=True)
def digest_send_task() -> dict[str, int]:
    """Beat job (every morning): yesterday's digest, once per user."""
    return services.digest_send()
