"""Test settings: PostgreSQL by default (DATABASE_URL overrides), fast hashing, a fixed ledger key."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASE_SESSION_SETTINGS, env, with_session_settings

SECRET_KEY = "test-only-not-secret"  # noqa: S105
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/emergency")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"] = with_session_settings(DATABASES["default"], **DATABASE_SESSION_SETTINGS)
# The read replica, as a mirror of the test database (no second database is created) and read-only
# like a streaming standby. The router is off for the suite: a test that turns it on (the
# `replica_router` fixture of tests/scaleout/test_replica.py) declares `databases=["default",
# "replica"]` and is transactional, so the replica's connection sees committed rows.
DATABASES["replica"] = with_session_settings(DATABASES["default"], default_transaction_read_only="on") | {
    "TEST": {"MIRROR": "default"},
}
DATABASE_ROUTERS = []
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Fixed Ed25519 seed used only by tests (base64 of 32 bytes).
LEDGER_SIGNING_KEY = "dGVzdC1vbmx5LWxlZGdlci1zaWduaW5nLWtleS0zMmI="
# One directory per pytest-xdist worker (PYTEST_XDIST_WORKER is gw0, gw1, …; unset without xdist).
LEDGER_CHECKPOINT_DIR = BASE_DIR / "var" / ("test-ledger-checkpoints-" + env("PYTEST_XDIST_WORKER", default="main"))
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = True  # worker tests switch this off explicitly
# No queue routing in the test process: real-worker tests send everything to a queue of their own
# (CELERY_TASK_DEFAULT_QUEUE, per test) so concurrent runs sharing a broker never take each other's
# messages, and a route would override that. The production routes are checked in
# tests/scaleout/test_task_routes.py and run by real workers in tests/worker/test_queues.py.
CELERY_TASK_ROUTES = None
CELERY_TASK_QUEUES = None
CELERY_TASK_DEFAULT_QUEUE = "celery"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = BASE_DIR / "var" / "test-static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root otherwise
WHITENOISE_USE_FINDERS = True
