"""Data-pool API (the emergency big-data resource pool). Reads come from the datapool selectors
(built on `restrict`); each write parses its payload, resolves the objects it names, calls one
service and renders.

Who sees what is decided by the scope rules, never here:
- metadata (standards, the catalog, quality history) is discoverable by all staff; a secret
  dataset only by its owner and the information offices over it, so for everyone else it does
  not exist (404);
- records, load jobs, rejected rows, mappings and usage belong to the owner department (a
  department holding a valid data-access grant also reads records: the grant's rows and fields,
  masked as it says). A dataset one may discover but not read answers its records, usage,
  duplicates and diff routes exactly like a nonexistent one (404): those collections are not
  there for the caller, and the refusal is recorded.

Loads are asynchronous: a batch or an upload answers 202 with the job and a `Location` to poll.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from apps.access.services import read_record
from apps.core.api.pagination import StrictPageSizeMixin
from apps.core.api.views import JsonErrorsNegotiation, ScopedReadOnlyViewSet, ScopedViewSet, ScopedViewSetMixin
from apps.core.csv import csv_cell, csv_writer
from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.views import hidden_lookup
from apps.datapool import processing, selectors, services, sharing, sync
from apps.datapool.errors import REASONS, LoadError, reason_text
from apps.datapool.filters import DatasetFilter, IngestionJobFilter
from apps.datapool.models import ColumnMapping, Dataset, DataStandard, IngestionJob, Tag
from apps.datapool.readers import check_upload
from apps.organizations.models import Department, LeadingGroup
from apps.organizations.selectors import department_get, leading_group_list

from .serializers import (
    AssetSerializer,
    DatasetCreateSerializer,
    DatasetSerializer,
    DatasetUpdateSerializer,
    DiffQuerySerializer,
    DiffSerializer,
    DuplicateGroupSerializer,
    FusedQuerySerializer,
    FusedRowSerializer,
    JobSerializer,
    MappingCreateSerializer,
    MappingSerializer,
    QualityCheckSerializer,
    RecordBatchSerializer,
    RecordSerializer,
    RejectSerializer,
    ShareSerializer,
    StandardSerializer,
    SyncSourceSerializer,
    SyncSourceUpdateSerializer,
    SyncSourceWriteSerializer,
    TagSerializer,
    UploadSerializer,
    UsageSerializer,
)

# --- resolving the objects a payload names ----------------------------------------------------


def _own_department(request, pk: int) -> Department:
    """The acting department: out of the caller's sight it does not exist (404, probe recorded)."""
    try:
        return department_get(user=request.user, pk=pk)
    except Department.DoesNotExist:
        hidden_lookup(request, Department, "pk", pk)
        raise Http404 from None


def _owner_department(request, pk: int | None) -> Department:
    """The department a new dataset belongs to: the one named, or else the caller's only
    department where they are a steward or head (the service checks they may publish there)."""
    if pk is None:
        pk = selectors.default_owner_department_id(user=request.user)
        if pk is None:
            raise ValidationError({"department": [_("Choose the owner department (one of yours).")]})
    return _own_department(request, pk)


def _unknown(request, model, lookup: str, value, field: str, message: str) -> ValidationError:
    hidden_lookup(request, model, lookup, value)
    return ValidationError({field: [message]})


def _standard(request, pk: int) -> DataStandard:
    standard = selectors.standard_list(user=request.user).filter(pk=pk).first()
    if standard is None:
        raise _unknown(request, DataStandard, "pk", pk, "standard", _("Unknown data standard."))
    return standard


