import pytest


@pytest.fixture(autouse=True)
def _checkpoint_dir(settings, tmp_path):
    """Every ledger test signs into its own empty checkpoint file, never the shared var/ one."""
    settings.LEDGER_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return settings.LEDGER_CHECKPOINT_DIR
