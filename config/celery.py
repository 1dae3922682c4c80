"""The Celery application. Tasks are interfaces: they take primitive IDs and call a service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Every task counts the deliveries of messages whose worker died and dead-letters a message that
# keeps killing workers (apps/core/task_base.py, docs/decisions/0013-dead-letters.md).
app = Celery("emergency", task_cls="apps.core.task_base:DeliveryLimitedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
