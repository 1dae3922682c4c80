"""Publishing a task after the caller's transaction commits, without failing the caller when the
broker is down.

A request that has committed a job row (a load, a report, a sync, the outbox) must not answer with
an error page because the broker is unreachable at that moment: the row is safe, and a beat sweep
publishes it later (`outbox_relay`, `jobs_resume`, `reports_resume`). So the publish fails within a
moment instead of kombu's connect timeout and is logged, not raised. In eager mode (`make run`, no
broker) the task runs in-process as before and its errors propagate.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

logger = logging.getLogger(__name__)

# Errors that mean "the broker is unreachable" when publishing (kombu wraps most of them).
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuOperationalError, OSError)
try:  # pragma: no cover - both transports are installed here, but neither is required
    import redis.exceptions

    BROKER_ERRORS += (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
except ImportError:  # pragma: no cover
    pass
try:  # pragma: no cover
    import amqp.exceptions

    BROKER_ERRORS += (amqp.exceptions.ConnectionError,)
except ImportError:  # pragma: no cover
    pass


def connect_quickly(producer) -> None:
    """Fail within a moment when the broker is down. Left alone, kombu keeps trying for the whole
    connect timeout (about 6 s here), which a request that has already committed should not wait."""
    producer.connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)


def publish_quietly(task, *args) -> bool:
    """Publish `task(*args)` now. False when the broker could not take it (logged; a sweep
    publishes it later). Eager mode runs it in-process and lets its errors through."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        task.apply_async(args)
        return True
    try:
        with current_app.producer_or_acquire() as producer:
            connect_quickly(producer)
            task.apply_async(args, retry=False, producer=producer)
    except BROKER_ERRORS as exc:
        logger.warning("%s%r not published (%s); a sweep publishes it later", task.name, args, exc)
        return False
    except Exception:  # the caller's change is committed: never turn it into an error page
        logger.exception("%s%r not published; a sweep publishes it later", task.name, args)
        return False
    return True


def enqueue_on_commit(task, *args) -> None:
    """Publish `task(*args)` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_quietly(task, *args))


def resume_after(setting: str, default: timedelta) -> timedelta:
    """How long a job may wait before a resume sweep publishes it again: the `setting` in seconds
    when there is one (the crash tests shorten it), else `default`."""
    seconds = getattr(settings, setting, None)
    return timedelta(seconds=seconds) if seconds else default
