"""Writes of the data pool. Each public function authorises, locks, checks, writes and records a
ledger event in one transaction (house style); long loads run in Celery through `ingestion_run`.

The four aggregation channels (数据汇聚) all end in one place, `ingestion_run`: a file upload,
an API batch, a database sync and a share each become an `IngestionJob` whose rows go through the
same compiled standard and the same bulk loader, and commit together with the job's final state.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile

import orjson
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.enqueue import enqueue_on_commit, resume_after
from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.scoping import authorize
from apps.ledger.services import audit_record
from apps.organizations.models import Department, Region

from .choices import Channel, Classification, JobStatus, SourceFormat, SourceKind, UpdateFrequency
from .errors import LoadError
from .loader import Loader
from .models import ColumnMapping, Dataset, DatasetUse, DataStandard, IngestionJob, Tag
from .quality import quality_measure
from .readers import open_source
from .standards import compiled

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
DATASET_FIELDS = ("title", "description", "source_kind", "classification", "update_frequency")


# --- catalog ---


def _check_dataset_fields(fields: dict) -> None:
    if "title" in fields and not str(fields["title"]).strip():
        raise ServiceError(_("Give the dataset a title."), field="title")
    choices = {"source_kind": SourceKind, "classification": Classification, "update_frequency": UpdateFrequency}
    for name, enum in choices.items():
        if name in fields and fields[name] not in enum.values:
            raise ServiceError(_("Unknown value."), field=name)


@transaction.atomic
def dataset_create(
    *,
    actor,
    owner: Department,
    standard: DataStandard,
    title: str,
    description: str = "",
    source_kind: str = SourceKind.DEPARTMENT,
    classification: str = Classification.INTERNAL,
    update_frequency: str = UpdateFrequency.DAILY,
    tags=(),
    leading_group=None,
) -> Dataset:
    """Register a dataset of `owner` in the catalog (its records arrive through the channels)."""
    authorize(actor, "publish_dataset", owner)
    authorize(actor, "view", standard)
    fields = {
        "title": title.strip(),
        "description": description,
        "source_kind": source_kind,
        "classification": classification,
        "update_frequency": update_frequency,
    }
    _check_dataset_fields(fields)
    if leading_group is not None and not leading_group.seats.filter(department=owner).exists():
        raise ServiceError(_("The owner must sit in that leading group."), field="leading_group")
    if Dataset.objects.filter(owner=owner, title=fields["title"]).exists():
        raise ServiceError(_("This department already has a dataset with that title."), field="title")
    dataset = Dataset.objects.create(
        owner=owner, standard=standard, leading_group=leading_group, created_by=actor, **fields
    )
    if tags:
        dataset.tags.set(tags)
    from apps.access.services import demand_suggest_for

    # 匹配供求: tell the open demands it fits (robust: a failed notice never fails the publication)
    transaction.on_commit(lambda: demand_suggest_for(dataset), robust=True)
    audit_record(
        actor=actor,
        action="dataset.create",
        target=dataset,
        after={
            **fields,
            "standard": standard.pk,
            "tags": [t.code for t in tags],
            "leading_group": getattr(leading_group, "pk", None),
        },
    )
    return dataset


@transaction.atomic
def dataset_update(*, actor, dataset: Dataset, tags=None, **changes) -> Dataset:
    authorize(actor, "manage", dataset)
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    unknown = set(changes) - set(DATASET_FIELDS)
    if unknown:
        raise ServiceError(
            _("These fields cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    if "title" in changes:
        changes["title"] = str(changes["title"]).strip()
    _check_dataset_fields(changes)
    if (
        "title" in changes
        and Dataset.objects.filter(owner=dataset.owner, title=changes["title"]).exclude(pk=dataset.pk).exists()
    ):
        raise ServiceError(_("This department already has a dataset with that title."), field="title")
    before = {k: getattr(dataset, k) for k in changes}
    for key, value in changes.items():
        setattr(dataset, key, value)
    dataset.save(update_fields=list(changes) or None)
    after = dict(changes)
    if tags is not None:
        before["tags"] = sorted(dataset.tags.values_list("code", flat=True))
        dataset.tags.set(tags)
        after["tags"] = sorted(t.code for t in tags)
    audit_record(actor=actor, action="dataset.update", target=dataset, before=before, after=after)
    return dataset


# --- mappings (extraction 提取) ---


def mapping_guess(standard: DataStandard, header: list[str]) -> dict[str, str]:
    """Field -> column by name, Chinese label or English label (case and spaces ignored)."""

    def norm(text):
        return "".join(str(text).split()).casefold()

    by_name = {norm(h): h for h in header}
    guess = {}
    for f in standard.fields:
        for candidate in (f["name"], f.get("label", ""), f.get("label_en", "")):
            if candidate and norm(candidate) in by_name:
                guess[f["name"]] = by_name[norm(candidate)]
                break
    return guess


def _clean_columns(standard: DataStandard, columns: dict) -> dict[str, str]:
    if not isinstance(columns, dict):
        raise ServiceError(_("The mapping must map fields to columns."), field="columns")
    names = set(standard.field_names)
    unknown = sorted(set(columns) - names)
    if unknown:
        raise ServiceError(
            _("Not fields of the standard: %(fields)s") % {"fields": ", ".join(unknown)}, field="columns"
        )
    cleaned = {k: str(v).strip() for k, v in columns.items() if v not in (None, "") and str(v).strip()}
    return cleaned


@transaction.atomic
def mapping_save(*, actor, dataset: Dataset, name: str, columns: dict) -> ColumnMapping:
    authorize(actor, "manage", dataset)
    name = name.strip()
    if not name:
        raise ServiceError(_("Give the mapping a name."), field="name")
    cleaned = _clean_columns(dataset.standard, columns)
    mapping, created = ColumnMapping.objects.update_or_create(
        dataset=dataset, name=name, defaults={"columns": cleaned, "created_by": actor}
    )
    audit_record(
        actor=actor,
        action="dataset.mapping_save",
        target=dataset,
        target_repr=str(dataset),
        after={"name": name, "columns": cleaned},
    )
    return mapping


# --- submitting loads ---


def _hash_file(fileobj) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        sha.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return sha.hexdigest(), size


def _submitted_columns(job: IngestionJob) -> dict:
    """The mapping as submitted ({} = guess from the header), not as resolved by the run."""
    options = job.options if isinstance(job.options, dict) else {}
    return options.get("submitted_columns", job.columns)


def _previous_load(dataset: Dataset, sha256: str, columns: dict) -> IngestionJob | None:
    """An earlier successful load of the same bytes with the same submitted mapping."""
    for job in IngestionJob.objects.filter(dataset=dataset, sha256=sha256, status=JobStatus.SUCCEEDED).exclude(
        options__has_key="duplicate_of"
    ):
        if _submitted_columns(job) == columns:
            return job
    return None


def _replayed(dataset: Dataset, channel: str, key: str) -> IngestionJob | None:
    if not key:
        return None
    # Serialise submissions of the same key until commit. Not by locking the dataset row: a running
    # load of the dataset holds it, and an API batch would wait for the whole load.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{dataset.pk}:{channel}:{key}"])
    else:
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
    return IngestionJob.objects.filter(dataset=dataset, channel=channel, idempotency_key=key).first()


def _enqueue(job: IngestionJob) -> None:
    from .tasks import ingestion_run_task

    enqueue_on_commit(ingestion_run_task, job.pk)


@transaction.atomic
def ingestion_submit_file(
    *,
    actor,
    dataset: Dataset,
    upload,
    columns: dict | None = None,
    mapping: ColumnMapping | None = None,
    save_mapping_as: str = "",
    idempotency_key: str = "",
) -> IngestionJob:
    """Collection (数据采集): store an uploaded CSV/Excel/JSON-lines file and queue its load.

    The same file with the same mapping, loaded before, returns the earlier job (a re-run adds
    nothing). The file is stored through Django's storage API (object storage can replace disk).
    """
    authorize(actor, "manage", dataset)
    earlier = _replayed(dataset, Channel.UPLOAD, idempotency_key)
    if earlier:
        return earlier
    if mapping is not None:
        authorize(actor, "view", mapping)
        if mapping.dataset_id != dataset.pk:
            raise ServiceError(_("That mapping belongs to another dataset."), field="mapping")
        columns = dict(mapping.columns)
    columns = _clean_columns(dataset.standard, columns or {})
    sha256, size = _hash_file(upload)
    from django.conf import settings

    limit = settings.DATAPOOL_MAX_UPLOAD_MB
    if size > limit * 1024 * 1024:
        raise ServiceError(
            _("The file is larger than the limit of %(limit)s MB.") % {"limit": limit},
            field="file",
            code="file_too_large",
        )
    if size == 0:
        raise ServiceError(_("The file is empty."), field="file")
    if save_mapping_as.strip() and columns:
        mapping = mapping_save(actor=actor, dataset=dataset, name=save_mapping_as, columns=columns)
    previous = _previous_load(dataset, sha256, columns)
    if previous is not None:
        return previous
    name = os.path.basename(getattr(upload, "name", "") or "upload")[:255]
    job = IngestionJob.objects.create(
        dataset=dataset,
        channel=Channel.UPLOAD,
        department=dataset.owner,  # uploads need "manage": the owner's stewards and heads
        created_by=actor,
        source_name=name,
        size_bytes=size,
        sha256=sha256,
        mapping=mapping,
        columns=columns,
        options={"submitted_columns": columns},
        idempotency_key=idempotency_key,
    )
    upload.seek(0)
    job.file.save(f"{job.pk}-{sha256[:12]}.dat", File(upload, name=name), save=False)
    job.save(update_fields=["file"])
    audit_record(
        actor=actor,
        action="ingestion.submit",
        target=job,
        after={"dataset": dataset.pk, "channel": Channel.UPLOAD, "file": name, "bytes": size, "sha256": sha256},
    )
    _enqueue(job)
    return job


@transaction.atomic
def ingestion_submit_records(*, actor, dataset: Dataset, records: list, idempotency_key: str) -> IngestionJob:
    """Reporting (数据报送): a department's system pushes a batch of records through the API with
    its integration key; one idempotency key per batch (a replay returns the first job)."""
    from django.conf import settings

    authorize(actor, "report", dataset)
    if not idempotency_key:
        raise ServiceError(_("Send an Idempotency-Key header with each batch."), field="idempotency_key")
    earlier = _replayed(dataset, Channel.API, idempotency_key)
    if earlier:
        return earlier
    if not isinstance(records, list) or not records:
        raise ServiceError(_("Send a non-empty list of records."), field="records")
    limit = settings.DATAPOOL_MAX_BATCH_RECORDS
    if len(records) > limit:
        raise ServiceError(_("At most %(n)d records per batch.") % {"n": limit}, field="records")
    body = b"\n".join(orjson.dumps(r) for r in records) + b"\n"
    job = IngestionJob.objects.create(
        dataset=dataset,
        channel=Channel.API,
        department=dataset.owner,
        created_by=actor,
        source_name=_("API batch %(key)s") % {"key": idempotency_key[:40]},
        size_bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        columns={name: name for name in dataset.standard.field_names},
        idempotency_key=idempotency_key,
        options={"rows_expected": len(records)},
    )
    job.file.save(f"{job.pk}-batch.jsonl", ContentFile(body), save=False)
    job.save(update_fields=["file"])
    audit_record(
        actor=actor,
        action="ingestion.submit",
        target=job,
        after={"dataset": dataset.pk, "channel": Channel.API, "records": len(records), "key": idempotency_key},
    )
    _enqueue(job)
    return job


# --- running a load ---


def _region_ids() -> dict[str, int]:
    return dict(Region.objects.values_list("code", "id"))


def _mapped_rows(source_rows, columns: dict[str, str]):
    """(line, {field: value}, raw) from (line, {column: value}, raw)."""
    pairs = list(columns.items())
    for line, row, raw in source_rows:
        if row is None:
            yield line, None, raw
            continue
        yield line, {f: row.get(c) for f, c in pairs}, row


def _start(job_id: int) -> IngestionJob | None:
    """Mark the job running (committed at once, so pollers see it); None when it needs no run."""
    with transaction.atomic():
        job = IngestionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if job.attempts >= MAX_ATTEMPTS:
            _fail(job, LoadError("crashed"))
            return None
        job.status = JobStatus.RUNNING
        job.started_at = timezone.now()
        job.attempts = F("attempts") + 1
        job.rows_read = job.rows_accepted = job.rows_rejected = 0
        job.save(update_fields=["status", "started_at", "attempts", "rows_read", "rows_accepted", "rows_rejected"])
        job.refresh_from_db()
        return job


def _fail(job: IngestionJob, error: LoadError) -> None:
    with transaction.atomic():
        IngestionJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            error_code=error.code,
            error_args=error.args_,
            rows_accepted=0,
        )
        job.refresh_from_db()
        audit_record(
            actor=None,
            action="ingestion.fail",
            target=job,
            after={"error": error.code, "args": error.args_, "rows_read": job.rows_read},
        )
    _notify_finished(job)


# The action a channel's submitter needed at enqueue time, asked again when the job starts (decision
# 0001, "Celery tasks"). Sharing checks its sharer in `sharing._derived_rows`; a sync acts for its
# source, a standing order its steward set up (`sync_run_now` checks a user's "run now").
SUBMITTER_ACTION = {Channel.UPLOAD: "manage", Channel.API: "report"}


def _ensure_submitter_may_load(job: IngestionJob, dataset: Dataset) -> None:
    """LoadError unless whoever submitted the load may still submit it: the job acts for them, and
    they may have lost the dataset (moved department, lost the steward role, been deactivated) since."""
    action = SUBMITTER_ACTION.get(job.channel)
    if action is None:
        return
    try:
        authorize(job.created_by, action, dataset)
    except AccessDenied:
        raise LoadError("access_lost") from None


def ingestion_run(job_id: int, *, rows=None, on_success=None) -> IngestionJob | None:
    """Run one load (the Celery task's body). Idempotent: a finished job is left alone, and a
    job whose worker died mid-load starts over (its rows were never committed).

    `rows` (sync, sharing): mapped rows, or a callable `rows(job, dataset)` returning them, called
    inside the load's transaction once the dataset is locked. While they are iterated the rows
    must not touch the default database connection (on PostgreSQL it is busy with COPY).
    `on_success(job)` runs inside the same transaction after the rows are stored (a sync source
    advances its cursor there, so a crash never skips or repeats rows)."""
    job = _start(job_id)
    if job is None:
        job = IngestionJob.objects.filter(pk=job_id).first()
        if job is not None and job.is_finished:
            _after_finish_again(job)
        return job
    try:
        with transaction.atomic():
            # NO KEY UPDATE: loads of one dataset still queue behind each other, but a submission's
            # foreign-key check (KEY SHARE, at its commit) no longer waits for a running load
            dataset = Dataset.objects.select_for_update(no_key=True).select_related("standard").get(pk=job.dataset_id)
            if IngestionJob.objects.filter(pk=job.pk).values_list("status", "attempts").first() != (
                JobStatus.RUNNING,
                job.attempts,
            ):
                return IngestionJob.objects.get(pk=job.pk)  # a duplicate delivery: another attempt took over
            _ensure_submitter_may_load(job, dataset)
            duplicate = (
                _previous_load(dataset, job.sha256, _submitted_columns(job)) if job.channel == Channel.UPLOAD else None
            )
            if duplicate is not None and duplicate.pk != job.pk:
                return _finish_duplicate(job, duplicate)
            processor = compiled(dataset.standard)
            if rows is None:
                rows, size = _open_rows(job, dataset)
            elif callable(rows):
                rows = rows(job, dataset)
            result = Loader(job, processor, _region_ids()).load(rows)
            if result.rows_read == 0:
                raise LoadError("empty")
            job = _finish(job, dataset, result, processor)
            if on_success is not None:
                on_success(job)
            return job
    except LoadError as exc:
        _fail(job, exc)
        return IngestionJob.objects.get(pk=job.pk)
    except Exception:
        # a bug or a database error: nothing was committed; say so instead of leaving it "running"
        log.exception("ingestion job %s crashed", job.pk)
        _fail(job, LoadError("crashed"))
        return IngestionJob.objects.get(pk=job.pk)


STALE_QUEUED = timezone.timedelta(minutes=10)
STALE_RUNNING = timezone.timedelta(hours=2)  # longer than the task's hard time limit


def jobs_resume(*, now=None) -> int:
    """Re-enqueue loads whose message was lost (queued too long) or whose worker vanished without
    a redelivery (running past the time limit), and the linking of succeeded loads whose linking
    task never ran (its message lost). `ingestion_run` starts a load over or fails it after
    MAX_ATTEMPTS; linking is idempotent. Beat runs this every few minutes."""
    from django.db.models import Q

    from .tasks import ingestion_run_task, links_build_task, share_run_task

    now = now or timezone.now()
    queued = resume_after("DATAPOOL_RESUME_QUEUED_SECONDS", STALE_QUEUED)
    running = resume_after("DATAPOOL_RESUME_RUNNING_SECONDS", STALE_RUNNING)
    stale = IngestionJob.objects.filter(
        Q(status=JobStatus.QUEUED, created_at__lt=now - queued)
        | Q(status=JobStatus.RUNNING, started_at__lt=now - running)
    ).exclude(channel=Channel.SYNC)  # a source's next run (beat or "run now") takes its job over
    rows = list(stale.values_list("pk", "channel")[:100])
    for pk, channel in rows:
        (share_run_task if channel == Channel.SHARE else ingestion_run_task).delay(pk)
    unlinked = list(
        IngestionJob.objects.filter(status=JobStatus.SUCCEEDED, linked_at__isnull=True, finished_at__lt=now - queued)
        .exclude(options__has_key="duplicate_of")  # a duplicate added no records
        .values_list("pk", flat=True)[:100]
    )
    for pk in unlinked:
        links_build_task.delay(pk)
    return len(rows) + len(unlinked)


def _open_rows(job: IngestionJob, dataset: Dataset):
    """The job's file as mapped rows; checks the mapping covers the standard's required fields."""
    handle = job.file.open("rb")
    source = open_source(handle, job.size_bytes or job.file.size)
    columns = dict(job.columns)
    if source.format == SourceFormat.JSONL:
        if not columns:
            columns = {name: name for name in dataset.standard.field_names}
    else:
        if not columns:
            columns = mapping_guess(dataset.standard, source.header)
        missing_columns = sorted(set(columns.values()) - set(source.header))
        if missing_columns:
            raise LoadError("unknown_columns", columns=", ".join(missing_columns))
    required = [f["name"] for f in dataset.standard.fields if f.get("required")]
    missing = [name for name in required if name not in columns]
    if missing:
        raise LoadError("missing_columns", fields=", ".join(missing))
    options = dict(job.options or {})
    options.setdefault("rows_expected", source.rows_expected)
    # Not written here: the job row would stay locked by the load's transaction until it ends, and
    # its progress could not be seen. The loader's progress connection writes these at once, and
    # _finish with the final state.
    job.source_format, job.encoding, job.columns, job.options = source.format, source.encoding, columns, options
    return _mapped_rows(source.rows(), columns), job.size_bytes


def _finish(job: IngestionJob, dataset: Dataset, result, processor) -> IngestionJob:
    now = timezone.now()
    check = quality_measure(dataset=dataset, job=job, result=result, processor=processor, now=now)
    IngestionJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        finished_at=now,
        source_format=job.source_format,
        encoding=job.encoding,
        columns=job.columns,
        options=job.options,
        rows_read=result.rows_read,
        rows_accepted=result.rows_accepted,
        rows_rejected=result.rows_rejected,
        quality_score=check.score,
        error_code="",
        error_args={},
    )
    job.refresh_from_db()
    audit_record(
        actor=job.created_by,
        action="ingestion.load",
        target=job,
        after={
            "dataset": dataset.pk,
            "channel": job.channel,
            "rows_read": result.rows_read,
            "rows_accepted": result.rows_accepted,
            "rows_rejected": result.rows_rejected,
            "quality": check.score,
            "sha256": job.sha256,
        },
    )
    transaction.on_commit(lambda: _after_load(job))
    return job


def _finish_duplicate(job: IngestionJob, duplicate: IngestionJob) -> IngestionJob:
    options = dict(job.options or {}) | {"duplicate_of": duplicate.pk}
    IngestionJob.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), options=options, rows_read=0
    )
    job.refresh_from_db()
    audit_record(actor=job.created_by, action="ingestion.duplicate", target=job, after={"duplicate_of": duplicate.pk})
    return job


def _after_finish_again(job: IngestionJob) -> None:
    """A finished job's message delivered again: redo the steps that follow its commit.

    They run after the commit and before the task is acknowledged, so a worker killed in between
    (or a broker error in them) left the message unacknowledged and skipped them: the links, the
    department's notification, the followers'. Each step is idempotent (links are unique pairs,
    notifications are keyed by the job), so a plain duplicate delivery adds nothing.
    """
    if job.status == JobStatus.SUCCEEDED and not (job.options or {}).get("duplicate_of"):
        _after_load(job)
    elif job.status == JobStatus.FAILED:
        _notify_finished(job)


def _after_load(job: IngestionJob) -> None:
    from apps.access.services import subscribers_notify_load

    from .tasks import links_build_task

    links_build_task.delay(job.pk)
    _notify_finished(job)
    try:
        subscribers_notify_load(job)
    except Exception:  # a notification never undoes a load
        log.exception("could not notify the followers of dataset %s", job.dataset_id)


def _notify_finished(job: IngestionJob) -> None:
    """Tell the submitting department its load finished (or failed), in its own transaction."""
    from django.urls import reverse

    from apps.notifications.services import message_for, notify_bulk

    if job.status == JobStatus.SUCCEEDED:
        title = _("Data loaded into %(dataset)s: %(accepted)s accepted, %(rejected)s rejected") % {
            "dataset": job.dataset.title,
            "accepted": job.rows_accepted,
            "rejected": job.rows_rejected,
        }
    else:
        title = _("Data load into %(dataset)s failed: %(error)s") % {
            "dataset": job.dataset.title,
            "error": job.error_message(),
        }
    try:
        with transaction.atomic():
            notify_bulk(
                [
                    message_for(
                        department=job.department_id,
                        kind=f"ingestion.{job.status}",
                        title=title,
                        key=f"ingestion.{job.status}:{job.pk}",
                        target=job,
                        link=reverse("portal:ingestion-detail", args=[job.pk]),
                    )
                ]
            )
    except Exception:  # a notification never undoes a load
        log.exception("could not notify the end of ingestion job %s", job.pk)


# --- usage (数据运营) ---


def dataset_use(*, dataset: Dataset, department: Department, rows: int) -> None:
    """Count one read of `rows` records of `dataset` by `department` today (asset register)."""
    today = timezone.localdate()
    updated = DatasetUse.objects.filter(dataset=dataset, department=department, day=today).update(
        reads=F("reads") + 1, rows=F("rows") + rows
    )
    if not updated:
        try:
            with transaction.atomic():
                DatasetUse.objects.create(dataset=dataset, department=department, day=today, reads=1, rows=rows)
        except IntegrityError:
            DatasetUse.objects.filter(dataset=dataset, department=department, day=today).update(
                reads=F("reads") + 1, rows=F("rows") + rows
            )


# --- tags (标识) ---


@transaction.atomic
def tag_ensure(*, actor, code: str, name: str, name_en: str = "") -> Tag:
    authorize(actor, Tag)  # the vocabulary is kept by administrators
    tag, _created = Tag.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
    return tag


def spool_upload(data: bytes, name: str = "upload.csv") -> File:
    """A File over `data` spooled to disk (for callers that build a file in memory)."""
    handle = tempfile.SpooledTemporaryFile(max_size=8 << 20)
    handle.write(data)
    handle.seek(0)
    return File(handle, name=name)


__all__ = [
    "dataset_create",
    "dataset_update",
    "dataset_use",
    "ingestion_run",
    "ingestion_submit_file",
    "ingestion_submit_records",
    "mapping_guess",
    "mapping_save",
    "spool_upload",
    "tag_ensure",
]
