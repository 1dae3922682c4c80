from celery import shared_task

from .services import ledger_checkpoint_write


@shared_task(name="apps.ledger.tasks.ledger_checkpoint_task")
def ledger_checkpoint_task() -> int | None:
    cp = ledger_checkpoint_write()
    return cp.seq if cp else None
