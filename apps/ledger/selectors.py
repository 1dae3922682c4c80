"""Reading and verifying the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import QuerySet

from . import checkpoints
from .canonical import chain_hash, event_dict
from .models import GENESIS_HASH, AuditEvent


def audit_event_list(*, user) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.restrict(user, "view").select_related("region")


@dataclass
class VerifyResult:
    ok: bool
    events: int = 0
    checkpoints: int = 0
    first_bad_seq: int | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)


def ledger_verify(*, checkpoint_file=None) -> VerifyResult:
    """Replay the chain from the genesis hash and compare it with the signed checkpoints.

    Replay catches changed bytes, changed actors, deleted middle rows and reordered rows; the
    checkpoints catch a truncated tail and a wholly rewritten chain. Reports the first bad seq.

    Reads the primary, in one snapshot (REPEATABLE READ on PostgreSQL): on a live platform, events
    appended while it runs are not a head ahead of the chain it read, nor missing from it.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:  # the caller's transaction is the view
        return _ledger_verify(checkpoint_file=checkpoint_file)
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _ledger_verify(checkpoint_file=checkpoint_file)


def _ledger_verify(*, checkpoint_file=None) -> VerifyResult:
    result = VerifyResult(ok=True)
    saved = sorted(checkpoints.read_checkpoints(checkpoint_file), key=lambda c: c.seq)
    wanted = {cp.seq for cp in saved}
    expected_seq, prev = 1, GENESIS_HASH
    hashes: dict[int, str] = {}  # only the hashes the checkpoints need, not the whole chain
    # always the primary, whatever scope the caller is in (apps.core.db): a replica may lag behind
    for row in AuditEvent.objects.using(DEFAULT_DB_ALIAS).order_by("seq").iterator(chunk_size=2000):
        if row.seq != expected_seq:
            return _bad(result, expected_seq, f"event #{expected_seq} is missing (next stored is #{row.seq})")
        if row.prev_hash != prev:
            return _bad(result, row.seq, f"event #{row.seq} does not link to the previous event")
        if chain_hash(prev, event_dict(row)) != row.hash:
            return _bad(result, row.seq, f"event #{row.seq} was altered (hash mismatch)")
        if row.seq in wanted:
            hashes[row.seq] = row.hash
        prev = row.hash
        expected_seq += 1
        result.events += 1
    last_seq = expected_seq - 1

    from .models import LedgerHead

    head = LedgerHead.objects.using(DEFAULT_DB_ALIAS).filter(id=1).first()
    if head is not None and head.seq > last_seq:
        return _bad(result, last_seq + 1, f"events #{last_seq + 1}..#{head.seq} were removed from the tail")
    if last_seq and head is None:
        return _bad(result, last_seq, "the ledger head is missing")
    if head is not None and last_seq and (head.seq, head.hash) != (last_seq, prev):
        return _bad(result, min(head.seq, last_seq) or 1, "the last event does not match the ledger head")

    try:
        key = checkpoints.public_key()
    except Exception as exc:  # noqa: BLE001 - a misconfigured key is reported, not raised
        result.problems.append(f"checkpoint key unavailable: {exc}")
        key = None
    for cp in saved:
        if key is None or not checkpoints.signature_valid(cp, key):
            return _bad(result, cp.seq, f"checkpoint at #{cp.seq} has a bad signature")
        if cp.seq > last_seq:
            return _bad(result, last_seq + 1, f"checkpoint at #{cp.seq} is beyond the last event #{last_seq}")
        if hashes.get(cp.seq) != cp.hash:
            return _bad(result, cp.seq, f"event #{cp.seq} differs from its signed checkpoint (chain rewritten)")
        result.checkpoints += 1
    return result


def _bad(result: VerifyResult, seq: int, reason: str) -> VerifyResult:
    result.ok = False
    result.first_bad_seq = seq
    result.reason = reason
    return result
