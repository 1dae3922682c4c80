from celery import shared_task

from .services import clocks_check


@shared_task(name="apps.incidents.tasks.clocks_check_task", acks_late=True)
def clocks_check_task() -> dict[str, int]:
    """Beat job: take every due escalation step of the statutory reporting clocks (idempotent)."""
    return clocks_check()
