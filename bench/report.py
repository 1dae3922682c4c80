"""Report benchmark: a consolidated situation report, the after-action review and the archive for
an incident with 100,000 pooled records opened to it and 10,000 tasks, timed step by step.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/report_bench .venv/bin/python bench/report.py

Drops and re-creates the given database (its name must end in 'bench') and migrates it. Seeds
through the services: 200 departments, an incident in a leading group, 10,000 tasks dispatched
in fan-outs of 200 (a third accepted, some declined, a tenth moved past their deadline), a
situation report from 20 departments, a resident dataset of 100,000 records loaded through the
real ingestion path, and a grant on it for the incident (masked ID numbers). Then times, in one
process (no worker, no broker): the snapshot (the report's queries), each renderer (PDF, Excel,
CSV) and the whole `report_generate`; then closes the incident and times the review and `archive_freeze` (which
writes the 100,000 records under the grant's masks into the archive). The Celery hard time limit
the job must fit in is printed with the figures.

`--records` and `--tasks` change the sizes.
"""

import argparse
import io
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/report_bench")

import django  # noqa: E402

from bench.common import ensure_database, resident_dataset  # noqa: E402

FANOUT = 200


class Timer:
    def __init__(self):
        self.rows = []

    def __call__(self, label, fn, *args, **kwargs):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = time.perf_counter() - started
        self.rows.append((label, elapsed))
        print(f"  {label:<48} {elapsed:8.2f} s", flush=True)
        return result


