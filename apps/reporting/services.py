"""Writes of reporting: request and generate reports, daily schedules, and the archive frozen when
an incident closes (and its verification).

Generation runs outside any long transaction: progress is written as it goes (so a poller sees
it), the files are rendered to storage, and only the final status, hashes, ledger event and
notifications commit together. A failed run leaves the report `failed` with its error, never
half-done files referenced.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.core.db import replica_reads
from apps.core.enqueue import enqueue_on_commit, resume_after
from apps.core.exceptions import AccessDenied, Conflict, ServiceError
from apps.core.scoping import principal_for
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident
from apps.ledger.services import audit_record, audit_record_standalone

from . import content as contents
from .choices import FORMATS, JobStatus, ReportKind, Trigger
from .documents import document_for
from .exports import RENDERERS
from .models import Archive, Report, ReportSchedule, _commanded_q

log = logging.getLogger(__name__)
REQUESTERS = frozenset({"head", "staff"})


def may_request(user, incident: Incident) -> bool:
    """Reports are requested and scheduled by those who receive them: the leading group in charge
    and the incident's commanders (heads and staff). One query."""
    principal = principal_for(user)
    if principal is None:
        return False
    if principal.is_superuser:
        return True
    return Incident.objects.filter(pk=incident.pk).filter(_commanded_q(principal, REQUESTERS, lookup="")).exists()


def _ensure_commands(actor, incident: Incident) -> None:
    """`may_request`, or AccessDenied: 403 for those who see the incident, 404 for the rest."""
    if not may_request(actor, incident):
        visible = Incident.objects.restrict(actor, "view").filter(pk=incident.pk).exists()
        raise AccessDenied(action="request", target=incident, hidden=not visible)


def _leading_departments(incident: Incident) -> set[int]:
    from apps.organizations.models import LeadingGroupSeat

    if incident.leading_group_id:
        return set(
            LeadingGroupSeat.objects.filter(group_id=incident.leading_group_id).values_list("department_id", flat=True)
        )
    return {incident.reporting_department_id}


def _next_number(incident: Incident, kind: str) -> int:
    Incident.objects.select_for_update().filter(pk=incident.pk).first()  # serialise numbering per incident
    top = Report.objects.filter(incident=incident, kind=kind).aggregate(n=Max("number"))["n"]
    return (top or 0) + 1


def _enqueue(report: Report) -> None:
    from .tasks import report_generate_task

    enqueue_on_commit(report_generate_task, report.pk)


