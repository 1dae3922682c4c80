"""The test process publishing to a broker that is down (nothing listens on port 1)."""

from __future__ import annotations

import contextlib
import os

from config.celery import app


@contextlib.contextmanager
def broker_unreachable():
    """The test process publishes to a broker nothing listens on, as if it were down at commit time."""
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url")}
    pools = (app._pool, app.amqp._producer_pool)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    # Celery reads CELERY_BROKER_URL from the environment before its own setting (CI sets it)
    env_url = os.environ.pop("CELERY_BROKER_URL", None)
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        if env_url is not None:
            os.environ["CELERY_BROKER_URL"] = env_url
        app.conf.update(saved)
        app._pool, app.amqp._producer_pool = pools
