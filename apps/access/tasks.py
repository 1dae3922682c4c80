"""Celery tasks of data access."""

from celery import shared_task


@shared_task
def grants_sweep_task() -> dict:
    """Drop the guardian permissions of ended grants; remind holders before expiry. Reads never
    wait for this: every query already refuses an ended grant."""
    from .services import grants_sweep

    return grants_sweep()
