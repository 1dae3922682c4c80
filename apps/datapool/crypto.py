"""Encryption of stored secrets (the connection strings of database-sync sources).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`; MultiFernet lets keys rotate: the first
key of DATAPOOL_ENCRYPTION_KEYS encrypts, every key decrypts, and `manage.py
datapool_rotate_keys` re-encrypts stored values under the first key.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    keys = list(getattr(settings, "DATAPOOL_ENCRYPTION_KEYS", []) or [])
    if not keys:  # development and tests only: production refuses to start without keys
        derived = hashlib.sha256(("datapool:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("the stored secret cannot be decrypted with the configured keys") from None


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()