@transaction.atomic
def report_request(
    *, actor, incident: Incident, kind: str = ReportKind.SITUATION, idempotency_key: str = "", language: str = ""
) -> Report:
    """Queue a report now (on demand), written in `language` (the requester's; the platform's when
    missing or unknown). The same idempotency key from the same user returns the first report (a
    double click, a retried API call)."""
    _ensure_commands(actor, incident)
    if kind not in ReportKind.values:
        raise ServiceError(_("Unknown report kind."), field="kind")
    if kind == ReportKind.REVIEW and incident.status != IncidentStatus.CLOSED:
        raise ServiceError(_("An after-action review is written once the incident is closed."), code="not_closed")
    if idempotency_key:
        existing = Report.objects.filter(requested_by=actor, idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.incident_id != incident.pk or existing.kind != kind:
                raise Conflict(_("This idempotency key was already used for another report."))
            return existing
    report = Report.objects.create(
        incident=incident,
        kind=kind,
        number=_next_number(incident, kind),
        trigger=Trigger.ON_DEMAND,
        requested_by=actor,
        idempotency_key=idempotency_key[:64],
        language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
    )
    audit_record(
        actor=actor,
        action="report.request",
        target=report,
        region=incident.region,
        after={"kind": kind, "number": report.number, "language": report.language},
    )
    _enqueue(report)
    return report


# --- generation ---------------------------------------------------------------------------------


def _set_progress(report_id: int, progress: int, **extra) -> None:
    Report.objects.filter(pk=report_id).update(progress=min(max(progress, 0), 100), **extra)


def report_generate(*, report_id: int, now: datetime | None = None) -> Report:
    """Build the snapshot, render PDF, Excel and CSV, then mark the report done, ledger it and send
    it to the leading group. Idempotent: a report already done or running elsewhere is left alone.

    The job acts for whoever ordered it (decision 0001, "Celery tasks"): a report requested by a
    user is built only while that user may still request it (`may_request`, asked again here, as
    the job starts); one ordered by a schedule or by the incident's closing acts for the platform."""
    now = now or timezone.now()
    claimed = Report.objects.filter(pk=report_id, status__in=[JobStatus.QUEUED, JobStatus.FAILED]).update(
        status=JobStatus.RUNNING, started_at=now, progress=1, error=""
    )
    report = Report.objects.select_related("incident__region", "requested_by").get(pk=report_id)
    if not claimed:
        return report
    if report.requested_by is not None and not may_request(report.requested_by, report.incident):
        return _refuse_lost_access(report)
    try:
        with translation.override(report.language or settings.LANGUAGE_CODE):
            incident = Incident.objects.select_related("region", "reporting_department", "leading_group").get(
                pk=report.incident_id
            )
            build = contents.review_content if report.kind == ReportKind.REVIEW else contents.situation_content
            with replica_reads():  # a read-only snapshot: the replica may serve it (decision 0014)
                snapshot = build(incident, now)
            _set_progress(report.pk, 20)
            document = document_for(report, snapshot)
            files, hashes = {}, {}
            for step, fmt in enumerate(FORMATS):
                render = RENDERERS[fmt][0]
                buffer = io.BytesIO()
                base = 20 + step * 26

                def progress(done, total, base=base):
                    if total:
                        _set_progress(report.pk, base + int(26 * done / total))

                render(document, buffer, progress=progress)
                data = buffer.getvalue()
                hashes[fmt] = hashlib.sha256(data).hexdigest()
                files[fmt] = ContentFile(data)
                _set_progress(report.pk, base + 26)
        with transaction.atomic():
            report = Report.objects.select_for_update().get(pk=report.pk)
            for fmt, file in files.items():
                getattr(report, fmt).save(
                    f"incident-{incident.pk}-{report.kind}-{report.number}{RENDERERS[fmt][2]}", file, save=False
                )
            report.content = snapshot
            report.hashes = hashes
            report.status = JobStatus.DONE
            report.progress = 100
            report.finished_at = timezone.now()
            report.save()
            audit_record(
                actor=None,
                action="report.generate",
                target=report,
                region=incident.region,
                after={"kind": report.kind, "number": report.number, "sha256": hashes},
            )
            _send(report, incident)
    except Exception as exc:
        log.exception("report %s failed", report_id)
        Report.objects.filter(pk=report_id).update(
            status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:300], finished_at=timezone.now()
        )
        raise
    return report


REQUESTER_LOST_ACCESS = "requester_lost_access"


def _refuse_lost_access(report: Report) -> Report:
    """Fail the job cleanly: its requester may no longer request reports on the incident (left the
    incident's command, moved department, deactivated) since it was queued. Nothing is built or
    sent; the refusal is the job's one ledger event."""
    with transaction.atomic():
        report = Report.objects.select_for_update().select_related("incident__region").get(pk=report.pk)
        with translation.override(report.language or settings.LANGUAGE_CODE):
            report.error = gettext("The person who requested this report may no longer request it.")[:300]
        report.status = JobStatus.FAILED
        report.progress = 0
        report.finished_at = timezone.now()
        report.save(update_fields=["error", "status", "progress", "finished_at"])
        audit_record(
            actor=None,
            action="report.fail",
            target=report,
            region=report.incident.region,
            after={"reason": REQUESTER_LOST_ACCESS, "requested_by": report.requested_by_id},
        )
    return report


def _send(report: Report, incident: Incident) -> None:
    from apps.notifications.services import message_for, notify_bulk

    with translation.override(settings.LANGUAGE_CODE):
        title = gettext("%(kind)s No. %(number)s: %(incident)s") % {
            "kind": report.get_kind_display(),
            "number": report.number,
            "incident": incident.title,
        }
        notify_bulk(
            [
                message_for(
                    department=pk,
                    kind="report.ready",
                    title=title,
                    key=f"report:{report.pk}",
                    target=report,
                    link=f"/reports/{report.pk}/",
                )
                for pk in sorted(_leading_departments(incident))
            ]
        )


# --- schedules ----------------------------------------------------------------------------------


@transaction.atomic
def schedule_set(*, actor, incident: Incident, at_time, active: bool = True) -> ReportSchedule:
    _ensure_commands(actor, incident)
    schedule, created = ReportSchedule.objects.select_for_update().get_or_create(
        incident=incident, defaults={"at_time": at_time, "is_active": active, "created_by": actor}
    )
    before = None if created else {"at_time": schedule.at_time, "is_active": schedule.is_active}
    schedule.at_time, schedule.is_active = at_time, active
    schedule.save()
    audit_record(
        actor=actor,
        action="report.schedule",
        target=schedule,
        region=incident.region,
        before=before,
        after={"at_time": at_time, "is_active": active},
    )
    return schedule


