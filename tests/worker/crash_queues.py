"""The production queue routing (config/settings/base.py), on queues of one test run's own.

The crash, poison and broker-down tests run their workers the way production does: one queue per
kind of work (dispatch, ingest, reports), each task routed by its name. On a broker other runs
share (one RabbitMQ virtual host for every helper and CI job on a machine), each run prefixes
every queue name, so no run takes another's messages. The worker settings
(`crash_worker_settings`) and the test process (`crash_harness.publishing_to`) both route with
the plan from here, and the workers consume every queue of it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueuePlan:
    routes: dict  # task-name pattern -> {"queue": prefixed name}
    default_queue: str
    queues: tuple[str, ...]  # every queue a worker must consume


def queue_plan(prefix: str) -> QueuePlan:
    from config.settings import base  # the production routes (the test settings switch them off)

    def name(queue: str) -> str:
        return f"{prefix}-{queue}"

    routes = {
        pattern: dict(route) | {"queue": name(route["queue"])}
        for pattern, route in (getattr(base, "CELERY_TASK_ROUTES", None) or {}).items()
    }
    default = name(getattr(base, "CELERY_TASK_DEFAULT_QUEUE", None) or "celery")
    declared = [getattr(q, "name", q) for q in getattr(base, "CELERY_TASK_QUEUES", None) or ()]
    queues = {default} | {route["queue"] for route in routes.values()} | {name(q) for q in declared}
    return QueuePlan(routes=routes, default_queue=default, queues=tuple(sorted(queues)))
