"""Settings for the real Celery worker that `test_real_worker` starts as a subprocess.

The test settings, plus what only the test process knows and hands over through the environment:
the test database (DATABASE_URL, read by the test settings), the broker (CELERY_BROKER_URL) and a
per-test checkpoint directory (the test settings hard-code LEDGER_CHECKPOINT_DIR).
"""

from pathlib import Path

from config.settings.test import *  # noqa: F403
from config.settings.test import env

LEDGER_CHECKPOINT_DIR = Path(env("LEDGER_CHECKPOINT_DIR"))
# A worker never runs tasks eagerly; the test settings' eager default is for the test process.
CELERY_TASK_ALWAYS_EAGER = False
# No pidbox queue per run: nothing controls this worker remotely, and on Redis every pidbox
# binding would be left behind in the broker database after the worker stops.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
# Messages the worker's own services publish (the outbox relay nudge) go to this test's queue,
# not to a default queue nothing consumes.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TEST_QUEUE", default="celery")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