def _tags(request, codes: list[str]) -> list[Tag]:
    codes = list(dict.fromkeys(codes))
    found = {t.code: t for t in selectors.tag_list(user=request.user).filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise ValidationError({"tags": [_("Unknown tag: %(code)s") % {"code": code} for code in missing]})
    return [found[code] for code in codes]


def _leading_group(request, pk: int) -> LeadingGroup:
    group = leading_group_list(user=request.user).filter(pk=pk).first()
    if group is None:
        raise _unknown(request, LeadingGroup, "pk", pk, "leading_group", _("Unknown leading group."))
    return group


def _dataset(request, pk: int, field: str) -> Dataset:
    dataset = selectors.dataset_catalog(user=request.user).filter(pk=pk).first()
    if dataset is None:
        raise _unknown(request, Dataset, "pk", pk, field, _("Unknown dataset."))
    return dataset


def _mapping(request, dataset: Dataset, pk: int) -> ColumnMapping:
    mapping = selectors.dataset_mappings(user=request.user, dataset=dataset).filter(pk=pk).first()
    if mapping is None:
        raise _unknown(request, ColumnMapping, "pk", pk, "mapping", _("Unknown mapping."))
    return mapping


def _load(request, dataset: Dataset, pk: int, field: str) -> IngestionJob:
    job = selectors.dataset_jobs(user=request.user, dataset=dataset).filter(pk=pk).first()
    if job is None:
        raise _unknown(request, IngestionJob, "pk", pk, field, _("Unknown load of this dataset."))
    return job


def _query(request, serializer_class) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _idempotency_key(request) -> str:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > 64:  # never truncated: two long keys with one prefix would be one submission
        raise ValidationError({"idempotency_key": [_("An Idempotency-Key holds at most 64 characters.")]})
    return key


def _owners_only(read):
    """Run a read of the owner's data; a refusal on a dataset the caller may discover answers 404
    like a nonexistent dataset (the collection is not there for them; the refusal is recorded)."""
    try:
        return read()
    except AccessDenied as exc:
        exc.hidden = True
        raise


def _record_reader(user, dataset: Dataset):
    """(records, presenter, grant) for a read of `dataset`'s records. The owner department reads
    whole records; a grantee reads its grant's rows, with its fields in clear, masked or left out
    as the grant says (as the portal's record table does). AccessDenied (404) when neither holds."""
    from apps.access.selectors import grant_for_reading, grant_records, presenter_for

    grant = grant_for_reading(user=user, dataset=dataset)
    if grant is not None:
        return grant_records(user=user, dataset=dataset, grant=grant), presenter_for(grant, dataset), grant
    return selectors.dataset_records(user=user, dataset=dataset), None, None


def _accepted(request, job: IngestionJob, *, replayed: bool) -> Response:
    """202 and the job (with its Location to poll); 200 and the same job for a replay."""
    job = selectors.dataset_jobs(user=request.user).filter(pk=job.pk).first() or job
    body = JobSerializer(job).data
    code = status.HTTP_200_OK if replayed else status.HTTP_202_ACCEPTED
    return Response(body, status=code, headers={"Location": request.build_absolute_uri(body["url"])})


# --- pagination and schema helpers --------------------------------------------------------------


class RecordCursorPagination(StrictPageSizeMixin, CursorPagination):
    """Bulk pulls: a stable cursor over ids (new loads never shift a page), no COUNT(*)."""

    ordering = "id"
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000


NO_PAGE_FILTERS = {"filter_backends": []}  # detail routes address one object by id; no list filters
UPLOAD_PARSERS = [MultiPartParser, FormParser]
REQUIRED_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="One key per batch (at most 64 characters). Resending a batch with the same key answers 200 "
    "with the job of the first submission instead of loading it twice.",
)
OPTIONAL_IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Resending the upload with the same key answers 200 with the first job. The same file with the "
    "same mapping, loaded before, also answers 200 with the earlier job (a re-run adds nothing).",
)
LOAD_RESPONSES = {
    202: OpenApiResponse(JobSerializer, description="Queued: poll the job at the Location header."),
    200: OpenApiResponse(JobSerializer, description="A replay: the job of the first submission."),
}


def _upload_limit_bytes() -> int:
    return settings.DATAPOOL_MAX_UPLOAD_MB * 1024 * 1024


