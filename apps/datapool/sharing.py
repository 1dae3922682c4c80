"""Data sharing (数据共享): a derived subset of one dataset's records loaded into another dataset.

The source's steward chooses fields (present in both standards) and simple filters (a field
equals a value, or is one of a few), and the subset is loaded into the target — another dataset
of the same department, or the pool of a leading group the department sits in — through
`ingestion_run`, exactly like an upload: the target standard validates it, rejects are kept,
quality is scored and the rows commit all together. The job keeps the provenance (source,
fields, filters) in its options, and the share is in the ledger.

A share never lowers protection: the target must be classified at least as high as the source,
and a field sensitive in the source must be sensitive in the target too.
"""

from __future__ import annotations

import tempfile

import orjson
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from apps.core.enqueue import enqueue_on_commit
from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.scoping import authorize
from apps.ledger.services import audit_record
from apps.organizations.models import LeadingGroupSeat

from .choices import CLASSIFICATION_RANK, Channel, SourceFormat
from .errors import LoadError
from .models import Dataset, IngestionJob, Record
from .services import ingestion_run
from .standards import CONVERTERS
from .sync import exclusive_run

SHARE_CHUNK = 2000  # source records per fetch
SPOOL_IN_MEMORY = 16 << 20  # bytes of the derived subset kept in memory before spilling to disk
MAX_FILTER_VALUES = 1000
SHARE_LOCK_NAMESPACE = 0x5D71  # first key of the advisory locks of share runs


def _clean_fields(source: Dataset, target: Dataset, fields) -> list[str]:
    if not isinstance(fields, (list, tuple)) or not fields:
        raise ServiceError(_("Choose the fields to share."), field="fields")
    chosen = list(dict.fromkeys(str(f) for f in fields))
    source_std, target_std = source.standard, target.standard
    missing = [f for f in chosen if source_std.field(f) is None]
    if missing:
        raise ServiceError(
            _("Not fields of the source's standard: %(fields)s") % {"fields": ", ".join(missing)}, field="fields"
        )
    missing = [f for f in chosen if target_std.field(f) is None]
    if missing:
        raise ServiceError(
            _("Not fields of the target's standard: %(fields)s") % {"fields": ", ".join(missing)}, field="fields"
        )
    clashing = [f for f in chosen if source_std.field(f)["type"] != target_std.field(f)["type"]]
    if clashing:
        raise ServiceError(
            _("These fields have different types in the two standards: %(fields)s") % {"fields": ", ".join(clashing)},
            field="fields",
        )
    required = [f["name"] for f in target_std.fields if f.get("required") and f["name"] not in chosen]
    if required:
        raise ServiceError(
            _("The target's standard requires these fields: %(fields)s") % {"fields": ", ".join(required)},
            field="fields",
        )
    exposed = [f for f in chosen if source_std.field(f).get("sensitive") and not target_std.field(f).get("sensitive")]
    if exposed:
        raise ServiceError(
            _("These fields are sensitive in the source but not in the target: %(fields)s")
            % {"fields": ", ".join(exposed)},
            field="fields",
        )
    return chosen


def _clean_filters(source: Dataset, filters) -> dict[str, list]:
    """{field: [typed values]}: each field of the source's standard equals one of its values.
    Values are converted as a load converts them, so "80" finds the integer 80."""
    if filters in (None, ""):
        return {}
    if not isinstance(filters, dict):
        raise ServiceError(_("Filters must map fields to values."), field="filters")
    cleaned = {}
    for name, wanted in filters.items():
        spec = source.standard.field(str(name))
        if spec is None:
            raise ServiceError(
                _("%(field)s is not a field of the source's standard.") % {"field": name}, field="filters"
            )
        values = wanted if isinstance(wanted, (list, tuple)) else [wanted]
        if not values or len(values) > MAX_FILTER_VALUES:
            raise ServiceError(
                _("Give a field 1 to %(n)d values to match.") % {"n": MAX_FILTER_VALUES}, field="filters"
            )
        convert = CONVERTERS[spec["type"]]
        typed = []
        for value in values:
            if value is None or isinstance(value, (dict, list)):
                raise ServiceError(_("Filter values must be plain values."), field="filters")
            try:
                typed.append(convert(value))
            except (ValueError, TypeError, OverflowError):
                raise ServiceError(
                    _("%(value)s is not a valid value of %(field)s.") % {"value": value, "field": name}, field="filters"
                ) from None
        cleaned[spec["name"]] = list(dict.fromkeys(typed))
    return cleaned


def _filter_q(filters: dict[str, list]) -> Q:
    """Equality on the JSON payload through the ORM (field names are the standard's, checked)."""
    q = Q()
    for name, values in filters.items():
        q &= Q(**{f"payload__{name}": values[0]}) if len(values) == 1 else Q(**{f"payload__{name}__in": values})
    return q


