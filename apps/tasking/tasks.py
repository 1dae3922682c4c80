from celery import shared_task

from .services import tasks_escalate


@shared_task(name="apps.tasking.tasks.tasks_escalate_task", acks_late=True)
def tasks_escalate_task() -> dict[str, int]:
    """Beat job: reminders and escalations of unacknowledged and overdue tasks (idempotent)."""
    return tasks_escalate()
