"""Signed checkpoints of the ledger head, written outside the database.

A checkpoint is one JSON line `{seq, hash, at, key_id, sig}` appended to
`settings.LEDGER_CHECKPOINT_DIR/checkpoints.jsonl`, signed with Ed25519. The key comes from
settings (environment), never from the database, so whoever can rewrite the database cannot
forge a checkpoint; a truncated or rewritten chain no longer matches the last checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .canonical import canonical_time


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    key_id: str
    sig: str

    def message(self) -> bytes:
        return f"ledger-checkpoint:v1:{self.seq}:{self.hash}:{self.at}".encode("ascii")


def _private_key() -> Ed25519PrivateKey:
    raw = settings.LEDGER_SIGNING_KEY
    try:
        seed = base64.b64decode(raw, validate=True)
    except (ValueError, TypeError):
        seed = b""
    if len(seed) != 32:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY must be a base64-encoded 32-byte Ed25519 seed.")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key() -> Ed25519PublicKey:
    return _private_key().public_key()


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_path() -> Path:
    return Path(settings.LEDGER_CHECKPOINT_DIR) / "checkpoints.jsonl"


def read_checkpoints(path: Path | None = None) -> list[Checkpoint]:
    path = path or checkpoint_path()
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            out.append(Checkpoint(**{k: data[k] for k in ("seq", "hash", "at", "key_id", "sig")}))
    return out


def sign(seq: int, hash_: str) -> Checkpoint:
    key = _private_key()
    unsigned = Checkpoint(seq=seq, hash=hash_, at=canonical_time(timezone.now()), key_id="", sig="")
    sig = base64.b64encode(key.sign(unsigned.message())).decode()
    return Checkpoint(seq=seq, hash=hash_, at=unsigned.at, key_id=key_id(key.public_key()), sig=sig)


def signature_valid(cp: Checkpoint, key: Ed25519PublicKey | None = None) -> bool:
    key = key or public_key()
    try:
        key.verify(base64.b64decode(cp.sig), cp.message())
    except (InvalidSignature, ValueError):
        return False
    return True


def append(cp: Checkpoint, path: Path | None = None) -> None:
    path = path or checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(cp.__dict__, sort_keys=True) + "\n")