def _source_owner_contributes(source: Dataset, target: Dataset) -> bool:
    """The records belong to the source's owner: it must own the target or sit in its pool's group."""
    if target.owner_id == source.owner_id:
        return True
    return bool(
        target.leading_group_id
        and LeadingGroupSeat.objects.filter(group_id=target.leading_group_id, department_id=source.owner_id).exists()
    )


def dataset_share(
    *, actor, source: Dataset, target: Dataset, fields: list[str], filters: dict | None = None
) -> IngestionJob:
    """Share the chosen fields of `source`'s records that match `filters` into `target`.

    The actor must manage the source (its owner's steward or head) and may contribute to the
    target (a dataset of the same department, or a leading group pool the department sits in).
    Returns the queued share job; a Celery task runs it after commit."""
    from .tasks import share_run_task

    authorize(actor, "manage", source)
    authorize(actor, "contribute", target)
    source = Dataset.objects.select_related("standard", "owner").get(pk=source.pk)
    target = Dataset.objects.select_related("standard", "owner").get(pk=target.pk)
    if source.pk == target.pk:
        raise ServiceError(_("Choose another dataset to share into."), field="target")
    if not _source_owner_contributes(source, target):
        raise AccessDenied(action="contribute", target=target, hidden=False)
    if CLASSIFICATION_RANK[target.classification] < CLASSIFICATION_RANK[source.classification]:
        raise ServiceError(
            _("The target is classified lower than the source; records cannot be shared into it."), field="target"
        )
    chosen = _clean_fields(source, target, fields)
    wanted = _clean_filters(source, filters)
    with transaction.atomic():
        expected = Record.objects.filter(dataset=source).filter(_filter_q(wanted)).count()
        if not expected:
            raise ServiceError(_("No records of the source match these filters."), field="filters")
        provenance = {
            "source": source.pk,
            "source_title": source.title,
            "source_owner": source.owner_id,
            "source_standard": source.standard_id,
            "fields": chosen,
            "filters": wanted,
        }
        job = IngestionJob.objects.create(
            dataset=target,
            channel=Channel.SHARE,
            department=source.owner,
            created_by=actor,
            source_name=_("Shared from %(dataset)s") % {"dataset": source.title},
            source_format=SourceFormat.RECORDS,
            columns={name: name for name in chosen},
            options={"share": provenance, "rows_expected": expected},
        )
        audit_record(
            actor=actor,
            action="dataset.share",
            target=source,
            after={"target": target.pk, "job": job.pk, "fields": chosen, "filters": wanted, "records": expected},
        )
        job_id = job.pk
        enqueue_on_commit(share_run_task, job_id)
    return job


def _derived_rows(job: IngestionJob, dataset: Dataset):
    """The `rows` callable of `ingestion_run`: checks the sharer may still share, then reads the
    subset with the ORM into a spool before the load starts (while the loader streams COPY on
    PostgreSQL the default connection cannot run queries), and returns rows read from the spool."""
    spec = job.options["share"]
    source = Dataset.objects.filter(pk=spec["source"]).select_related("owner").first()
    if source is None:
        raise LoadError("share", detail=_("the source dataset no longer exists"))
    try:
        authorize(job.created_by, "manage", source)
        authorize(job.created_by, "contribute", dataset)
    except AccessDenied:
        raise LoadError("share", detail=_("the person who shared may no longer share these records")) from None
    if not _source_owner_contributes(source, dataset):
        raise LoadError("share", detail=_("the source's department no longer sits in the target's group"))
    fields = list(spec["fields"])
    records = (
        Record.objects.filter(dataset=source)
        .filter(_filter_q(spec["filters"]))
        .order_by("id")
        .values_list("id", "payload")
        .iterator(chunk_size=SHARE_CHUNK)
    )
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the reader
    for pk, payload in records:
        spool.write(orjson.dumps([pk, {name: payload.get(name) for name in fields}]))
        spool.write(b"\n")
    spool.seek(0)
    return _spooled(spool)


def _spooled(spool):
    try:
        for line, text in enumerate(spool, start=1):
            pk, row = orjson.loads(text)
            yield line, row, {"source_record": pk, **row}
    finally:
        spool.close()


def share_run(*, job_id: int) -> IngestionJob | None:
    """Run a share job (the Celery task's body). Idempotent: a finished job is left alone, a second
    delivery waits for a live run, and a run killed half-way starts over (nothing committed)."""
    with exclusive_run(SHARE_LOCK_NAMESPACE, job_id) as mine:
        job = IngestionJob.objects.filter(pk=job_id, channel=Channel.SHARE).first()
        if job is None or job.is_finished or not mine:
            return job
        return ingestion_run(job.pk, rows=_derived_rows)


__all__ = ["dataset_share", "share_run"]
