"""Embedded default for `make run`: SQLite file, in-process tasks, debug on, a local key file."""

import secrets

from .base import *  # noqa: F403
from .base import STORAGES, VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "staticfiles").mkdir(exist_ok=True)  # whitenoise serves from finders in DEBUG; keep it quiet


def _local_secret(name: str, make) -> str:
    """A per-machine secret kept in var/ (never in the repository or the database)."""
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _new_ed25519_key() -> str:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or _local_secret("secret-key", lambda: secrets.token_urlsafe(50))
LEDGER_SIGNING_KEY = env("LEDGER_SIGNING_KEY", default="") or _local_secret("ledger-signing-key", _new_ed25519_key)
# `make run` writes e-mail to files under var/mail instead of trying an SMTP server.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
STORAGES = STORAGES | {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# In-process tasks would log one INFO line per task run (the demo runs hundreds): keep the console
# for what matters in `make run`.
LOGGING["loggers"] |= {"celery.app.trace": {"level": "WARNING"}, "kombu.connection": {"level": "ERROR"}}  # noqa: F405
