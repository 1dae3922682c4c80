"""Celery tasks of early warning."""

from celery import shared_task


@shared_task
def rules_evaluate_task() -> dict:
    """Evaluate every active monitoring rule over the records loaded since its last run."""
    from .services import rules_evaluate

    return rules_evaluate()
