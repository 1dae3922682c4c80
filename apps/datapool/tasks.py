"""Celery tasks of the data pool. Each is idempotent: a redelivered or repeated task finds the
job finished (or the link already made) and does nothing more."""

from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=3600, soft_time_limit=3500)
def ingestion_run_task(job_id: int) -> str:
    from .services import ingestion_run

    job = ingestion_run(job_id)
    return job.status if job is not None else "missing"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def links_build_task(job_id: int) -> int:
    from .processing import links_build

    return links_build(job_id=job_id)


@shared_task
def sync_due_task() -> int:
    from .sync import sync_due

    return sync_due()


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=3600, soft_time_limit=3500)
def sync_run_task(source_id: int) -> str:
    from .sync import sync_run

    job = sync_run(source_id=source_id)
    return job.status if job is not None else "nothing"


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=3600, soft_time_limit=3500)
def share_run_task(job_id: int) -> str:
    from .sharing import share_run

    job = share_run(job_id=job_id)
    return job.status if job is not None else "missing"


@shared_task
def jobs_resume_task() -> int:
    from .services import jobs_resume

    return jobs_resume()


@shared_task
def staged_uploads_purge_task() -> int:
    """Delete upload files left at the mapping step for more than a day (residents' data must not
    linger on disk)."""
    from datetime import timedelta

    from django.core.files.storage import default_storage
    from django.utils import timezone

    cutoff, removed = timezone.now() - timedelta(days=1), 0
    try:
        _dirs, files = default_storage.listdir("ingest/staging")
    except FileNotFoundError:
        return 0
    for name in files:
        path = f"ingest/staging/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            removed += 1
    return removed
