"""The Celery application. Tasks are interfaces: they take primitive IDs and call a service."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("emergency")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
