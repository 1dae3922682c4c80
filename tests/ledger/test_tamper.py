"""Tampering with the stored chain is caught by ledger_verify, at the exact first bad seq.

Each case edits the table with raw SQL while the append-only triggers are disabled inside the
test's own transaction (DDL is transactional in PostgreSQL, so the rollback re-arms them).
"""

import base64
import json
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apps.core.permissions import Role
from apps.ledger import checkpoints
from apps.ledger.canonical import chain_hash
from apps.ledger.models import GENESIS_HASH, AuditEvent, LedgerHead
from apps.ledger.selectors import ledger_verify
from apps.ledger.services import ledger_checkpoint_write
from apps.organizations import services
from tests import factories as f

pytestmark = pytest.mark.django_db

N = 10


@contextmanager
def tampering():
    """Disable the append-only triggers for the block. The deferred foreign-key checks of the rows
    written so far must fire first: PostgreSQL refuses ALTER TABLE with pending trigger events."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE ledger_auditevent DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE ledger_auditevent ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def chain():
    """Ten events written by the organisation services, then one signed checkpoint at #10."""
    admin = f.admin_user()
    province = f.region(name="河北省")  # 1 region.create
    city = f.region(parent=province, name="石家庄市")  # 2 region.create
    dept = f.department(region=city, name="石家庄市应急管理局")  # 3 department.create
    other = f.department(region=city, name="石家庄市消防救援支队")  # 4 department.create
    staff = f.member(dept, role=Role.STAFF)  # 5 membership.add
    head = f.member(dept, role=Role.HEAD)  # 6 membership.add
    services.department_update(actor=head, department=dept, data={"contact_phone": "0311-12345"})  # 7
    services.region_update(actor=admin, region=city, name="石家庄")  # 8 region.update
    f.department(region=province, name="河北省应急管理厅")  # 9 department.create
    f.member(other, role=Role.STAFF)  # 10 membership.add
    assert LedgerHead.objects.get(id=1).seq == N
    cp = ledger_checkpoint_write()
    assert cp is not None and cp.seq == N
    assert ledger_verify().ok
    return {"admin": admin, "staff": staff, "head": head, "checkpoint": cp}


def assert_broken_at(seq: int, *words: str):
    result = ledger_verify()
    assert result.ok is False
    assert result.first_bad_seq == seq, result.reason
    for word in words:
        assert word in result.reason
    return result


def test_untouched_chain_verifies_with_all_events_and_one_checkpoint(chain):
    result = ledger_verify()
    assert result.ok is True
    assert (result.events, result.checkpoints, result.first_bad_seq) == (N, 1, None)


def test_changed_byte_in_target_repr_of_event_5_is_caught_at_5(chain):
    original = AuditEvent.objects.get(seq=5).target_repr
    assert original and not original.startswith("X")
    with tampering() as cursor:
        cursor.execute("UPDATE ledger_auditevent SET target_repr = 'X' || substr(target_repr, 2) WHERE seq = 5")
    assert AuditEvent.objects.get(seq=5).target_repr == "X" + original[1:]
    assert_broken_at(5, "altered")


@pytest.mark.parametrize("columns", ["actor_id", "actor_name", "both"])
def test_changed_actor_of_event_4_is_caught_at_4(chain, columns):
    impostor = chain["staff"]
    assert AuditEvent.objects.get(seq=4).actor_id == chain["admin"].pk
    sets, params = [], []
    if columns in ("actor_id", "both"):
        sets.append("actor_id = %s")
        params.append(impostor.pk)
    if columns in ("actor_name", "both"):
        sets.append("actor_name = %s")
        params.append(impostor.username)
    with tampering() as cursor:
        cursor.execute(f"UPDATE ledger_auditevent SET {', '.join(sets)} WHERE seq = 4", params)  # noqa: S608
    assert_broken_at(4, "altered")


def test_deleted_middle_row_is_caught_at_its_seq(chain):
    with tampering() as cursor:
        cursor.execute("DELETE FROM ledger_auditevent WHERE seq = 6")
    assert_broken_at(6, "missing")


def test_reordered_rows_are_caught_at_the_first_moved_seq(chain):
    with tampering() as cursor:  # seq is UNIQUE: swap 3 and 7 through a temporary value
        cursor.execute("UPDATE ledger_auditevent SET seq = -3 WHERE seq = 3")
        cursor.execute("UPDATE ledger_auditevent SET seq = 3 WHERE seq = 7")
        cursor.execute("UPDATE ledger_auditevent SET seq = 7 WHERE seq = -3")
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, N + 1))
    assert_broken_at(3, "link")


