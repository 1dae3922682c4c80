"""Reading and verifying the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """
    result = VerifyResult(ok=True)
    saved = sorted(checkpoints.read_checkpoints(checkpoint_file), key=lambda c: c.seq)
    wanted = {cp.seq for cp in saved}
    expected_seq, prev = 1, GENESIS_HASH
    hashes: dict[int, str] = {}  # only the hashes the checkpoints need, not the whole chain
    for row in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
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

    head = LedgerHead.objects.filter(id=1).first()
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
