"""The ledger checkpoint task, published to a real broker and run by a real worker process.

Everything else in the suite runs Celery eagerly; this proves the wiring eager mode hides: task
discovery by name, serialisation through the broker, the worker's own Django setup and database
connection, and the worker seeing rows the web process committed.
"""

import pytest

from apps.ledger.checkpoints import key_id, public_key, read_checkpoints, signature_valid
from apps.ledger.models import LedgerHead
from apps.ledger.tasks import ledger_checkpoint_task
from tests.factories import region

pytestmark = pytest.mark.worker


def _complete_checkpoints(path):
    try:
        return read_checkpoints(path)
    except (ValueError, KeyError):  # a line caught mid-write; poll again
        return None


# Transactional: the worker has its own connection and sees only committed rows.
@pytest.mark.django_db(transaction=True)
def test_worker_signs_committed_ledger_head(real_worker, settings, tmp_path):
    # Given: committed ledger events, and a test process that would write elsewhere if it ran the task itself
    settings.LEDGER_CHECKPOINT_DIR = tmp_path / "test-process-checkpoints"
    region()
    region()
    head = LedgerHead.objects.get(id=1)
    assert head.seq >= 2

    # When: the task goes through the broker
    result = real_worker.send(ledger_checkpoint_task)

    # Then: the worker wrote one signed checkpoint of exactly the committed head
    checkpoints = real_worker.wait_for(
        lambda: _complete_checkpoints(real_worker.checkpoint_path), timeout=30, what="checkpoint from the worker"
    )
    assert len(checkpoints) == 1
    cp = checkpoints[0]
    assert (cp.seq, cp.hash) == (head.seq, head.hash)
    assert cp.key_id == key_id(public_key())
    assert signature_valid(cp)
    real_worker.wait_for(
        lambda: f"ledger_checkpoint_task[{result.id}] succeeded" in real_worker.log(),
        timeout=10,
        what=f"'succeeded' log line for task {result.id}",
    )
    assert not settings.LEDGER_CHECKPOINT_DIR.exists(), "the task ran in the test process, not the worker"