def test_truncated_tail_is_caught_by_the_ledger_head_at_the_first_missing_seq(chain):
    with tampering() as cursor:
        cursor.execute("DELETE FROM ledger_auditevent WHERE seq >= 8")
    assert LedgerHead.objects.get(id=1).seq == N
    assert_broken_at(8, "removed")


def test_truncated_tail_with_rewound_head_is_caught_by_the_checkpoint_at_8(chain):
    with tampering() as cursor:
        cursor.execute("DELETE FROM ledger_auditevent WHERE seq >= 8")
    last = AuditEvent.objects.get(seq=7)
    LedgerHead.objects.filter(id=1).update(seq=7, hash=last.hash)
    result = assert_broken_at(8, "checkpoint")
    assert result.events == 7


def _rewrite_chain(length: int) -> str:
    """Replace every row with a fully consistent but different chain; return its last hash."""
    with tampering() as cursor:
        cursor.execute("DELETE FROM ledger_auditevent")
    prev = GENESIS_HASH
    for seq in range(1, length + 1):
        event = {
            "seq": seq,
            "created_at": timezone.now(),
            "actor_id": None,
            "actor_name": "",
            "region_path": "",
            "action": "forged.event",
            "target_type": "",
            "target_id": "",
            "target_repr": f"伪造 {seq}",
            "before": None,
            "after": {"n": seq},
            "request_id": "",
        }
        digest = chain_hash(prev, event)
        AuditEvent.objects.create(prev_hash=prev, hash=digest, **{k: v for k, v in event.items() if k != "actor_id"})
        prev = digest
    LedgerHead.objects.filter(id=1).update(seq=length, hash=prev)
    return prev


def test_wholly_rewritten_chain_replays_cleanly_but_is_caught_at_the_checkpoint_seq(chain):
    _rewrite_chain(N)
    result = assert_broken_at(chain["checkpoint"].seq, "rewritten")
    assert result.events == N  # the replay alone found nothing wrong


def test_rewritten_chain_with_a_rewritten_checkpoint_hash_fails_the_signature(chain):
    forged_hash = _rewrite_chain(N)
    path = checkpoints.checkpoint_path()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["hash"] = forged_hash
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    assert_broken_at(N, "signature")


def test_checkpoint_with_a_bad_signature_is_caught(chain):
    path = checkpoints.checkpoint_path()
    data = json.loads(path.read_text(encoding="utf-8"))
    sig = bytearray(base64.b64decode(data["sig"]))
    sig[0] ^= 0x01
    data["sig"] = base64.b64encode(bytes(sig)).decode()
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    assert_broken_at(chain["checkpoint"].seq, "signature")


def test_verify_ledger_command_prints_ledger_ok_for_a_clean_chain(chain):
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "Ledger OK" in out.getvalue()
    assert f"{N} events, 1 checkpoints" in out.getvalue()


def test_verify_ledger_command_raises_command_error_naming_seq_5_for_a_tampered_chain(chain):
    with tampering() as cursor:
        cursor.execute("UPDATE ledger_auditevent SET target_repr = target_repr || '!' WHERE seq = 5")
    with pytest.raises(CommandError, match=r"Ledger BROKEN at seq 5\b"):
        call_command("verify_ledger", stdout=StringIO())


def test_a_forged_tail_event_written_after_the_last_checkpoint_is_caught_by_the_head():
    """Events after the last checkpoint: a replaced, correctly chained last event no longer matches the head."""
    for i in range(8):
        f.region(name=f"区域{i}")
    head = LedgerHead.objects.get(id=1)
    last = AuditEvent.objects.get(seq=head.seq)
    forged = {
        "seq": last.seq,
        "created_at": last.created_at,
        "actor_id": None,
        "actor_name": "",
        "region_path": "",
        "action": "region.create",
        "target_type": "",
        "target_id": "",
        "target_repr": "伪造",
        "before": None,
        "after": None,
        "request_id": "",
    }
    with tampering() as cursor:
        cursor.execute(
            "UPDATE ledger_auditevent SET target_repr = %s, actor_id = NULL, actor_name = '', region_path = '',"
            " region_id = NULL, target_type = '', target_id = '', after = NULL, request_id = '', hash = %s"
            " WHERE seq = %s",
            ["伪造", chain_hash(last.prev_hash, forged), last.seq],
        )
    assert_broken_at(last.seq, "ledger head")
