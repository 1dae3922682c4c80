"""Foundation benchmarks: ledger append rate, ledger verification rate, scoped list latency.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/emergency_bench .venv/bin/python bench/foundation_bench.py

Creates (or reuses) the given database, migrates it, fills it, and prints one line per figure.
Numbers go to docs/benchmarks.md with the command above; they are not asserted by tests.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/emergency_bench")

import django  # noqa: E402

from bench.common import ensure_database  # noqa: E402


def main() -> None:
    django.setup()
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.core.permissions import Role
    from apps.ledger.selectors import ledger_verify
    from apps.ledger.services import audit_record_standalone
    from apps.organizations.models import Department
    from tests import factories as f

    n_events = int(os.environ.get("BENCH_EVENTS", "20000"))
    payload = {"title": "长江南京段水位超警戒", "level": "II", "regions": ["320100", "340500"]}
    start = time.perf_counter()
    for i in range(n_events):
        audit_record_standalone(actor=None, action="bench.event", after=payload | {"i": i})
    elapsed = time.perf_counter() - start
    print(
        f"ledger append (one transaction each): {n_events} events in {elapsed:.2f}s = {n_events / elapsed:.0f} events/s"
    )

    start = time.perf_counter()
    result = ledger_verify()
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"ledger does not verify: {result.reason}")
    print(f"ledger verify: {result.events} events in {elapsed:.2f}s = {result.events / elapsed:.0f} events/s")

    # Scoped list: a city staff member's department list among many regions and departments.
    provinces = [f.region() for _ in range(10)]
    cities = [f.region(parent=p) for p in provinces for _ in range(10)]
    for city in cities:
        for _ in range(20):
            f.department(region=city)
    user = f.member(Department.objects.filter(region=cities[0]).first(), Role.STAFF)
    timings = []
    for _ in range(50):
        user = type(user).objects.get(pk=user.pk)  # fresh principal each time, as per request
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            rows = list(Department.objects.restrict(user, "view").select_related("region")[:50])
        timings.append((time.perf_counter() - start) * 1000)
    total = Department.objects.count()
    median, p95 = statistics.median(timings), sorted(timings)[int(len(timings) * 0.95)]
    print(
        f"scoped department list ({total} departments, {len(rows)} visible): median {median:.2f} ms,"
        f" p95 {p95:.2f} ms, {len(ctx.captured_queries)} queries"
    )


if __name__ == "__main__":
    main()
