"""Test settings: PostgreSQL by default (DATABASE_URL overrides), fast hashing, a fixed ledger key."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

SECRET_KEY = "test-only-not-secret"  # noqa: S105
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/emergency")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Fixed Ed25519 seed used only by tests (base64 of 32 bytes).
LEDGER_SIGNING_KEY = "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLWtleS0zMmI="
LEDGER_CHECKPOINT_DIR = BASE_DIR / "var" / "test-ledger-checkpoints"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = True  # worker tests switch this off explicitly
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = BASE_DIR / "var" / "test-static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root otherwise
WHITENOISE_USE_FINDERS = True
