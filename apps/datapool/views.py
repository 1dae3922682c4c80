"""Portal pages of the emergency big-data resource pool (应急大数据资源池).

The catalog, standards and quality are discoverable by all staff; records, loads, mappings and
usage belong to the owner department. Every page reads through a selector built on `restrict()`:
a dataset the caller cannot see is 404, one they see but may not manage is 403 (before any form
is read); records of a dataset they may not read answer 404, as if the records page did not exist.

Writes call one service each and redirect (post/redirect/get). The upload is two steps: the file
is kept aside while the caller checks how its columns map to the standard (guesses preselected),
then one job is submitted with the hidden idempotency key of the form, so a double click or a
reload lands on the first job. A job's page polls a small fragment (htmx, served locally) every
second until the load finishes.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime

from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext as _
from django.views.generic import ListView, TemplateView

from apps.access.services import read_record
from apps.core.csv import csv_cell, csv_writer
from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.scoping import authorize
from apps.core.views import (
    INVALID,
    ObjectActionMixin,
    ScopedDetailView,
    ScopedListView,
    ScopedViewMixin,
    attach_error,
    hidden_lookup,
)
from apps.organizations import selectors as org_selectors
from apps.organizations.models import Department

from . import selectors, services
from .choices import Channel, Classification, FieldType, JobStatus, LinkKey
from .errors import LoadError
from .filters import DatasetFilter, IngestionJobFilter
from .forms import (
    ColumnMappingForm,
    DatasetForm,
    DiffForm,
    FusedForm,
    ShareForm,
    SyncSourceForm,
    UploadForm,
    field_label,
    publishing_departments,
    style_dataset_filter,
    style_job_filter,
)
from .models import Dataset, IngestionJob, SyncSource, Tag
from .readers import open_source

RECORDS_PER_PAGE = 50
REJECTS_PER_PAGE = 50
JOBS_ON_DATASET_PAGE = 20
PREVIEW_ROWS = 5
STAGING_DIR = "ingest/staging"
STAGING_SESSION_KEY = "datapool_staged_uploads"


def may(user, action: str, obj) -> bool:
    """Whether `user` may `action` on `obj` (the service's own check, asked without raising)."""
    try:
        authorize(user, action, obj)
    except AccessDenied:
        return False
    return True


def field_rows(standard) -> list[dict]:
    """The standard's fields as the pages show them: label, type, rules, sensitive and linking marks."""
    keys = set(standard.key_fields or [])
    types = dict(FieldType.choices)
    links = dict(LinkKey.choices)
    rows = []
    for spec in standard.fields:
        rows.append(
            {
                "name": spec["name"],
                "label": field_label(spec),
                "type": types.get(spec["type"], spec["type"]),
                "required": bool(spec.get("required")),
                "sensitive": bool(spec.get("sensitive")),
                "link": links.get(spec.get("link"), "") if spec.get("link") else "",
                "identity": spec["name"] in keys,
                "codes": spec.get("codes") or [],
                "pattern": spec.get("pattern", ""),
                "min": spec.get("min"),
                "max": spec.get("max"),
                "max_length": spec.get("max_length"),
            }
        )
    return rows


def column_pairs(standard, columns: dict | None) -> list[tuple[str, str]]:
    """A mapping (field -> column) as (field label, column), in the standard's field order."""
    columns = columns or {}
    return [(field_label(spec), columns[spec["name"]]) for spec in standard.fields if columns.get(spec["name"])]


def label_tags(datasets) -> None:
    """Each dataset's tags in the reader's language (from the prefetched tags)."""
    language = get_language()
    for dataset in datasets:
        dataset.tag_labels = [tag.label(language) for tag in dataset.tags.all()]


def chart(kind: str, labels: list, series: list[tuple[str, list]], **options) -> dict:
    """The JSON a page hands to static/js/datapool.js (rendered with json_script, never inline JS)."""
    return {"type": kind, "labels": labels, "series": [{"label": str(n), "data": d} for n, d in series], **options}


def mask(value) -> str:
    """A sensitive value where a page shows it across datasets (the fused view): enough to
    recognise, not to copy."""
    text = "" if value is None else str(value)
    n = len(text)
    if n <= 1:
        return "*" if n else ""
    if n == 2:
        return text[0] + "*"
    if n <= 6:
        return text[0] + "*" * (n - 2) + text[-1]
    return text[:3] + "*" * (n - 7) + text[-4:]


def show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


class RecordTable:
    """How pages show the records of one dataset: the standard's fields in order, labelled in the
    reader's language, tags by their names. With the data-access app installed, a grantee sees
    what its grant's presenter lets through (fields in clear, masked, or left out); the owner
    department sees whole records."""

    def __init__(self, user, dataset: Dataset):
        from django.apps import apps

        self.presenter = self.grant = None
        if apps.is_installed("apps.access"):
            from apps.access.selectors import grant_for_reading, presenter_for

            self.grant = grant_for_reading(user=user, dataset=dataset)
            self.presenter = presenter_for(self.grant, dataset)
        specs = {s["name"]: s for s in dataset.standard.fields}
        names = self.presenter.columns if self.presenter is not None else dataset.standard.field_names
        self.specs = [specs[name] for name in names]
        self.columns = [(field_label(s), bool(s.get("sensitive"))) for s in self.specs]
        self.language = get_language()
        self._tags = None

    def values(self, payload: dict) -> dict:
        return self.presenter(payload) if self.presenter is not None else payload

    def tag_labels(self, tags) -> list[str]:
        from .processing import tag_codes

        if self._tags is None:
            self._tags = {tag.code: tag.label(self.language) for tag in Tag.objects.all()}
        return [self._tags.get(code, code) for code in dict.fromkeys(tag_codes(tags))]

    @staticmethod
    def shown(spec: dict, value) -> str:
        if spec["type"] == FieldType.DATETIME and isinstance(value, str):
            return local_time(value)
        return show(value)

    def row(self, record) -> dict:
        values = self.values(record.payload or {})
        return {
            "record": record,
            "cells": [(field_label(s), self.shown(s, values.get(s["name"]))) for s in self.specs],
            # tags derive from fields a grant may leave out (age, category): the owner's only
            "tags": self.tag_labels(record.tags) if self.grant is None else [],
        }


def local_time(value: str | None) -> str:
    """An ISO timestamp as Beijing time, minutes (observation times in fused rows)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M")


# --- the catalog ---------------------------------------------------------------------------------


class DatasetListView(ScopedListView):
    """The catalog (数据资源目录): metadata of every dataset the caller may discover, never records."""

    list_selector = selectors.dataset_catalog
    filterset_class = DatasetFilter
    template_name = "datapool/dataset_list.html"
    paginate_by = 50

    def get_filterset(self, filterset_class):
        filterset = super().get_filterset(filterset_class)
        style_dataset_filter(filterset.form, datasets=filterset.queryset, user=self.request.user)
        return filterset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        label_tags(context["object_list"])
        context |= {
            "now": timezone.now(),
            "may_create": publishing_departments(self.request.user).exists(),
        }
        return context


class DatasetObjectMixin:
    """Views of one dataset found through the catalog (unseen: 404)."""

    list_selector = selectors.dataset_catalog
    context_object_name = "dataset"

    def manage_check(self) -> None:
        """403 (seen) before any form is read; only the owner's heads and stewards manage."""
        authorize(self.request.user, "manage", self.object)


class DatasetDetailView(DatasetObjectMixin, ScopedDetailView):
    """Metadata, the standard's fields, quality history, freshness and loads; for the owner
    department the way to its records, mappings, uploads, sync sources and sharing."""

    template_name = "datapool/dataset_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, dataset = self.request.user, self.object
        history = selectors.quality_history(user=user, dataset=dataset)
        can_manage = may(user, "manage", dataset)
        label_tags([dataset])
        context |= {
            "fields": field_rows(dataset.standard),
            "history": history,
            "quality_chart": chart(
                "line",
                [timezone.localtime(c.measured_at).strftime("%m-%d %H:%M") for c in history],
                [(_("Quality score"), [c.score for c in history])],
                y_min=0,
                y_max=100,
            ),
            "now": timezone.now(),
            "can_read": may(user, "read", dataset),
            "can_manage": can_manage,
            "can_assets": may(user, "assets", dataset),
            "jobs": list(selectors.dataset_jobs(user=user, dataset=dataset)[:JOBS_ON_DATASET_PAGE]),
            "mappings": self.mappings() if can_manage else [],
            "sync_sources": list(selectors.sync_source_list(user=user).filter(dataset=dataset)) if can_manage else [],
        }
        return context

    def mappings(self):
        mappings = list(selectors.dataset_mappings(user=self.request.user, dataset=self.object))
        for mapping in mappings:
            mapping.pairs = column_pairs(self.object.standard, mapping.columns)
        return mappings


class DatasetCreateView(ScopedViewMixin, TemplateView):
    """Register a dataset. The owner a POST names is looked up among the departments the caller
    sees (unseen: 404) and must be one they may publish for (403) before the form is read."""

    list_selector = org_selectors.department_list
    template_name = "datapool/dataset_form.html"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=DatasetForm(user=request.user)))

    def check_owner(self) -> None:
        raw = self.request.POST.get("owner", "").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            return  # missing or malformed: the form says so
        try:
            department = org_selectors.department_get(user=self.request.user, pk=int(raw))
        except Department.DoesNotExist:
            hidden_lookup(self.request, Department, "pk", int(raw))
            raise Http404 from None
        authorize(self.request.user, "publish_dataset", department)

    def post(self, request, *args, **kwargs):
        self.check_owner()
        form = DatasetForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                dataset = services.dataset_create(
                    actor=request.user,
                    owner=data["owner"],
                    standard=data["standard"],
                    title=data["title"],
                    description=data["description"],
                    source_kind=data["source_kind"],
                    classification=data["classification"],
                    update_frequency=data["update_frequency"],
                    tags=list(data["tags"]),
                    leading_group=data["leading_group"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Dataset registered: %(title)s") % {"title": dataset.title})
                return redirect("portal:dataset-detail", pk=dataset.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class DatasetUpdateView(DatasetObjectMixin, ScopedDetailView):
    """Edit a dataset's metadata (title, description, source, classification, frequency, tags)."""

    template_name = "datapool/dataset_form.html"

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        self.manage_check()
        form = DatasetForm.for_dataset(user=request.user, dataset=self.object)
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        self.manage_check()
        form = DatasetForm(request.POST, user=request.user, dataset=self.object)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.dataset_update(
                    actor=request.user,
                    dataset=self.object,
                    tags=list(data.pop("tags")),
                    **{k: data[k] for k in services.DATASET_FIELDS},
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Dataset updated."))
                return redirect("portal:dataset-detail", pk=self.object.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class RecordsMixin(DatasetObjectMixin):
    """Pages over a dataset's records: only for those who may read them; to everyone else the
    page does not exist (404), even when they see the dataset in the catalog."""

    def readable(self, function, **kwargs):
        try:
            return function(user=self.request.user, dataset=self.object, **kwargs)
        except AccessDenied as exc:
            if exc.hidden or exc.target is not self.object:
                raise
            raise AccessDenied(action=exc.action, target=self.object, hidden=True) from None

    def records(self):
        return self.readable(selectors.dataset_records)

    def table(self) -> RecordTable:
        return self.readable(RecordTable)


class DatasetRecordsView(RecordsMixin, ScopedDetailView):
    """The records of a dataset, 50 at a time in id order (keyset paging: the same few queries on
    the first page as on the ten-thousandth). Only those who may read them (the owner department,
    or a department holding a data-access grant); everyone else gets 404. Each page counts as one
    read (the asset register's usage)."""

    template_name = "datapool/dataset_records.html"

    @staticmethod
    def _bound(value: str | None) -> int | None:
        return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 18 else None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        dataset = self.object
        records = self.records().only("id", "line", "payload", "tags", "loaded_at", "job_id")
        after, before = self._bound(self.request.GET.get("after")), self._bound(self.request.GET.get("before"))
        if before is not None:
            page = list(records.filter(id__lt=before).order_by("-id")[: RECORDS_PER_PAGE + 1])
            has_more_before = len(page) > RECORDS_PER_PAGE
            page = list(reversed(page[:RECORDS_PER_PAGE]))
            has_prev, has_next = has_more_before, True
        else:
            query = records.filter(id__gt=after) if after is not None else records
            page = list(query[: RECORDS_PER_PAGE + 1])
            has_next = len(page) > RECORDS_PER_PAGE
            page = page[:RECORDS_PER_PAGE]
            has_prev = after is not None
        table = self.table()
        rows = [table.row(record) for record in page]
        read_record(
            actor=self.request.user,
            dataset=dataset,
            grant=table.grant,
            query={"after": after, "before": before},
            rows=len(page),
        )
        context |= {
            "columns": table.columns,
            "rows": rows,
            "next_after": page[-1].pk if page and has_next else None,
            "prev_before": page[0].pk if page and has_prev else None,
            "paged": has_prev,
        }
        return context


# --- processing (数据处理): comparison and fusion ------------------------------------------------


DUPLICATE_SAMPLE = 5  # records shown per duplicate group


class DatasetDuplicatesView(RecordsMixin, ScopedDetailView):
    """Exact duplicates (same content) and near duplicates (same content but for case, width,
    spaces and punctuation) inside one dataset, largest groups first, with a few of their records."""

    template_name = "datapool/dataset_duplicates.html"

    def get_context_data(self, **kwargs):
        from . import processing

        context = super().get_context_data(**kwargs)
        groups = self.readable(processing.duplicates)
        table = self.table()
        wanted = {pk for g in groups for pk in g["record_ids"][:DUPLICATE_SAMPLE]}
        records = {r.pk: r for r in self.records().filter(id__in=wanted)} if wanted else {}
        for group in groups:
            group["rows"] = [table.row(records[pk]) for pk in group["record_ids"][:DUPLICATE_SAMPLE] if pk in records]
        context |= {
            "columns": table.columns,
            "exact": [g for g in groups if g["kind"] == "exact"],
            "near": [g for g in groups if g["kind"] == "near"],
        }
        return context


class DatasetDiffView(RecordsMixin, ScopedDetailView):
    """What changed between two loads (versions) of a dataset, by identity key: added, removed
    and changed records, counted, with samples (a changed record shows its changed fields)."""

    template_name = "datapool/dataset_diff.html"

    def get_context_data(self, **kwargs):
        from . import processing

        context = super().get_context_data(**kwargs)
        user, dataset = self.request.user, self.object
        table = self.table()  # 404 before anything else for those who may not read the records
        if "old" in self.request.GET or "new" in self.request.GET:
            form = DiffForm(self.request.GET, user=user, dataset=dataset)
        else:
            latest = list(DiffForm(user=user, dataset=dataset).loads[:2])
            initial = {"new": latest[0].pk, "old": latest[1].pk} if len(latest) == 2 else {}
            form = DiffForm(initial or None, user=user, dataset=dataset)
        context |= {"form": form, "columns": table.columns, "diff": None}
        if not form.is_bound or not form.is_valid():
            return context
        try:
            diff = self.readable(
                processing.dataset_diff, old_job=form.cleaned_data["old"], new_job=form.cleaned_data["new"]
            )
        except ServiceError as exc:
            attach_error(form, exc)
            return context
        ids = set()
        for part in ("added", "removed", "changed"):
            for sample in diff[part]["samples"]:
                ids |= {sample["record_id"], sample.get("old_record_id")}
        ids.discard(None)
        records = {r.pk: r for r in self.records().filter(id__in=ids)} if ids else {}
        for part in ("added", "removed"):
            diff[part]["rows"] = [
                table.row(records[s["record_id"]]) for s in diff[part]["samples"] if s["record_id"] in records
            ]
        diff["changed"]["rows"] = [
            self.changes(table, records.get(s.get("old_record_id")), records.get(s["record_id"]))
            for s in diff["changed"]["samples"]
            if s["record_id"] in records
        ]
        context["diff"] = diff
        return context

    def changes(self, table: RecordTable, old, new) -> dict:
        before = table.values(old.payload or {}) if old is not None else {}
        after = table.values(new.payload or {})
        keys = set(self.object.standard.key_fields or [])
        return {
            "record": new,
            "key": "; ".join(
                f"{field_label(s)}: {table.shown(s, after.get(s['name']))}" for s in table.specs if s["name"] in keys
            ),
            "fields": [
                (field_label(s), table.shown(s, before.get(s["name"])), table.shown(s, after.get(s["name"])))
                for s in table.specs
                if before.get(s["name"]) != after.get(s["name"])
            ],
        }


class FusedView(ScopedViewMixin, TemplateView):
    """Fusion (融合): one row per person, phone or address across every dataset the caller may
    read; each field from its newest observation, with the dataset it came from. Sensitive fields
    (of any source) and the key itself are masked on this page; the row carries the most
    restricted classification of its sources."""

    list_selector = selectors.dataset_catalog  # the source datasets' metadata (titles, standards)
    template_name = "datapool/fused_view.html"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=FusedForm(user=request.user), rows=[]))

    def post(self, request, *args, **kwargs):
        """A search, not a write: POST keeps ID numbers and phones out of URLs, access logs,
        browser history and referrers."""
        from . import processing

        user = request.user
        form = FusedForm(request.POST, user=user)
        rows, status = [], 200
        if form.is_valid():
            data = form.cleaned_data
            try:
                rows = processing.fused_view(
                    user=user,
                    key_kind=data["key_kind"],
                    value=data["value"] or None,
                    dataset_ids=[d.pk for d in data["datasets"]] or None,
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
        else:
            status = INVALID
        return self.render_to_response(self.get_context_data(form=form, rows=self.present(rows)), status=status)

    def present(self, rows: list[dict]) -> list[dict]:
        ids = {pk for row in rows for pk in row["datasets"]}
        sources = {d.pk: d for d in self.get_queryset().filter(pk__in=ids).prefetch_related(None)} if ids else {}
        specs = {(pk, spec["name"]): spec for pk, dataset in sources.items() for spec in dataset.standard.fields}
        classes = dict(Classification.choices)
        out = []
        for row in rows:
            sensitive = set(row["sensitive_fields"])
            out.append(
                {
                    "key": mask(row["key"]) if row["key_kind"] != LinkKey.ADDRESS else row["key"],
                    "rule": row["rule"],
                    "classification": row["classification"],
                    "classification_label": classes.get(row["classification"], row["classification"]),
                    "records": len(row["records"]),
                    "datasets": [sources[pk].title for pk in row["datasets"] if pk in sources],
                    "fields": [
                        self.cell(specs.get((cell["dataset"], name)), name, cell, name in sensitive)
                        for name, cell in row["fields"].items()
                    ],
                }
            )
        return out

    @staticmethod
    def cell(spec: dict | None, name: str, cell: dict, sensitive: bool) -> dict:
        """One field of a fused row: labelled by its source's standard, masked when sensitive."""
        value = cell["value"]
        return {
            "label": field_label(spec) if spec else name,
            "value": mask(value) if sensitive else RecordTable.shown(spec or {"type": ""}, value),
            "sensitive": sensitive,
            "source": cell["dataset_title"],
            "observed_at": local_time(cell["observed_at"]),
        }


# --- collection (数据采集): the upload ----------------------------------------------------------


class StagedUploads:
    """Files kept aside between the two upload steps, in the default storage under a random name,
    remembered in the caller's session (a client never names a path). One per dataset: a new file
    for the same dataset replaces the previous one; the submit step removes it."""

    def __init__(self, request):
        self.session = request.session
        self.entries: dict = dict(self.session.get(STAGING_SESSION_KEY) or {})

    def _save(self) -> None:
        self.session[STAGING_SESSION_KEY] = self.entries

    def put(self, dataset: Dataset, upload) -> str:
        for token, entry in list(self.entries.items()):
            if entry["dataset"] == dataset.pk:
                self.drop(token)
        token = uuid.uuid4().hex
        upload.seek(0)
        path = default_storage.save(f"{STAGING_DIR}/{token}.dat", upload)
        name = os.path.basename(getattr(upload, "name", "") or "upload")[:255]
        self.entries[token] = {"dataset": dataset.pk, "path": path, "name": name, "size": upload.size}
        self._save()
        return token

    def get(self, dataset: Dataset, token: str) -> dict | None:
        entry = self.entries.get(token)
        return entry if entry and entry["dataset"] == dataset.pk else None

    def drop(self, token: str) -> None:
        entry = self.entries.pop(token, None)
        if entry:
            try:
                default_storage.delete(entry["path"])
            except OSError:
                pass
        self._save()


def read_header(path: str, size: int) -> tuple[list[str], list[list[str]], str, str]:
    """The header, the first rows (as text), the format and the encoding of a staged file."""
    with default_storage.open(path, "rb") as handle:
        source = open_source(handle, size)
        sample = []
        for _line, row, raw in source.rows():
            values = row if row is not None else raw or {}
            sample.append([show(values.get(h)) for h in source.header])
            if len(sample) >= PREVIEW_ROWS:
                break
        return list(source.header), sample, source.format, source.encoding


class DatasetUploadView(DatasetObjectMixin, ScopedDetailView):
    """Step one: the file and a saved mapping (or a guess). "Check the columns" keeps the file
    aside and shows step two; "Load now" submits at once. Step two: a select per field with the
    file's columns, the guess (or the saved mapping) preselected; submitting queues one job."""

    template_name = "datapool/dataset_upload.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.object = self.get_object()
        self.manage_check()
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=UploadForm(user=request.user, dataset=self.object)))

    def post(self, request, *args, **kwargs):
        if "token" in request.POST:
            return self.confirm()
        form = UploadForm(request.POST, request.FILES, user=request.user, dataset=self.object)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=INVALID)
        data = form.cleaned_data
        if request.POST.get("step") == "load":
            return self.submit(
                form, upload=data["file"], mapping=data["mapping"], idempotency_key=data["idempotency_key"]
            )
        return self.preview(form)

    def preview(self, form):
        data = form.cleaned_data
        staged = StagedUploads(self.request)
        token = staged.put(self.object, data["file"])
        entry = staged.get(self.object, token)
        try:
            header, sample, source_format, encoding = read_header(entry["path"], entry["size"])
        except LoadError as exc:
            staged.drop(token)
            form.add_error("file", str(exc))
            return self.render_to_response(self.get_context_data(form=form), status=INVALID)
        standard = self.object.standard
        if data["mapping"] is not None:
            initial = dict(data["mapping"].columns)
        else:
            initial = services.mapping_guess(standard, header)
        mapping_form = ColumnMappingForm(
            standard=standard,
            header=header,
            initial_columns=initial,
            initial={"token": token, "idempotency_key": data["idempotency_key"]},
        )
        return self.render_mapping(mapping_form, entry, header, sample, source_format, encoding)

    def render_mapping(self, mapping_form, entry, header, sample, source_format, encoding, status=200):
        context = self.get_context_data(
            mapping_form=mapping_form,
            staged=entry,
            header=header,
            sample=sample,
            source_format=source_format,
            encoding=encoding,
        )
        return self.render_to_response(context, status=status)

    def replayed(self, key: str):
        """A step-two submission whose file is already gone: the first submission's job."""
        if not key:
            return None
        return (
            selectors.dataset_jobs(user=self.request.user, dataset=self.object)
            .filter(channel=Channel.UPLOAD, idempotency_key=key)
            .first()
        )

    def confirm(self):
        request = self.request
        staged = StagedUploads(request)
        token = request.POST.get("token", "")
        entry = staged.get(self.object, token)
        if entry is None:
            job = self.replayed(request.POST.get("idempotency_key", "")[:64])
            if job is not None:
                return redirect("portal:ingestion-detail", pk=job.pk)
            messages.error(request, _("The file is no longer waiting for its mapping. Choose it again."))
            return redirect("portal:dataset-upload", pk=self.object.pk)
        try:
            header, sample, source_format, encoding = read_header(entry["path"], entry["size"])
        except LoadError as exc:  # pragma: no cover - read once already in step one
            staged.drop(token)
            messages.error(request, str(exc))
            return redirect("portal:dataset-upload", pk=self.object.pk)
        form = ColumnMappingForm(request.POST, standard=self.object.standard, header=header, initial_columns={})
        if not form.is_valid():
            return self.render_mapping(form, entry, header, sample, source_format, encoding, status=INVALID)
        with default_storage.open(entry["path"], "rb") as handle:
            handle.name = entry["name"]
            try:
                job = services.ingestion_submit_file(
                    actor=request.user,
                    dataset=self.object,
                    upload=handle,
                    columns=form.columns(),
                    save_mapping_as=form.cleaned_data["save_mapping_as"],
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
                return self.render_mapping(form, entry, header, sample, source_format, encoding, status=status)
        staged.drop(token)
        return self.submitted(job)

    def submit(self, form, *, upload, mapping, idempotency_key):
        try:
            job = services.ingestion_submit_file(
                actor=self.request.user,
                dataset=self.object,
                upload=upload,
                mapping=mapping,
                idempotency_key=idempotency_key,
            )
        except ServiceError as exc:
            status = attach_error(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=status)
        return self.submitted(job)

    def submitted(self, job: IngestionJob):
        if job.options.get("duplicate_of") or (job.status == JobStatus.SUCCEEDED and job.rows_read == 0):
            messages.info(self.request, _("This file was loaded before with the same mapping; nothing was added."))
        else:
            messages.success(self.request, _("File received: the load runs in the background."))
        return redirect("portal:ingestion-detail", pk=job.pk)


# --- database sync (数据库同步) and sharing (数据共享) ---------------------------------------------


def shown_url(source: SyncSource) -> str:
    """The source's database URL with its password masked (the stored value is encrypted)."""
    from . import crypto, sync

    try:
        return sync.masked_url(crypto.decrypt(source.url_encrypted))
    except ValueError:
        return "***"


class SyncSourceListView(DatasetObjectMixin, ScopedDetailView):
    """A dataset's database sync sources, with the form to add one (POST): the service connects
    to the database and reflects the table before it stores the (encrypted) URL."""

    template_name = "datapool/sync_sources.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.object = self.get_object()
        self.manage_check()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        sources = list(selectors.sync_source_list(user=self.request.user).filter(dataset=self.object))
        for source in sources:
            source.shown_url = shown_url(source)
            source.pairs = column_pairs(self.object.standard, source.columns)
        context["sources"] = sources
        context.setdefault("form", SyncSourceForm(standard=self.object.standard))
        return context

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data())

    def post(self, request, *args, **kwargs):
        from . import sync

        form = SyncSourceForm(request.POST, standard=self.object.standard)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                source = sync.sync_source_create(
                    actor=request.user,
                    dataset=self.object,
                    name=data["name"],
                    url=data["url"],
                    table=data["table"],
                    columns=form.columns(),
                    cursor_column=data["cursor_column"],
                    interval_minutes=data["interval_minutes"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Sync source added: %(name)s") % {"name": source.name})
                return redirect("portal:syncsource-list", pk=self.object.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class SyncSourceActionView(ObjectActionMixin, ScopedDetailView):
    """A button on one sync source (run now, enable or disable)."""

    list_selector = selectors.sync_source_list
    context_object_name = "source"

    def check(self) -> None:
        authorize(self.request.user, "manage", self.object)

    def detail_url(self):
        return reverse("portal:syncsource-list", kwargs={"pk": self.object.dataset_id})

    done_url = detail_url


class SyncSourceRunView(SyncSourceActionView):
    success_message = gettext_lazy("Sync queued: the new rows load in the background.")

    def perform(self, form):
        from . import sync

        self.job = sync.sync_run_now(actor=self.request.user, source=self.object)

    def done_url(self):
        return reverse("portal:ingestion-detail", kwargs={"pk": self.job.pk})


class SyncSourceToggleView(SyncSourceActionView):
    success_message = gettext_lazy("Sync source updated.")

    def perform(self, form):
        from . import sync

        sync.sync_source_update(actor=self.request.user, source=self.object, enabled=not self.object.enabled)


class DatasetShareView(DatasetObjectMixin, ScopedDetailView):
    """Share a subset of the dataset's records (chosen fields, optional filters) into another
    dataset of the department or a leading group's pool; the share runs as a load of the target."""

    template_name = "datapool/dataset_share.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.object = self.get_object()
        self.manage_check()
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        form = ShareForm(user=request.user, dataset=self.object)
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        from . import sharing

        form = ShareForm(request.POST, user=request.user, dataset=self.object)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = sharing.dataset_share(
                    actor=request.user,
                    source=self.object,
                    target=data["target"],
                    fields=data["shared_fields"],
                    filters=data["filters"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(
                    request,
                    _("Sharing into %(dataset)s: the records load in the background.") % {"dataset": job.dataset},
                )
                return redirect("portal:ingestion-detail", pk=job.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)


# --- loads ---------------------------------------------------------------------------------------


class IngestionListView(ScopedListView):
    """Loads into my departments' datasets (and those my departments submitted)."""

    list_selector = selectors.dataset_jobs
    filterset_class = IngestionJobFilter
    template_name = "datapool/ingestion_list.html"
    paginate_by = 50

    def get_filterset(self, filterset_class):
        filterset = super().get_filterset(filterset_class)
        style_job_filter(filterset.form, jobs=filterset.queryset)
        return filterset


class IngestionDetailView(ScopedDetailView):
    """One load: a live progress bar, counters, the error in the reader's language, the quality
    score and the rejected rows with line, field and reason."""

    list_selector = selectors.dataset_jobs
    template_name = "datapool/ingestion_detail.html"
    context_object_name = "job"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        job = self.object
        context |= self.live_context(job)
        if job.is_finished:
            context |= self.results_context(job)
        context["can_manage"] = may(self.request.user, "manage", job.dataset)
        context["columns_used"] = column_pairs(job.dataset.standard, job.columns)
        return context

    def live_context(self, job) -> dict:
        return {"error": job.error_message(), "duplicate_of": (job.options or {}).get("duplicate_of")}

    def results_context(self, job) -> dict:
        rejects = selectors.job_rejects(user=self.request.user, job=job)
        paginator = Paginator(rejects, REJECTS_PER_PAGE)
        page = paginator.get_page(self.request.GET.get("page"))
        specs = {s["name"]: s for s in job.dataset.standard.fields}
        rows = [
            {
                "line": r.line,
                "field": field_label(specs[r.field]) if r.field in specs else r.field,
                "column": (job.columns or {}).get(r.field, ""),
                "reason": r.reason_text(),
                "value": show((r.raw or {}).get((job.columns or {}).get(r.field, ""), "")),
            }
            for r in page.object_list
        ]
        return {"rejects": rows, "page_obj": page, "is_paginated": page.has_other_pages(), "paginator": paginator}


# htmx carries its own request header; django-htmx is not installed, so read it directly.
def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


class IngestionProgressView(IngestionDetailView):
    """The live part of a job's page, polled every second while the job runs. Once finished the
    fragment stops polling and brings the results along (an out-of-band swap)."""

    template_name = "datapool/ingestion_progress.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["oob"] = is_htmx(self.request)
        return context

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


class _Echo:
    def write(self, value):
        return value


class IngestionRejectsCsvView(IngestionDetailView):
    """The rejected rows as CSV: line, field, reason, then the columns as read, in the mapping's
    order, so a steward fixes them in a spreadsheet and loads the same file again (only the fixed
    rows). UTF-8 with a BOM for spreadsheet programs; formula-like cells are neutralised."""

    def get(self, request, *args, **kwargs):
        self.object = job = self.get_object()
        rejects = selectors.job_rejects(user=self.request.user, job=job).only("line", "field", "reason", "raw")
        mapped: list[str] = []
        for spec in job.dataset.standard.fields:
            column = (job.columns or {}).get(spec["name"])
            if column and column not in mapped:
                mapped.append(column)
        extra = sorted(
            {k for raw in rejects.values_list("raw", flat=True).iterator() for k in (raw or {})} - set(mapped)
        )
        columns = mapped + extra
        specs = {s["name"]: s for s in job.dataset.standard.fields}
        writer = csv_writer(_Echo())

        def lines():
            header = [
                pgettext("rejected row", "Line"),
                pgettext("rejected row", "Field"),
                pgettext("rejected row", "Reason"),
            ]
            yield "\ufeff" + writer.writerow([*header, *columns])
            for reject in rejects.iterator(chunk_size=2000):
                raw = reject.raw or {}
                label = field_label(specs[reject.field]) if reject.field in specs else reject.field
                yield writer.writerow(
                    csv_cell(v)
                    for v in (reject.line, label, reject.reason_text(), *(show(raw.get(c)) for c in columns))
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="rejected-rows-job-{job.pk}.csv"'
        return response


# --- the asset register (数据资产) ---------------------------------------------------------------


class AssetRegisterView(ScopedViewMixin, ListView):
    """Per dataset of my departments (an information office: of its group's departments): owner,
    size, freshness, quality, and reads, rows and reading departments over the last 30 days."""

    list_selector = selectors.asset_register
    template_name = "datapool/asset_register.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        datasets = list(context["object_list"])
        titles = [d.title for d in datasets]
        context |= {
            "now": timezone.now(),
            "size_chart": chart("bar", titles, [(_("Records"), [d.record_count for d in datasets])]),
            "use_chart": chart(
                "bar",
                titles,
                [
                    (_("Reads (30 days)"), [d.reads_30d or 0 for d in datasets]),
                    (_("Reading departments (30 days)"), [d.users_30d or 0 for d in datasets]),
                ],
            ),
            "quality_chart": chart(
                "bar", titles, [(_("Quality score"), [d.quality_score or 0 for d in datasets])], y_min=0, y_max=100
            ),
        }
        return context


class AssetDetailView(ScopedDetailView):
    """One asset: its size and quality, and who read it over the last 30 days."""

    list_selector = selectors.asset_register
    template_name = "datapool/asset_detail.html"
    context_object_name = "dataset"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        usage = selectors.dataset_usage(user=self.request.user, dataset=self.object)
        names = [row["department__name"] for row in usage]
        context |= {
            "now": timezone.now(),
            "usage": usage,
            "usage_chart": chart(
                "bar",
                names,
                [(_("Reads"), [row["reads"] for row in usage]), (_("Rows read"), [row["rows"] for row in usage])],
                horizontal=True,
            ),
        }
        return context


# --- standards (数据标准) ------------------------------------------------------------------------


class StandardListView(ScopedViewMixin, ListView):
    list_selector = selectors.standard_list
    template_name = "datapool/standard_list.html"
    paginate_by = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for standard in context["object_list"]:
            standard.field_labels = [field_label(s) for s in standard.fields]
        return context


class StandardDetailView(ScopedDetailView):
    """Fields (with code lists, patterns and ranges), identity fields, quality and tagging rules,
    the JSON Schema of one record, and the datasets that use the standard."""

    list_selector = selectors.standard_list
    template_name = "datapool/standard_detail.html"
    context_object_name = "standard"

    def get_context_data(self, **kwargs):
        from .standards import json_schema

        context = super().get_context_data(**kwargs)
        standard = self.object
        specs = {s["name"]: s for s in standard.fields}
        language = get_language()

        def label(name):
            return field_label(specs[name]) if name in specs else name

        context |= {
            "fields": field_rows(standard),
            "key_labels": [label(k) for k in standard.key_fields or []],
            "observed_label": label(standard.observed_field) if standard.observed_field else "",
            "region_label": label(standard.region_field) if standard.region_field else "",
            "quality_rules": [(rule, label(rule.field) if rule.field else "") for rule in standard.quality_rules.all()],
            "tag_rules": [
                (rule, label(rule.field), rule.tag.label(language), json.dumps(rule.value, ensure_ascii=False))
                for rule in standard.tag_rules.all()
            ],
            "schema": json.dumps(json_schema(standard), ensure_ascii=False, indent=2),
            "datasets": selectors.dataset_catalog(user=self.request.user)
            .filter(standard=standard)
            .prefetch_related(None),
        }
        return context
