"""Settings for the worker processes of `test_notification_delivery_kill`.

The real-worker settings (test settings, the test database and broker from the environment, never
eager), plus:
- an e-mail backend that records each message in a table of the test database through the
  worker's own connection, inside the delivery's transaction, and every send attempt in a file;
- a queue of the test's own as the default queue, so what the worker publishes (the relay's
  delivery tasks) comes back to it and to nobody else;
- an embedded beat that runs only the outbox relay, every second;
- short recovery times: the outbox publishes a job again after 8 s without completion, and Redis
  hands a killed worker's unacknowledged messages out again after 10 s (RabbitMQ does that as
  soon as the connection drops).
"""

from tests.worker.worker_settings import *  # noqa: F403
from tests.worker.worker_settings import CELERY_BEAT_SCHEDULE, env

EMAIL_BACKEND = "tests.worker.notif_mail_backend.RecordingBackend"
NOTIF_SEND_LOG = env("NOTIF_SEND_LOG")
NOTIF_SEND_DELAY = env.float("NOTIF_SEND_DELAY", default=0.01)  # seconds: an SMTP round trip

CELERY_TASK_DEFAULT_QUEUE = env("NOTIF_QUEUE")
CELERY_BEAT_SCHEDULER = "celery.beat:PersistentScheduler"
CELERY_BEAT_SCHEDULE = {
    "notification-outbox-relay": CELERY_BEAT_SCHEDULE["notification-outbox-relay"] | {"schedule": 1.0},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 10,
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
NOTIFICATIONS_OUTBOX_STALE_SECONDS = 8
NOTIFICATIONS_OUTBOX_MAX_PUBLISHES = 50
