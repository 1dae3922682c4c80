"""scripts/restore_drill.py against real PostgreSQL: pg_dump of this test's (committed) database,
pg_restore into a scratch database, migrate --check, verify_ledger against a copy of the signed
checkpoints. An intact backup verifies and names the events it lacks; a backup whose chain differs
from what was signed is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from apps.ledger import checkpoints
from apps.ledger.models import LedgerHead
from apps.ledger.services import ledger_checkpoint_write
from tests.factories import region

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def database_url(name: str) -> str:
    sd = connection.settings_dict
    auth = quote(sd["USER"] or "", safe="") + (":" + quote(sd["PASSWORD"], safe="") if sd["PASSWORD"] else "")
    port = f":{sd['PORT']}" if sd["PORT"] else ""
    return f"postgres://{auth}@{sd['HOST'] or '127.0.0.1'}{port}/{name}"


def drill(checkpoint_file: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    name = connection.settings_dict["NAME"]
    assert name.startswith("test_")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    return subprocess.run(
        [
            sys.executable,
            "scripts/restore_drill.py",
            "--from-url",
            database_url(name),
            "--checkpoints",
            str(checkpoint_file),
            "--scratch-url",
            database_url(f"{name}_drill"),
            "--workdir",
            str(tmp_path / "drill"),
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def ledger(settings, tmp_path):
    """Committed events, a signed checkpoint of them, then one more event."""
    settings.LEDGER_CHECKPOINT_DIR = tmp_path / "checkpoints"
    region()
    region()
    first = ledger_checkpoint_write()
    region()
    return checkpoints.checkpoint_path(), first


def test_a_backup_restores_verifies_against_the_checkpoints_it_reaches_and_names_what_it_lacks(ledger, tmp_path):
    checkpoint_file, first = ledger
    head = LedgerHead.objects.get(id=1).seq
    assert first.seq < head
    # the live platform went on after the backup: a checkpoint of a later head exists
    checkpoints.append(checkpoints.sign(head + 5, "f" * 64), checkpoint_file)

    out = drill(checkpoint_file, tmp_path)

    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Ledger OK: {head} events, 1 checkpoints verified." in out.stdout
    assert f"ledger head            #{head}" in out.stdout
    assert f"checkpoints beyond it  1 (#{head + 5}..#{head + 5}): events #{head + 1}..#{head + 5} existed" in out.stdout
    assert "result                 OK" in out.stdout


def test_a_backup_whose_chain_differs_from_the_signed_checkpoints_is_refused(ledger, tmp_path):
    checkpoint_file, first = ledger
    # a checkpoint signed over another hash at a seq the backup holds: the chain was rewritten
    forged = checkpoints.sign(first.seq, "0" * 64)
    checkpoint_file.write_text("", encoding="utf-8")
    checkpoints.append(forged, checkpoint_file)

    out = drill(checkpoint_file, tmp_path)

    assert out.returncode == 1
    assert f"Ledger BROKEN at seq {first.seq}" in out.stdout + out.stderr
    assert "result                 BROKEN" in out.stdout