def _check_upload(upload) -> None:
    """Refuse at once, before anything is stored or queued, what the file's size and first bytes
    already show (the load would fail on it): not CSV, Excel or JSON lines (a program, an image, a
    web page), or an Excel archive beyond the limits (a zip bomb). An empty file is the service's."""
    if upload.size == 0:
        return
    try:
        check_upload(upload, upload.size)
    except LoadError as exc:
        code = "file_too_large" if exc.code in ("too_large", "zip_entries") else "unsupported_file_type"
        raise ServiceError(str(exc), field="file", code=code) from None


# --- viewsets ---------------------------------------------------------------------------------


class StandardViewSet(ScopedReadOnlyViewSet):
    """Data standards (数据标准): fields, identity fields, quality and tagging rules, record schema."""

    list_selector = selectors.standard_list
    serializer_class = StandardSerializer
    filterset_fields = ["code"]
    lookup_value_regex = "[0-9]+"


class TagViewSet(ScopedViewSetMixin, mixins.ListModelMixin, GenericViewSet):
    """The tag vocabulary."""

    list_selector = selectors.tag_list
    serializer_class = TagSerializer
    filter_backends = []


class DatasetViewSet(ScopedViewSet):
    """The catalog (元数据目录) and, per dataset, its records, loads, mappings, quality and use."""

    list_selector = selectors.dataset_catalog
    serializer_class = DatasetSerializer
    filterset_class = DatasetFilter
    lookup_value_regex = "[0-9]+"

    def _payload(self, serializer_class, **kwargs):
        payload = serializer_class(data=self.request.data, **kwargs)
        payload.is_valid(raise_exception=True)
        return payload.validated_data

    def _detail(self, dataset: Dataset, code: int = status.HTTP_200_OK) -> Response:
        dataset = selectors.dataset_catalog(user=self.request.user).get(pk=dataset.pk)  # fresh, with its joins
        return Response(DatasetSerializer(dataset).data, status=code)

    def _page(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    # --- metadata

    @extend_schema(request=DatasetCreateSerializer, responses={201: DatasetSerializer}, filters=False)
    def create(self, request):
        """Register a dataset of one of your departments (stewards and heads)."""
        data = self._payload(DatasetCreateSerializer)
        owner = _owner_department(request, data["department"])
        standard = _standard(request, data["standard"])
        tags = _tags(request, data["tags"])
        group = _leading_group(request, data["leading_group"]) if data["leading_group"] else None
        dataset = services.dataset_create(
            actor=request.user,
            owner=owner,
            standard=standard,
            title=data["title"],
            description=data["description"],
            source_kind=data["source_kind"],
            classification=data["classification"],
            update_frequency=data["update_frequency"],
            tags=tags,
            leading_group=group,
        )
        return self._detail(dataset, status.HTTP_201_CREATED)

    @extend_schema(request=DatasetUpdateSerializer, responses=DatasetSerializer, filters=False)
    def partial_update(self, request, pk=None):
        """Change the metadata (the owner's stewards and heads); other fields are ignored."""
        dataset = self.get_object()
        changes = dict(self._payload(DatasetUpdateSerializer))
        tags = _tags(request, changes.pop("tags")) if "tags" in changes else None
        return self._detail(services.dataset_update(actor=request.user, dataset=dataset, tags=tags, **changes))

    # --- records

    @extend_schema(
        responses=RecordSerializer(many=True),
        parameters=[
            OpenApiParameter("cursor", str, description="The pagination cursor value (from `next`)."),
            OpenApiParameter("page_size", int, description="Records per page (at most 5000)."),
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=RecordCursorPagination, **NO_PAGE_FILTERS)
    def records(self, request, pk=None):
        """The dataset's records, oldest first, by cursor (for bulk pulls): the owner department reads
        whole records; a department holding a valid data-access grant reads the rows and fields the
        grant opens, masked as it says. Everyone else gets 404."""
        dataset = self.get_object()
        queryset, presenter, grant = _owners_only(lambda: _record_reader(request.user, dataset))
        page = self.paginate_queryset(queryset)
        query = {"cursor": request.query_params.get("cursor", ""), "page_size": request.query_params.get("page_size")}
        read_record(actor=request.user, dataset=dataset, grant=grant, query=query, rows=len(page))
        return self.get_paginated_response(RecordSerializer(page, many=True, context={"presenter": presenter}).data)

    @extend_schema(request=RecordBatchSerializer, responses=LOAD_RESPONSES, parameters=[REQUIRED_IDEMPOTENCY_HEADER])
    @action(detail=True, methods=["post"], url_path="records/batch", url_name="records-batch", **NO_PAGE_FILTERS)
    def records_batch(self, request, pk=None):
        """Reporting (数据报送): push a batch of records (an integration key of the owner department).
        Validated like any load; rows that fail are kept as rejects on the job."""
        dataset = self.get_object()
        data = self._payload(RecordBatchSerializer)
        started = timezone.now()
        job = services.ingestion_submit_records(
            actor=request.user, dataset=dataset, records=data["records"], idempotency_key=_idempotency_key(request)
        )
        return _accepted(request, job, replayed=job.created_at < started)

    @extend_schema(request=UploadSerializer, responses=LOAD_RESPONSES, parameters=[OPTIONAL_IDEMPOTENCY_HEADER])
    @action(detail=True, methods=["post"], parser_classes=UPLOAD_PARSERS, **NO_PAGE_FILTERS)
    def uploads(self, request, pk=None):
        """Collection (数据采集): upload a CSV (UTF-8 or GB18030/GBK), Excel (.xlsx) or JSON-lines file
        (multipart). Columns come from `mapping`, from `columns`, or are guessed from the header."""
        dataset = self.get_object()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > _upload_limit_bytes() + 64 * 1024:  # refused before the body is read
            raise ServiceError(
                _("The file is larger than the limit of %(limit)s MB.") % {"limit": settings.DATAPOOL_MAX_UPLOAD_MB},
                field="file",
                code="file_too_large",
            )
        data = self._payload(UploadSerializer)
        _check_upload(data["file"])
        mapping = _mapping(request, dataset, data["mapping"]) if data["mapping"] else None
        started = timezone.now()
        job = services.ingestion_submit_file(
            actor=request.user,
            dataset=dataset,
            upload=data["file"],
            columns=data["columns"],
            mapping=mapping,
            save_mapping_as=data["save_mapping_as"],
            idempotency_key=_idempotency_key(request),
        )
        return _accepted(request, job, replayed=job.created_at < started)

    # --- mappings, quality, usage

    @extend_schema(methods=["GET"], responses=MappingSerializer(many=True))
    @extend_schema(methods=["POST"], request=MappingCreateSerializer, responses={201: MappingSerializer})
    @action(detail=True, methods=["get", "post"], **NO_PAGE_FILTERS)
    def mappings(self, request, pk=None):
        """Saved column mappings (提取) of the dataset (its department's); saving a name again replaces it."""
        dataset = self.get_object()
        if request.method == "GET":
            return self._page(selectors.dataset_mappings(user=request.user, dataset=dataset), MappingSerializer)
        data = self._payload(MappingCreateSerializer)
        mapping = services.mapping_save(actor=request.user, dataset=dataset, name=data["name"], columns=data["columns"])
        return Response(MappingSerializer(mapping).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=QualityCheckSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, **NO_PAGE_FILTERS)
    def quality(self, request, pk=None):
        """The dataset's quality score over time, oldest first (shown before anyone asks for the data)."""
        checks = selectors.quality_history(user=request.user, dataset=self.get_object())
        return Response(QualityCheckSerializer(checks, many=True).data)

    @extend_schema(responses=UsageSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, **NO_PAGE_FILTERS)
    def usage(self, request, pk=None):
        """Who read the dataset's records over the last 30 days, per department (the owner and the
        information offices over it)."""
        dataset = self.get_object()
        rows = _owners_only(lambda: selectors.dataset_usage(user=request.user, dataset=dataset))
        return Response(UsageSerializer(rows, many=True).data)

    # --- processing (数据处理)

    @extend_schema(responses=DuplicateGroupSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, **NO_PAGE_FILTERS)
    def duplicates(self, request, pk=None):
        """Exact and near duplicate groups among the dataset's records, largest first (the owner)."""
        dataset = self.get_object()
        return Response(_owners_only(lambda: processing.duplicates(user=request.user, dataset=dataset)))

    @extend_schema(parameters=[DiffQuerySerializer], responses=DiffSerializer)
    @action(detail=True, methods=["get"], pagination_class=None, **NO_PAGE_FILTERS)
    def diff(self, request, pk=None):
        """What changed between two loads (versions) of the dataset, by identity key (the owner)."""
        dataset = self.get_object()
        _owners_only(lambda: selectors.dataset_records(user=request.user, dataset=dataset))  # 404 before parsing
        query = _query(request, DiffQuerySerializer)
        old_job = _load(request, dataset, query["old"], "old")
        new_job = _load(request, dataset, query["new"], "new")
        result = processing.dataset_diff(user=request.user, dataset=dataset, old_job=old_job, new_job=new_job)
        return Response(result)

    # --- sharing (数据共享)

    @extend_schema(request=ShareSerializer, responses={202: LOAD_RESPONSES[202]})
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def share(self, request, pk=None):
        """Share chosen fields of the records matching `filters` into another dataset of the same
        department or a leading group's pool it sits in (the source's stewards and heads). Loaded
        like an upload into the target; poll the job at the Location header."""
        source = self.get_object()
        data = self._payload(ShareSerializer)
        target = _dataset(request, data["target"], "target")
        job = sharing.dataset_share(
            actor=request.user, source=source, target=target, fields=data["fields"], filters=data["filters"]
        )
        return _accepted(request, job, replayed=False)

    # --- database sync (数据库同步)

    @extend_schema(methods=["GET"], responses=SyncSourceSerializer(many=True))
    @extend_schema(methods=["POST"], request=SyncSourceWriteSerializer, responses={201: SyncSourceSerializer})
    @action(detail=True, methods=["get", "post"], url_path="sync-sources", url_name="sync-sources", **NO_PAGE_FILTERS)
    def sync_sources(self, request, pk=None):
        """The dataset's scheduled pulls from its department's SQL database (stewards and heads).
        The connection URL is write-only: stored encrypted, never shown again."""
        dataset = self.get_object()
        if request.method == "GET":
            return self._page(
                selectors.sync_source_list(user=request.user).filter(dataset=dataset), SyncSourceSerializer
            )
        data = self._payload(SyncSourceWriteSerializer)
        source = sync.sync_source_create(actor=request.user, dataset=dataset, **data)
        source = selectors.sync_source_list(user=request.user).get(pk=source.pk)
        return Response(SyncSourceSerializer(source).data, status=status.HTTP_201_CREATED)


class SyncSourceViewSet(ScopedViewSet):
    """Database sync sources: settings (the URL write-only) and "run now"."""

    list_selector = selectors.sync_source_list
    serializer_class = SyncSourceSerializer
    filterset_fields = ["dataset", "enabled"]
    lookup_value_regex = "[0-9]+"

    @extend_schema(request=SyncSourceUpdateSerializer, responses=SyncSourceSerializer, filters=False)
    def partial_update(self, request, pk=None):
        source = self.get_object()
        payload = SyncSourceUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        source = sync.sync_source_update(actor=request.user, source=source, **payload.validated_data)
        return Response(SyncSourceSerializer(selectors.sync_source_list(user=request.user).get(pk=source.pk)).data)

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(JobSerializer, description="Queued: poll the job at the Location header."),
            200: OpenApiResponse(JobSerializer, description="A run of this source is already waiting: that job."),
        },
    )
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def run(self, request, pk=None):
        """Pull the new rows now instead of at the next interval."""
        source = self.get_object()
        started = timezone.now()
        job = sync.sync_run_now(actor=request.user, source=source)
        return _accepted(request, job, replayed=job.created_at < started)


