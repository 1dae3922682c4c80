"""Celery tasks of reporting. Generation may take minutes for a large incident: it runs within
the task time limit (CELERY_TASK_TIME_LIMIT) and reports progress on the report row."""

from celery import shared_task


@shared_task
def report_generate_task(report_id: int) -> dict:
    from .services import report_generate

    report = report_generate(report_id=report_id)
    return {"report": report.pk, "status": report.status}


@shared_task
def schedules_run_task() -> int:
    from .services import schedules_run

    return schedules_run()


@shared_task
def incident_close_task(incident_id: int, review_id: int) -> dict:
    """The after-action review first, then the archive that holds it."""
    from .services import archive_freeze, report_generate

    report_generate(report_id=review_id)
    archive = archive_freeze(incident_id=incident_id)
    return {"archive": archive.pk, "root_hash": archive.root_hash}


@shared_task
def reports_resume_task() -> int:
    from .services import reports_resume

    return reports_resume()
