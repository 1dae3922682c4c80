"""Settings for the worker and beat processes of the crash, poison and broker-down tests and of
scripts/crash_test.py.

The real-worker settings (test settings; the database, broker and checkpoint directory from the
environment; never eager), plus:
- production's queue routing on queues of this run's own (`crash_queues.queue_plan`);
- the recording e-mail backend of the notification kill test (each e-mail a row written inside
  the delivery's transaction, each attempt a line in a send log);
- uploads on disk in a directory the test process shares (CRASH_MEDIA);
- the test-only tasks (the poison task);
- beat runs the two recovery jobs only: the outbox relay every two seconds, the data pool's
  `jobs_resume` every five;
- short recovery times: Redis hands a dead worker's unacknowledged messages out again after 10 s
  (RabbitMQ as soon as the connection drops); the outbox publishes a job again after 60 s without
  completion, and `jobs_resume` runs a load again that has been queued or running for 60 s and
  links a load not linked 60 s after it finished (production: 15 min; 10 min, 2 h, 10 min).
  Those last two are for messages the broker lost (Redis loses those a killed worker had popped
  but not recorded yet). Much shorter, and a backlog on two busy cores makes open work look lost:
  it is published again, the backlog grows, and most runs become duplicates (harmless, but the
  work never drains); scripts/crash_test.py sets them to 300 s for its larger backlog.
"""

from tests.worker.crash_queues import queue_plan
from tests.worker.worker_settings import *  # noqa: F403
from tests.worker.worker_settings import CELERY_BEAT_SCHEDULE, env

_plan = queue_plan(env("CRASH_QUEUE_PREFIX"))
CELERY_TASK_ROUTES = _plan.routes
CELERY_TASK_DEFAULT_QUEUE = _plan.default_queue
CELERY_TASK_QUEUES = None  # declared on first use (task_create_missing_queues)
CELERY_IMPORTS = ["tests.worker.crash_tasks"]
CRASH_POISON_LOG = env("CRASH_POISON_LOG", default="/dev/null")

EMAIL_BACKEND = "tests.worker.notif_mail_backend.RecordingBackend"
NOTIF_SEND_LOG = env("NOTIF_SEND_LOG")
NOTIF_SEND_DELAY = env.float("NOTIF_SEND_DELAY", default=0.01)  # seconds: an SMTP round trip

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": env("CRASH_MEDIA")}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

CELERY_BEAT_SCHEDULER = "celery.beat:PersistentScheduler"
CELERY_BEAT_SCHEDULE = {
    "notification-outbox-relay": CELERY_BEAT_SCHEDULE["notification-outbox-relay"] | {"schedule": 2.0},
    "datapool-jobs-resume": CELERY_BEAT_SCHEDULE["datapool-jobs-resume"] | {"schedule": 5.0},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 10,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
NOTIFICATIONS_OUTBOX_STALE_SECONDS = env.int("CRASH_STALE_SECONDS", default=60)
DATAPOOL_RESUME_QUEUED_SECONDS = DATAPOOL_RESUME_RUNNING_SECONDS = NOTIFICATIONS_OUTBOX_STALE_SECONDS
NOTIFICATIONS_OUTBOX_MAX_PUBLISHES = 50