def seed(records: int, tasks: int):
    from django.utils import timezone

    from apps.access import services as access
    from apps.core.permissions import Role
    from apps.incidents import services as incidents
    from apps.organizations.choices import DepartmentType, RegionLevel
    from apps.tasking import services as tasking
    from tests import factories as f

    started = time.perf_counter()
    admin = f.admin_user()
    province = f.region(name="江苏省", code="320000", level=RegionLevel.PROVINCE)
    city = f.region(parent=province, name="南京市", code="320100", level=RegionLevel.CITY)
    county = f.region(parent=city, name="鼓楼区", code="320106", level=RegionLevel.COUNTY)
    emergency = f.department(region=city, type=DepartmentType.EMERGENCY, name="南京市应急管理局")
    head = f.member(emergency, Role.HEAD)
    departments = [
        f.department(region=county if i % 2 else city, type=DepartmentType.FIRE, name=f"消防救援站{i:03d}")
        for i in range(FANOUT)
    ]
    heads = {d.pk: f.member(d, Role.HEAD) for d in departments[:20]}
    inc = incidents.incident_report(
        actor=head,
        department=emergency,
        title="长江南京段特大洪涝灾害",
        category="natural_disaster",
        subtype="flood",
        severity=2,
        place="鼓楼区江堤",
        first_seen_at=timezone.now() - timedelta(hours=12),
    )
    inc = incidents.incident_verify(actor=admin, incident=inc)
    print(f"seed: {FANOUT} departments and the incident in {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    issued = []
    for batch in range(tasks // FANOUT):
        issued += tasking.task_dispatch(
            actor=head,
            issuer_department=emergency,
            departments=departments,
            title=f"第{batch + 1:02d}批：巡堤查险、转移安置、物资保障",
            deadline=timezone.now() + timedelta(hours=batch % 24 + 1),
            instructions="按防汛预案执行并每两小时报告进展。",
            incident=inc,
        )
    for task in issued[: len(issued) // 3]:
        if task.department_id in heads:
            if task.pk % 7 == 0:
                tasking.task_decline(actor=heads[task.department_id], task=task, reason="非本部门职责，请改派")
            else:
                tasking.task_accept(actor=heads[task.department_id], task=task)
    # a tenth of the tasks overdue (a deadline in the past cannot be issued: moved back afterwards)
    from apps.tasking.models import Task

    Task.objects.filter(pk__in=[t.pk for t in issued[::10]]).update(deadline=timezone.now() - timedelta(hours=1))
    print(f"seed: {len(issued)} tasks in {time.perf_counter() - started:.1f} s", flush=True)

    from apps.organizations.models import Department

    for dept_id, user in heads.items():
        incidents.report_submit(
            actor=user,
            incident=inc,
            department=Department.objects.get(pk=dept_id),
            kind="initial",
            text="辖区内江堤巡查完毕，发现管涌两处，已处置，转移群众一百二十人。",
            evacuated=120,
            affected_population=3000,
            late_reason="通信中断，迟报",
        )

    started = time.perf_counter()
    police = f.department(region=city, type=DepartmentType.PUBLIC_SECURITY, name="南京市公安局")
    dataset, job, police_head = resident_dataset(police, records)
    print(f"seed: {job.rows_accepted} records loaded in {time.perf_counter() - started:.1f} s", flush=True)
    request = access.request_create(
        actor=f.member(emergency, Role.STEWARD),
        department=emergency,
        dataset=dataset,
        fields=["name", "age", "gender", "address"],
        masked_fields=["id_number", "phone"],
        purpose="洪涝转移安置核查",
        legal_basis="《突发事件应对法》",
        duration_hours=72,
        incident=inc,
    )
    access.request_decide(actor=police_head, request=request, decision="approve")
    return inc, head


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    args = parser.parse_args()

    django.setup()

    ensure_database()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from config.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"

    from django.db import connection

    from apps.incidents import services as incidents
    from apps.incidents.choices import IncidentStatus
    from apps.reporting import content, documents, services
    from apps.reporting.exports import RENDERERS
    from apps.reporting.models import Archive, Report

    inc, head = seed(args.records, args.tasks)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(f"machine: {os.cpu_count()} cores, PostgreSQL {version}, Python {sys.version.split()[0]}")
    print(f"Celery limits: soft {settings.CELERY_TASK_SOFT_TIME_LIMIT} s, hard {settings.CELERY_TASK_TIME_LIMIT} s")
    timer = Timer()
    print(f"consolidated report ({args.records:,} records opened, {args.tasks:,} tasks):")
    report = services.report_request(actor=head, incident=inc)  # queued; the broker is memory://
    snapshot = timer("snapshot (queries)", content.situation_content, inc)
    document = documents.document_for(report, snapshot)
    sizes = {}
    for fmt in ("pdf", "xlsx", "csv"):
        buffer = io.BytesIO()
        timer(f"render {fmt}", RENDERERS[fmt][0], document, buffer)
        sizes[fmt] = len(buffer.getvalue())
    print("  sizes: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    timer("report_generate (all of the above + storage, ledger)", services.report_generate, report_id=report.pk)
    if Report.objects.get(pk=report.pk).status != "done":
        raise SystemExit("the report did not finish")

    print("closing the incident:")
    inc = incidents.incident_set_status(actor=head, incident=inc, status=IncidentStatus.RESPONDING)
    inc = incidents.incident_set_status(actor=head, incident=inc, status=IncidentStatus.CLOSED)
    review = Report.objects.get(incident=inc, kind="review")
    timer("after-action review (report_generate)", services.report_generate, report_id=review.pk)
    archive = timer("archive_freeze", services.archive_freeze, incident_id=inc.pk)
    archive = Archive.objects.get(pk=archive.pk)
    files = len(archive.manifest["files"])
    print(f"  archive: {archive.size / 1e6:.1f} MB, {files} files, root {archive.root_hash[:16]}…")
    with archive.file.open("rb") as fh:
        data = fh.read()
    check = timer("archive_verify", services.archive_verify, io.BytesIO(data))
    if not check.ok:
        raise SystemExit(f"the archive does not verify: {check}")
    worst = max(seconds for _label, seconds in timer.rows)
    print(f"slowest step {worst:.1f} s against the hard limit of {settings.CELERY_TASK_TIME_LIMIT} s")


if __name__ == "__main__":
    main()
