"""Writing to the ledger. Call `audit_record` inside the service's transaction, after the change."""

from __future__ import annotations

import datetime
import decimal
import uuid

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from apps.core.context import current_request_id

from .canonical import chain_hash
from .models import AuditEvent, LedgerHead


def _plain(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Model):
        return value.pk
    return str(value)


def snapshot(obj, fields) -> dict:
    """A JSON-safe before/after picture of `fields` of `obj` (foreign keys by id)."""
    data = {}
    for name in fields:
        field = obj._meta.get_field(name)
        attname = getattr(field, "attname", name)
        data[name] = _plain(getattr(obj, attname))
    return data


def _region_of(target, region):
    if region is not None:
        return region
    for attr in ("region", "department"):
        value = getattr(target, attr, None) if target is not None else None
        if value is None:
            continue
        if attr == "department":
            return value.region
        return value
    if target is not None and target._meta.label_lower == "organizations.region":
        return target
    return None


def audit_record(
    *,
    actor,
    action: str,
    target=None,
    before: dict | None = None,
    after: dict | None = None,
    region=None,
    target_repr: str | None = None,
) -> AuditEvent:
    """Append one event to the chain. Must run inside the caller's transaction: the event and the
    change commit together or not at all. Serialised by a row lock on the ledger head."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError("audit_record must be called inside the service's transaction")
    head, _ = LedgerHead.objects.select_for_update().get_or_create(id=1)
    region = _region_of(target, region)
    actor_obj = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    event = {
        "seq": head.seq + 1,
        "created_at": timezone.now(),
        "actor_id": actor_obj.pk if actor_obj else None,
        "actor_name": actor_obj.get_username() if actor_obj else "",
        "region_path": region.path if region is not None else "",
        "action": action,
        "target_type": target._meta.label_lower if target is not None else "",
        "target_id": str(target.pk) if target is not None and target.pk is not None else "",
        "target_repr": (target_repr if target_repr is not None else (str(target) if target is not None else ""))[:200],
        "before": _plain(before),
        "after": _plain(after),
        "request_id": current_request_id(),
    }
    digest = chain_hash(head.hash, event)
    row = AuditEvent.objects.create(
        region=region,
        prev_hash=head.hash,
        hash=digest,
        **{k: v for k, v in event.items() if k != "actor_id"},
        actor=actor_obj,
    )
    head.seq, head.hash = event["seq"], digest
    head.save(update_fields=["seq", "hash"])
    return row


def audit_record_standalone(**kwargs) -> AuditEvent:
    """Record an event that is not part of a change (a login, a denial) in its own transaction."""
    with transaction.atomic():
        return audit_record(**kwargs)


def ledger_checkpoint_write():
    """Sign the current head and append it to the checkpoint file, unless nothing changed."""
    from . import checkpoints

    head = LedgerHead.objects.filter(id=1).first()
    if head is None or head.seq == 0:
        return None
    existing = checkpoints.read_checkpoints()
    if existing and existing[-1].seq == head.seq:
        return None
    cp = checkpoints.sign(head.seq, head.hash)
    checkpoints.append(cp)
    return cp