def _slot_for(schedule: ReportSchedule, now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=schedule.at_time.hour, minute=schedule.at_time.minute, second=0, microsecond=0)


def schedules_run(*, now: datetime | None = None) -> int:
    """The beat job: queue today's report for every schedule whose time has come. A slot is queued
    once (a unique constraint on incident, kind and slot); days missed while the beat was down are
    not back-filled, the next report covers them."""
    now = now or timezone.now()
    queued = 0
    due = ReportSchedule.objects.filter(
        is_active=True, incident__status__in=[s for s in IncidentStatus.values if s != IncidentStatus.CLOSED]
    )
    for schedule_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            schedule = (
                ReportSchedule.objects.select_for_update(skip_locked=True)
                .filter(pk=schedule_id)
                .select_related("incident__region")
                .first()
            )
            if schedule is None:
                continue
            slot = _slot_for(schedule, now)
            if now < slot or (schedule.last_slot is not None and schedule.last_slot >= slot):
                continue
            if Report.objects.filter(incident=schedule.incident, kind=ReportKind.SITUATION, slot=slot).exists():
                continue
            report = Report.objects.create(
                incident=schedule.incident,
                kind=ReportKind.SITUATION,
                number=_next_number(schedule.incident, ReportKind.SITUATION),
                trigger=Trigger.SCHEDULE,
                slot=slot,
            )
            schedule.last_slot = slot
            schedule.save(update_fields=["last_slot"])
            audit_record(
                actor=None,
                action="report.request",
                target=report,
                region=schedule.incident.region,
                after={"kind": report.kind, "number": report.number, "slot": slot},
            )
            _enqueue(report)
            queued += 1
    return queued


# --- closing: the after-action review and the archive -------------------------------------------


def incident_closed(incident: Incident) -> None:
    """Called in the closing transaction: queue the after-action review and the archive; the
    worker writes the review first so the archive holds it."""
    from .tasks import incident_close_task

    if Archive.objects.filter(incident=incident).exists():
        return
    Archive.objects.create(incident=incident)
    review = Report.objects.create(
        incident=incident,
        kind=ReportKind.REVIEW,
        number=_next_number(incident, ReportKind.REVIEW),
        trigger=Trigger.CLOSE,
    )
    enqueue_on_commit(incident_close_task, incident.pk, review.pk)


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1, default=str).encode("utf-8")


