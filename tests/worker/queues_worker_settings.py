"""Settings for the workers of `test_queues`: the real-worker settings with the production queues
and routes under the test's prefix (so what a worker publishes is routed as in production), and
file storage on disk shared with the test process."""

from tests.worker.queue_routing import prefixed_routing
from tests.worker.worker_settings import *  # noqa: F403
from tests.worker.worker_settings import env

_routing = prefixed_routing(env("QUEUE_TEST_PREFIX"))
CELERY_TASK_QUEUES = _routing["task_queues"]
CELERY_TASK_DEFAULT_QUEUE = _routing["task_default_queue"]
CELERY_TASK_ROUTES = _routing["task_routes"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env("QUEUE_TEST_MEDIA")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
