"""Reporting-clock benchmark: the `clocks_check` beat job over the initial-report clocks of many
open incidents (each county's report starts a clock for the county, its city and its province).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/emergency_clocks_bench .venv/bin/python bench/clocks_bench.py

Drops and re-creates the given database, migrates it (which seeds the default reporting rules),
fills it, and prints one line per figure. `BENCH_INCIDENTS` (default 2000) sets the size. Numbers
go to docs/benchmarks.md with the command above; they are not asserted by tests. Celery publishes
to kombu's in-memory transport: each step's notification-relay nudge is one real publish.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/emergency_clocks_bench")

import django  # noqa: E402

from bench.common import ensure_database  # noqa: E402
from bench.tasking_bench import measure  # noqa: E402

INCIDENTS = int(os.environ.get("BENCH_INCIDENTS", "2000"))
COUNTIES = 50


def main() -> None:
    django.setup()
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from django.utils import timezone

    from apps.core.permissions import Role
    from apps.incidents import services
    from apps.incidents.choices import Category, Severity, Subtype
    from apps.incidents.models import ReportingClock
    from config.celery import app
    from tests import factories as f

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"

    province = f.region(name="江苏省")
    city = f.region(parent=province, name="南京市")
    f.department(region=province, type="emergency", name="江苏省应急管理厅")
    f.department(region=city, type="emergency", name="南京市应急管理局")
    reporters = []
    for i in range(COUNTIES):
        county = f.region(parent=city, name=f"县{i:03d}")
        department = f.department(region=county, type="emergency", name=f"县{i:03d}应急管理局")
        reporters.append((department, f.member(department, Role.HEAD)))

    # every incident first seen at T, severity III (the seeded rule: 8 h statutory, county 2 h, city 3 h)
    t = timezone.now().replace(microsecond=0) - timedelta(days=2)
    for n in range(INCIDENTS):
        department, head = reporters[n % COUNTIES]
        services.incident_report(
            actor=head,
            department=department,
            title=f"内涝 {n}",
            category=Category.NATURAL_DISASTER,
            subtype=Subtype.FLOOD,
            severity=Severity.III,
            place="低洼地段",
            first_seen_at=t,
            now=t,
        )
    clocks = ReportingClock.objects.count()
    latest_due = max(ReportingClock.objects.values_list("due_at", flat=True))
    runs = [
        ("nothing due (1 minute after the sighting)", t + timedelta(minutes=1)),
        ("every step up to the region above due", latest_due + timedelta(days=1) - timedelta(minutes=1)),
        ("re-run, every step already taken", latest_due + timedelta(days=1)),
    ]
    for label, now in runs:
        elapsed, count, steps = measure(lambda now=now: services.clocks_check(now=now))
        taken = sum(steps.values())
        rate = f", {taken / elapsed:.0f} steps/s" if taken else ""
        print(
            f"clocks_check over {clocks} open clocks of {INCIDENTS} incidents, {label}:"
            f" {elapsed:.2f} s, {count} queries, {taken} steps{rate}"
        )


if __name__ == "__main__":
    main()
