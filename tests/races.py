"""Shared helpers for race tests on PostgreSQL: threads with their own connections, released together."""

from __future__ import annotations

import threading

from django.contrib.auth import get_user_model
from django.db import connection

from apps.core.scoping import principal_for

JOIN_TIMEOUT = 60


def run_together(n: int, act, prepare=lambda i: None):
    """Run `act(i, prepared)` in `n` threads released together; return ("ok", value) or ("error", exc)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def thread(i):
        try:
            prepared = prepare(i)
            barrier.wait(timeout=30)
            results[i] = ("ok", act(i, prepared))
        except BaseException as exc:  # reported to the test, never swallowed
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=thread, args=(i,), name=f"race-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a racing thread hung (deadlock?)"
    return results


def fresh_user(pk):
    user = get_user_model().objects.get(pk=pk)
    principal_for(user)  # load the Principal before the barrier: the race is the write, not the read
    return user
