"""The production queues and routes (config/settings/base.py) under a per-test prefix.

`tests/worker/test_queues.py` runs workers on the real routing table; the prefix keeps a run's
queues apart from any other run on the same broker (RabbitMQ's `/` vhost is shared). Used by the
test process and by its workers' settings (`queues_worker_settings`), so both route alike.
"""

from __future__ import annotations

from kombu import Exchange, Queue

from config.settings import base


def prefixed_routing(prefix: str) -> dict:
    """task_queues, task_default_queue and task_routes of production, every queue renamed `prefix + name`."""
    return {
        "task_queues": tuple(
            Queue(prefix + q.name, Exchange(prefix + q.name), routing_key=prefix + q.routing_key)
            for q in base.CELERY_TASK_QUEUES
        ),
        "task_default_queue": prefix + base.CELERY_TASK_DEFAULT_QUEUE,
        "task_routes": {
            pattern: route | {"queue": prefix + route["queue"]} for pattern, route in base.CELERY_TASK_ROUTES.items()
        },
    }