def _archive_files(incident: Incident) -> dict[str, bytes]:
    """Every file of the archive, by path."""
    from apps.access.masking import Presenter
    from apps.access.models import DataGrant, DataRequest
    from apps.access.rowfilter import to_q
    from apps.core.csv import csv_cell, csv_writer
    from apps.datapool.models import Record
    from apps.incidents.models import SituationReport, TimelineEntry, Warning
    from apps.ledger.models import AuditEvent
    from apps.tasking.models import Task, TaskEvent

    files: dict[str, bytes] = {}
    files["incident.json"] = _json(contents.incident_header(incident))
    files["timeline.json"] = _json(
        list(
            TimelineEntry.objects.filter(incident=incident)
            .order_by("occurred_at", "id")
            .values("occurred_at", "kind", "summary", "actor_name", "target_type", "target_id", "ledger_seq")
        )
    )
    files["situation_reports.json"] = _json(
        list(
            SituationReport.objects.filter(incident=incident)
            .order_by("submitted_at", "id")
            .values(
                "number",
                "kind",
                "department__name",
                "submitted_at",
                "deaths",
                "injured",
                "missing",
                "affected_population",
                "evacuated",
                "resources_deployed",
                "text",
                "due_at",
                "is_late",
                "late_reason",
            )
        )
    )
    tasks = Task.objects.filter(incident=incident)
    files["tasks.json"] = _json(
        {
            "tasks": list(
                tasks.order_by("id").values(
                    "id",
                    "title",
                    "instructions",
                    "priority",
                    "status",
                    "deadline",
                    "department__name",
                    "issuer_department__name",
                    "issued_at",
                    "completed_at",
                    "result",
                )
            ),
            "events": list(
                TaskEvent.objects.filter(task__incident=incident)
                .order_by("at", "id")
                .values(
                    "task_id",
                    "kind",
                    "at",
                    "department__name",
                    "other_department__name",
                    "actor_name",
                    "note",
                    "ledger_seq",
                )
            ),
        }
    )
    files["warnings.json"] = _json(
        list(
            Warning.objects.filter(incident=incident)
            .order_by("id")
            .values("id", "title", "level", "status", "area", "starts_at", "measures")
        )
    )
    grants = list(
        DataGrant.objects.filter(incident=incident).select_related("dataset__standard", "department").order_by("id")
    )
    related = Q(target_type="incidents.incident", target_id=str(incident.pk))
    for label, ids in (
        ("tasking.task", tasks.values_list("pk", flat=True)),
        ("access.datagrant", [g.pk for g in grants]),
        ("access.datarequest", DataRequest.objects.filter(incident=incident).values_list("pk", flat=True)),
        ("incidents.warning", Warning.objects.filter(incident=incident).values_list("pk", flat=True)),
        ("reporting.report", Report.objects.filter(incident=incident).values_list("pk", flat=True)),
    ):
        related |= Q(target_type=label, target_id__in=[str(pk) for pk in ids])
    files["decisions.json"] = _json(
        list(
            AuditEvent.objects.filter(related)
            .order_by("seq")
            .values(
                "seq", "hash", "created_at", "actor_name", "action", "target_type", "target_id", "target_repr", "after"
            )
        )
    )
    for report in Report.objects.filter(incident=incident, status=JobStatus.DONE).order_by("kind", "number"):
        for fmt in ("pdf", "xlsx"):
            stored = getattr(report, fmt)
            if stored:
                with stored.open("rb") as fh:
                    files[f"reports/{report.kind}-{report.number}.{fmt}"] = fh.read()
    for grant in grants:
        present = Presenter(grant.dataset.standard, grant.fields, grant.masked_fields)
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        writer.writerow(present.columns)
        rows = Record.objects.filter(dataset_id=grant.dataset_id).filter(to_q(grant.row_filter)).order_by("id")
        for payload in rows.values_list("payload", flat=True).iterator(chunk_size=2000):
            shown = present(payload)
            writer.writerow([csv_cell(shown.get(c)) for c in present.columns])
        files[f"shared/grant-{grant.pk}.csv"] = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    return files


