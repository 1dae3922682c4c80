"""The canonical form of a ledger event. Frozen: golden vectors in tests/ledger/test_canonical.py.

Changing anything here breaks every existing chain; add a new version instead.
"""

import hashlib
import json
from datetime import UTC, datetime

CANONICAL_VERSION = 1
CANONICAL_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "actor_name",
    "region_path",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "before",
    "after",
    "request_id",
)


def canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(event: dict) -> bytes:
    """UTF-8 JSON, keys sorted, no whitespace, non-ASCII kept: one byte string per event."""
    body = {name: event[name] for name in CANONICAL_FIELDS}
    body["v"] = CANONICAL_VERSION
    if isinstance(body["created_at"], datetime):
        body["created_at"] = canonical_time(body["created_at"])
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(prev_hash: str, event: dict) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(event)).hexdigest()


def event_dict(row) -> dict:
    """The canonical fields of a stored AuditEvent row."""
    return {
        "seq": row.seq,
        "created_at": row.created_at,
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "region_path": row.region_path,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "target_repr": row.target_repr,
        "before": row.before,
        "after": row.after,
        "request_id": row.request_id,
    }
