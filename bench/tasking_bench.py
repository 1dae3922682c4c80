"""Tasking benchmarks: fan-out dispatch to 10/100/500 departments, and the escalation beat job
over 10,000 open tasks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/emergency_tasking_bench .venv/bin/python bench/tasking_bench.py

Drops and re-creates the given database, migrates it, fills it, and prints one line per figure.
Numbers go to docs/benchmarks.md with the command above; they are not asserted by tests.

Celery publishes to kombu's in-memory transport (never eagerly): a commit's notification-relay
nudge costs one real publish, and no delivery task runs inside the measured time.
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/emergency_tasking_bench")

import django  # noqa: E402

from bench.common import ensure_database  # noqa: E402

FAN_OUT_SIZES = (10, 100, 500)
FAN_OUT_REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
OPEN_TASKS = int(os.environ.get("BENCH_OPEN_TASKS", "10000"))


def measure(fn):
    """(seconds, queries, result) of `fn()`, run in autocommit like a request (commit included)."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
    return elapsed, count, result


def main() -> None:
    django.setup()
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apps.core.permissions import Role
    from apps.tasking import services
    from apps.tasking.choices import ACK_REMINDER_MINUTES, ESCALATE_GROUP_AFTER_MINUTES, Priority
    from apps.tasking.models import Task
    from config.celery import app
    from tests import factories as f

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"

    province = f.region(name="江苏省")
    city = f.region(parent=province, name="南京市")
    issuer = f.department(region=city, type="emergency", name="南京市应急管理局")
    head_pk = f.member(issuer, Role.HEAD).pk
    targets = [f.department(region=city, type="community", name=f"街道{i:03d}") for i in range(max(FAN_OUT_SIZES))]
    User = get_user_model()

    # Fan-out: one request dispatching the same task to n departments (a fresh user per request, as
    # in a web request, so the principal is loaded each time).
    for n in FAN_OUT_SIZES:
        timings, queries = [], set()
        for _ in range(FAN_OUT_REPEATS):
            actor = User.objects.get(pk=head_pk)
            elapsed, count, tasks = measure(
                lambda actor=actor, n=n: services.task_dispatch(
                    actor=actor,
                    issuer_department=issuer,
                    departments=targets[:n],
                    title="排查辖区内危旧房屋",
                    deadline=timezone.now() + timedelta(hours=4),
                )
            )
            if len(tasks) != n:
                raise SystemExit(f"dispatched {len(tasks)} tasks, expected {n}")
            timings.append(elapsed * 1000)
            queries.add(count)
        print(
            f"fan-out dispatch to {n} departments: median {statistics.median(timings):.1f} ms,"
            f" max {max(timings):.1f} ms, queries {sorted(queries)}"
        )
    Task.objects.all().delete()

    # Escalation over OPEN_TASKS open tasks, all issued at T (normal priority, deadline T + 4 h).
    actor = User.objects.get(pk=head_pk)
    t = timezone.now().replace(microsecond=0) - timedelta(days=1)
    deadline = t + timedelta(hours=4)
    for start in range(0, OPEN_TASKS, len(targets)):
        services.task_dispatch(
            actor=actor,
            issuer_department=issuer,
            departments=targets[: min(len(targets), OPEN_TASKS - start)],
            title="核查转移安置点",
            deadline=deadline,
            now=t,
        )
    n_open = Task.objects.count()
    remind = t + timedelta(minutes=ACK_REMINDER_MINUTES[Priority.NORMAL])
    overdue = deadline + timedelta(minutes=ESCALATE_GROUP_AFTER_MINUTES[Priority.NORMAL])
    runs = [
        ("nothing due (1 minute after issue)", t + timedelta(minutes=1)),
        ("every reminder due", remind),
        ("re-run, reminders already sent", remind),
        ("every head and group escalation due", overdue),
        ("re-run, every step already taken", overdue),
    ]
    for label, now in runs:
        elapsed, count, steps = measure(lambda now=now: services.tasks_escalate(now=now))
        taken = sum(steps.values())
        rate = f", {taken / elapsed:.0f} steps/s" if taken else ""
        print(
            f"tasks_escalate over {n_open} open tasks, {label}: {elapsed:.2f} s, {count} queries, {taken} steps{rate}"
        )


if __name__ == "__main__":
    main()