def _manifest(incident: Incident, files: dict[str, bytes], now: datetime) -> bytes:
    return _json(
        {
            "incident": incident.pk,
            "title": incident.title,
            "frozen_at": now,
            "files": [
                {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                for path, data in sorted(files.items())
            ],
        }
    )


# --- resuming what a lost message left behind -------------------------------------------------------

STALE_QUEUED = timezone.timedelta(minutes=10)
STALE_RUNNING = timezone.timedelta(hours=2)  # longer than the task's hard time limit


def reports_resume(*, now: datetime | None = None) -> int:
    """Publish again the reports and archives a lost message or a vanished worker left behind:
    reports queued for too long (the broker was down when they were requested, or lost the
    message), reports running past the task time limit (their worker died), and archives of
    closed incidents still not frozen. Generation claims a report only while it is queued or
    failed and an archive freezes once, so a report published twice is built once. Beat runs this
    every few minutes; returns how many tasks it published."""
    from .tasks import incident_close_task, report_generate_task

    now = now or timezone.now()
    queued = resume_after("REPORTING_RESUME_QUEUED_SECONDS", STALE_QUEUED)
    running = resume_after("REPORTING_RESUME_RUNNING_SECONDS", STALE_RUNNING)
    Report.objects.filter(status=JobStatus.RUNNING, started_at__lt=now - running).update(status=JobStatus.QUEUED)
    closing = list(
        Archive.objects.filter(status=JobStatus.QUEUED, requested_at__lt=now - queued)
        .order_by("pk")
        .values_list("incident_id", flat=True)[:100]
    )
    reviews = dict(
        Report.objects.filter(incident_id__in=closing, kind=ReportKind.REVIEW, trigger=Trigger.CLOSE)
        .order_by("number")
        .values_list("incident_id", "pk")
    )
    for incident_id in closing:
        if incident_id in reviews:  # the review first, then the archive that holds it
            incident_close_task.delay(incident_id, reviews[incident_id])
    reports = list(
        Report.objects.filter(status=JobStatus.QUEUED)
        .filter(Q(started_at__isnull=True, requested_at__lt=now - queued) | Q(started_at__lt=now - running))
        .exclude(pk__in=list(reviews.values()))
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
    for pk in reports:
        report_generate_task.delay(pk)
    return len(reviews) + len(reports)


def archive_freeze(*, incident_id: int, now: datetime | None = None) -> Archive:
    """Pack the closed incident into one zip with `manifest.json`; the manifest's SHA-256 is the
    root hash, written to the ledger in the same transaction that marks the archive frozen."""
    now = now or timezone.now()
    archive, _created = Archive.objects.get_or_create(incident_id=incident_id)
    if archive.status == JobStatus.DONE:
        return archive
    incident = Incident.objects.select_related("region", "reporting_department", "leading_group").get(pk=incident_id)
    if incident.status != IncidentStatus.CLOSED:
        raise ServiceError(_("Only a closed incident is archived."), code="not_closed")
    try:
        files = _archive_files(incident)
        manifest = _manifest(incident, files, now)
        root = hashlib.sha256(manifest).hexdigest()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            stamp = timezone.localtime(now).timetuple()[:6]
            for path, data in [("manifest.json", manifest), *sorted(files.items())]:
                zf.writestr(zipfile.ZipInfo(path, date_time=stamp), data, compress_type=zipfile.ZIP_DEFLATED)
        with transaction.atomic():
            archive = Archive.objects.select_for_update().get(pk=archive.pk)
            if archive.status == JobStatus.DONE:
                return archive
            archive.file.save(f"incident-{incident.pk}-archive.zip", ContentFile(buffer.getvalue()), save=False)
            archive.size = len(buffer.getvalue())
            archive.root_hash = root
            archive.manifest = json.loads(manifest)
            archive.status = JobStatus.DONE
            archive.frozen_at = now
            archive.error = ""
            event = audit_record(
                actor=None,
                action="archive.freeze",
                target=archive,
                region=incident.region,
                after={"incident": incident.pk, "root_hash": root, "files": len(files) + 1},
            )
            archive.ledger_seq = event.seq
            archive.save()
    except Exception as exc:
        log.exception("archive of incident %s failed", incident_id)
        Archive.objects.filter(pk=archive.pk).update(
            status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:300]
        )
        raise
    return archive


@dataclass
class ArchiveCheck:
    ok: bool = True
    root_hash: str = ""
    ledger_seq: int | None = None
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def archive_verify(fh) -> ArchiveCheck:
    """Check an archive file against its manifest and the manifest against the ledger."""
    from apps.ledger.canonical import chain_hash, event_dict
    from apps.ledger.models import AuditEvent

    result = ArchiveCheck()
    try:
        zf = zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        result.ok = False
        result.problems.append("not a zip archive")
        return result
    with zf:
        names = set(zf.namelist())
        if "manifest.json" not in names:
            result.ok = False
            result.problems.append("manifest.json is missing")
            return result
        manifest_bytes = zf.read("manifest.json")
        result.root_hash = hashlib.sha256(manifest_bytes).hexdigest()
        try:
            manifest = json.loads(manifest_bytes)
            listed = {f["path"]: f["sha256"] for f in manifest["files"]}
        except (ValueError, KeyError, TypeError):
            result.ok = False
            result.problems.append("manifest.json is not a valid manifest")
            return result
        for path, digest in sorted(listed.items()):
            if path not in names:
                result.missing.append(path)
            elif hashlib.sha256(zf.read(path)).hexdigest() != digest:
                result.changed.append(path)
        result.unexpected = sorted(names - set(listed) - {"manifest.json"})
    event = (
        AuditEvent.objects.filter(action="archive.freeze", after__root_hash=result.root_hash).order_by("seq").first()
    )
    if event is None:
        result.problems.append(
            "the manifest's root hash is not in the ledger (manifest.json changed or archive unknown)"
        )
    else:
        result.ledger_seq = event.seq
        previous = AuditEvent.objects.filter(seq=event.seq - 1).values_list("hash", flat=True).first() or ""
        if event.prev_hash != previous and event.seq > 1:
            result.problems.append(f"ledger event #{event.seq} does not link to its predecessor")
        elif chain_hash(event.prev_hash, event_dict(event)) != event.hash:
            result.problems.append(f"ledger event #{event.seq} was altered")
    result.ok = not (result.changed or result.missing or result.unexpected or result.problems)
    return result


def archive_downloaded(*, actor, archive: Archive) -> None:
    """An archive holds shared records: every download is a ledger event."""
    audit_record_standalone(actor=actor, action="archive.download", target=archive, region=archive.incident.region)