class FusedViewSet(ScopedViewSetMixin, GenericViewSet):
    """Fusion (融合): one row per entity across every dataset whose records the caller may read."""

    list_selector = selectors.dataset_catalog  # the rows come from processing.fused_view (built on restrict)
    filter_backends = []
    pagination_class = None

    @extend_schema(parameters=[FusedQuerySerializer], responses=FusedRowSerializer(many=True))
    def list(self, request):
        """Entities by linking key (ID number, phone or address), optionally one `value` or only some
        `datasets`; each field takes the newest observation, with its source dataset and record."""
        query = _query(request, FusedQuerySerializer)
        rows = processing.fused_view(
            user=request.user,
            key_kind=query["key"],
            value=query["value"] or None,
            dataset_ids=query["datasets"],
        )
        return Response(rows)


class IngestionJobViewSet(ScopedReadOnlyViewSet):
    """Loads (数据汇聚) into the caller's datasets, or submitted by the caller's departments."""

    list_selector = selectors.dataset_jobs
    serializer_class = JobSerializer
    filterset_class = IngestionJobFilter
    lookup_value_regex = "[0-9]+"

    @extend_schema(responses=RejectSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], **NO_PAGE_FILTERS)
    def rejects(self, request, pk=None):
        """The rows the load rejected, by line, with the field and the reason."""
        rejects = selectors.job_rejects(user=request.user, job=self.get_object())
        page = self.paginate_queryset(rejects)
        return self.get_paginated_response(RejectSerializer(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, filters=False)
    @action(
        detail=True,
        methods=["get"],
        url_path="rejects.csv",
        url_name="rejects-csv",
        content_negotiation_class=JsonErrorsNegotiation,
        **NO_PAGE_FILTERS,
    )
    def rejects_csv(self, request, pk=None):
        """The rejected rows as a spreadsheet-safe CSV (UTF-8 with a BOM): line, field, reason, then
        the row as read, to fix and upload again."""
        job = self.get_object()
        rejects = selectors.job_rejects(user=request.user, job=job)
        # the mapped source columns in the standard's field order (JSONB keeps no key order), then any others
        mapped = job.columns if isinstance(job.columns, dict) else {}
        columns = dict.fromkeys(str(mapped[name]) for name in job.dataset.standard.field_names if name in mapped)
        for raw in rejects.values_list("raw", flat=True).iterator(chunk_size=2000):
            columns.update(dict.fromkeys(raw if isinstance(raw, dict) else ()))
        header = ["line", "field", "reason", *columns]
        texts = {code: reason_text(code) for code in REASONS}  # in the request's language, before streaming

        def rows():
            buffer = io.StringIO()
            writer = csv_writer(buffer)

            def flush() -> str:
                text = buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                return text

            writer.writerow([csv_cell(value) for value in header])
            yield "\ufeff" + flush()
            for i, reject in enumerate(rejects.iterator(chunk_size=2000)):
                raw = reject.raw if isinstance(reject.raw, dict) else {}
                values = [
                    reject.line,
                    reject.field,
                    texts.get(reject.reason, reject.reason),
                    *(raw.get(c) for c in columns),
                ]
                writer.writerow([csv_cell(value) for value in values])
                if i % 500 == 499:
                    yield flush()
            yield flush()

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-rejects.csv"'
        return response


class AssetViewSet(ScopedViewSetMixin, mixins.ListModelMixin, GenericViewSet):
    """The asset register (数据资产): my departments' datasets (and, for an information office, its
    group's), with size, freshness, quality and use over the last 30 days."""

    list_selector = selectors.asset_register
    serializer_class = AssetSerializer
    filter_backends = []
