"""Consolidated situation reports, daily schedules, after-action reviews and archives, through the
services (generation runs in-process here; tests/worker/test_report_worker.py runs it on a real
worker)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook
from pypdf import PdfReader

from apps.access import services as access
from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.incidents import services as incidents
from apps.incidents.choices import IncidentStatus
from apps.ledger.models import AuditEvent
from apps.notifications.models import Notification
from apps.reporting import services
from apps.reporting.choices import JobStatus, ReportKind
from apps.reporting.models import Archive, Report
from apps.tasking import services as tasking
from tests.access.world import access_world
from tests.access.world import incident as access_incident
from tests.factories import admin_user
from tests.incidents.world import SHANGHAI, build_world, commander, report_incident

pytestmark = pytest.mark.django_db


def _pdf_text(report: Report) -> str:
    with report.pdf.open("rb") as fh:
        # table cells wrap long names over lines: compare without line breaks
        return "".join(page.extract_text() for page in PdfReader(io.BytesIO(fh.read())).pages).replace("\n", "")


def _incident_with_work(w):
    inc = report_incident(w, first_seen_at=datetime.now(SHANGHAI) - timedelta(hours=3), now=datetime.now(SHANGHAI))
    inc = incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.VERIFIED)
    incidents.report_submit(
        actor=w.user(w.em_a1),
        incident=inc,
        department=w.em_a1,
        kind="initial",
        text="江堤出现管涌，已转移群众一百二十人",
        deaths=1,
        evacuated=120,
        late_reason="通信中断，迟报",
    )
    tasks = tasking.task_dispatch(
        actor=w.user(w.em_a1, Role.HEAD),
        issuer_department=w.em_a1,
        departments=[w.fire_a1, w.health_a1],
        title="巡堤查险",
        deadline=datetime.now(SHANGHAI) + timedelta(hours=2),
        incident=inc,
    )
    by_dept = {t.department_id: t for t in tasks}
    tasking.task_accept(actor=w.user(w.fire_a1, Role.HEAD), task=by_dept[w.fire_a1.pk])
    tasking.task_decline(actor=w.user(w.health_a1, Role.HEAD), task=by_dept[w.health_a1.pk], reason="非本部门职责")
    return inc


def test_a_consolidated_report_merges_reports_tasks_and_data_into_three_files(django_capture_on_commit_callbacks):
    w = build_world()
    inc = _incident_with_work(w)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.report_request(actor=commander(w), incident=inc)
    report.refresh_from_db()
    assert (report.status, report.progress, report.number) == (JobStatus.DONE, 100, 1)
    content = report.content
    assert content["figures"]["evacuated"] == 120 and content["figures"]["deaths"] == 1
    assert content["task_totals"]["total"] == 2
    assert {d["department"] for d in content["tasks_by_department"]} == {w.fire_a1.name, w.health_a1.name}

    text = _pdf_text(report)
    for expected in (inc.title, "巡堤查险", w.fire_a1.name, "江堤出现管涌"):
        assert expected in text
    with report.xlsx.open("rb") as fh:
        workbook = load_workbook(io.BytesIO(fh.read()), read_only=True)
        cells = {str(c) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row if c}
    assert "巡堤查险" in cells
    with report.csv.open("rb") as fh:
        assert "巡堤查险" in fh.read().decode("utf-8-sig")

    # each file's hash is in the ledger event that marks the report done
    event = AuditEvent.objects.get(action="report.generate", target_id=str(report.pk))
    assert event.after["sha256"] == report.hashes and set(report.hashes) == {"pdf", "xlsx", "csv"}
    # sent to the incident's commanders (no leading group in charge: the reporting department)
    assert Notification.objects.filter(kind="report.ready", target_id=str(report.pk)).exists()

    second = services.report_request(actor=commander(w), incident=inc)
    assert second.number == 2


def test_only_those_who_command_the_incident_request_or_read_its_reports(django_capture_on_commit_callbacks):
    w = build_world()
    inc = _incident_with_work(w)
    stranger = w.user(w.fire_b1, Role.HEAD)  # another province, outside the leading group's view of A2
    with pytest.raises(AccessDenied):
        services.report_request(actor=stranger, incident=inc)
    with django_capture_on_commit_callbacks(execute=True):
        report = services.report_request(actor=commander(w), incident=inc, idempotency_key="k-1")
    assert services.report_request(actor=commander(w), incident=inc, idempotency_key="k-1").pk == report.pk
    assert Report.objects.restrict(commander(w)).filter(pk=report.pk).exists()
    assert not Report.objects.restrict(stranger).filter(pk=report.pk).exists()
    with pytest.raises(ServiceError):  # a review waits for the incident to close
        services.report_request(actor=commander(w), incident=inc, kind=ReportKind.REVIEW)


def test_a_daily_schedule_fires_once_per_day_at_its_time():
    w = build_world()
    inc = _incident_with_work(w)
    services.schedule_set(actor=commander(w), incident=inc, at_time=datetime(2026, 1, 1, 8, 0).time())
    day = datetime(2026, 11, 24, tzinfo=SHANGHAI)
    assert services.schedules_run(now=day.replace(hour=7, minute=59)) == 0
    assert services.schedules_run(now=day.replace(hour=8, minute=1)) == 1
    assert services.schedules_run(now=day.replace(hour=9)) == 0  # the beat runs every minute: once only
    assert services.schedules_run(now=(day + timedelta(days=1)).replace(hour=8, minute=0)) == 1
    slots = sorted(Report.objects.filter(incident=inc).values_list("slot", flat=True))
    assert [s.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for s in slots] == ["11-24 08:00", "11-25 08:00"]


def _close(w, inc, capture):
    inc = incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.RESPONDING)
    with capture(execute=True):
        return incidents.incident_set_status(actor=commander(w), incident=inc, status=IncidentStatus.CLOSED)


def _archive_bytes(archive: Archive) -> bytes:
    with archive.file.open("rb") as fh:
        return fh.read()


def _rewrite(data: bytes, path: str, new: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, new if info.filename == path else src.read(info.filename))
    return out.getvalue()


def test_closing_writes_the_review_then_freezes_a_verifiable_archive(django_capture_on_commit_callbacks, tmp_path):
    w = build_world()
    inc = _close(w, _incident_with_work(w), django_capture_on_commit_callbacks)

    review = Report.objects.get(incident=inc, kind=ReportKind.REVIEW)
    assert review.status == JobStatus.DONE
    milestones = {i["milestone"]: i for i in review.content["intervals"]}
    assert milestones["first_report"]["at"] and milestones["verified"]["at"] and milestones["first_task_accepted"]["at"]
    assert [m["kind"] for m in review.content["task_moves"]] == ["declined"]
    assert {s["department"] for s in review.content["scorecard"]} >= {w.fire_a1.name, w.health_a1.name}
    assert "非本部门职责" in _pdf_text(review)

    archive = Archive.objects.get(incident=inc)
    assert archive.status == JobStatus.DONE and len(archive.root_hash) == 64
    event = AuditEvent.objects.get(action="archive.freeze")
    assert event.after["root_hash"] == archive.root_hash and archive.ledger_seq == event.seq
    data = _archive_bytes(archive)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
    assert {"manifest.json", "incident.json", "timeline.json", "tasks.json", "decisions.json"} <= names
    assert f"reports/review-{review.number}.pdf" in names

    clean = services.archive_verify(io.BytesIO(data))
    assert clean.ok and clean.ledger_seq == event.seq

    tampered = services.archive_verify(io.BytesIO(_rewrite(data, "timeline.json", b"[]")))
    assert not tampered.ok and tampered.changed == ["timeline.json"]

    # the command names the changed file and fails; the clean file passes
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(data)
    bad.write_bytes(_rewrite(data, "tasks.json", b"{}"))
    call_command("verify_archive", str(good))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_archive", str(bad), stderr=err)
    assert "tasks.json" in err.getvalue()

    # a rewritten manifest (hashes made to match) is caught by the ledger
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = zf.read("manifest.json").replace(b'"title"', b'"title" ', 1)
    forged = services.archive_verify(io.BytesIO(_rewrite(data, "manifest.json", manifest)))
    assert not forged.ok and any("ledger" in p for p in forged.problems)

    # closing again is impossible, and freezing again changes nothing
    assert services.archive_freeze(incident_id=inc.pk).root_hash == archive.root_hash


def test_the_archive_holds_shared_records_under_the_grants_masks(django_capture_on_commit_callbacks):
    a = access_world(rows=12)
    inc = access_incident(a)
    request = access.request_create(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=["name", "age"],
        masked_fields=["id_number"],
        purpose="核查洪涝转移人员",
        legal_basis="《突发事件应对法》",
        duration_hours=72,
        incident=inc,
    )
    access.request_decide(actor=a.pool.head, request=request, decision="approve", second_factor=True)
    access.request_decide(actor=a.office_head, request=request, decision="approve", second_factor=True)
    inc = incidents.incident_set_status(actor=admin_user(), incident=inc, status=IncidentStatus.RESPONDING)
    with django_capture_on_commit_callbacks(execute=True):
        incidents.incident_set_status(actor=admin_user(), incident=inc, status=IncidentStatus.CLOSED)
    archive = Archive.objects.get(incident=inc)
    with zipfile.ZipFile(io.BytesIO(_archive_bytes(archive))) as zf:
        shared = [n for n in zf.namelist() if n.startswith("shared/")]
        assert len(shared) == 1
        text = zf.read(shared[0]).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].split(",") == ["id_number", "name", "age"]
    assert len(lines) == 13
    for line in lines[1:]:
        id_number = line.split(",")[0]
        assert re.fullmatch(r"\d\*{16}\w", id_number), id_number  # masked like 3****************X
    assert "phone" not in lines[0]
