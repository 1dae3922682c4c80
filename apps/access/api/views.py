"""Data-access API (按需取用): requests and their staged approval, grants with the time they have
left, break-glass access and its review, records read through a grant (JSON by cursor, CSV), the
demand board and subscriptions.

Reads come from the access selectors (built on `restrict`); each write parses its payload,
resolves the objects it names, calls one service and renders. Objects named in a payload:
- the acting `department` is the caller's own: one the caller cannot see is a 404 like any hidden
  object (the probe is recorded), one they see but may not act for is a 403, both before anything
  else in the payload is looked at (as on the portal's forms);
- other references (`dataset`, `incident`, tags) are input fields: one the caller cannot see is a
  400 on that field, worded like a nonexistent one.

Records: `GET /datasets/{id}/granted-records/` (cursor pages) and `…/granted-records.csv`. They
are read only through a grant valid at this very moment (or by the owner department, whole):
expired, revoked, its incident closed, or no grant at all, and the route answers 404 as if the
dataset's records did not exist. Every page is one `data.read` ledger event, every export one
`data.export` event with its row count and the SHA-256 of exactly the bytes sent.
"""

from __future__ import annotations

import hashlib
import io
import json

import django_filters
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from apps.access import selectors, services
from apps.access.choices import DemandStatus, RequestStatus
from apps.access.models import DataDemand, DataGrant, DataRequest, Subscription
from apps.accounts.models import IntegrationKey
from apps.accounts.selectors import user_is_verified
from apps.core.api.pagination import StrictPageSizeMixin
from apps.core.api.views import IDEMPOTENCY_HEADER, ScopedViewSet, ScopedViewSetMixin
from apps.core.csv import csv_cell, csv_writer
from apps.core.exceptions import ServiceError
from apps.core.scoping import authorize
from apps.core.views import hidden_lookup
from apps.datapool.models import Dataset, Tag
from apps.datapool.selectors import dataset_catalog
from apps.incidents.models import Incident
from apps.incidents.selectors import incident_list
from apps.organizations.models import Department
from apps.organizations.selectors import department_get

from .serializers import (
    AccessReasonSerializer,
    DataDemandSerializer,
    DataGrantSerializer,
    DataRequestCreateSerializer,
    DataRequestDetailSerializer,
    DataRequestSerializer,
    DecideSerializer,
    DemandCloseSerializer,
    DemandCreateSerializer,
    EmergencyAccessSerializer,
    GrantedRecordPageSerializer,
    ReviewSerializer,
    SubscriptionCreateSerializer,
    SubscriptionSerializer,
)

EXPORT_MAX_ROWS = 100_000  # beyond this, the cursor pull is the way (as on the portal)
NO_PAGE_FILTERS = {"filter_backends": [], "pagination_class": None}  # one object by id


# --- resolving the objects a payload names ----------------------------------------------------


def _acting_department(request, pk: int | None, action: str) -> Department:
    """The department the caller acts for: the one named, or else their only department where
    they may `action`. Unseen: 404 (probe recorded); seen but not theirs to act for: 403."""
    if pk is None:
        mine = list(Department.objects.restrict(request.user, action).values_list("pk", flat=True)[:2])
        if len(mine) != 1:
            raise ValidationError({"department": [_("Choose the department you act for (one of yours).")]})
        pk = mine[0]
    try:
        department = department_get(user=request.user, pk=pk)
    except Department.DoesNotExist:
        hidden_lookup(request, Department, "pk", pk)
        raise Http404 from None
    authorize(request.user, action, department)  # the service's own check, before the rest is read
    return department


def _unknown(request, model, value, field: str, message: str) -> ValidationError:
    hidden_lookup(request, model, "pk", value)
    return ValidationError({field: [message]})


def _dataset(request, pk: int) -> Dataset:
    dataset = dataset_catalog(user=request.user).filter(pk=pk).first()
    if dataset is None:
        raise _unknown(request, Dataset, pk, "dataset", _("Unknown dataset."))
    return dataset


def _incident(request, pk: int | None) -> Incident | None:
    if pk is None:
        return None
    incident = incident_list(user=request.user).filter(pk=pk).first()
    if incident is None:
        raise _unknown(request, Incident, pk, "incident", _("Unknown incident."))
    return incident


def _tags(codes: list[str]) -> list[Tag]:
    codes = list(dict.fromkeys(codes))
    found = {t.code: t for t in Tag.objects.filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise ValidationError({"tags": [_("Unknown tag: %(code)s") % {"code": code} for code in missing]})
    return [found[code] for code in codes]


def _idempotency_key(request) -> str:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > 64:  # never truncated: two long keys with one prefix would be one request
        raise ValidationError({"idempotency_key": [_("An Idempotency-Key holds at most 64 characters.")]})
    return key


def _payload(request, serializer_class) -> dict:
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


# --- filters (the lists narrow the selector's rows, never widen them) ---------------------------


class DataRequestFilter(django_filters.FilterSet):
    side = django_filters.ChoiceFilter(
        choices=[("sent", "sent"), ("received", "received"), ("decide", "decide")],
        method="filter_side",
        help_text="sent: my departments' requests; received: for our datasets or as the information office; "
        "decide: submitted requests waiting for a decision I may take.",
    )
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices)
    dataset = django_filters.NumberFilter(field_name="dataset_id")

    class Meta:
        model = DataRequest
        fields = ["side", "status", "dataset"]

    def filter_side(self, queryset, name, value):
        user = self.request.user
        if value == "decide":
            return queryset.filter(pk__in=selectors.approval_queue(user=user).values("pk"))
        return selectors.request_side(user=user, requests=queryset, side=value)


class DataGrantFilter(django_filters.FilterSet):
    side = django_filters.ChoiceFilter(
        choices=[("held", "held"), ("issued", "issued")],
        method="filter_side",
        help_text="held: grants my departments hold; issued: grants others hold on datasets we own or oversee.",
    )
    active = django_filters.BooleanFilter(method="filter_active", help_text="Valid right now (or not).")
    emergency = django_filters.BooleanFilter(field_name="is_emergency")
    unreviewed = django_filters.BooleanFilter(
        method="filter_unreviewed", help_text="Emergency access not yet reviewed."
    )
    dataset = django_filters.NumberFilter(field_name="dataset_id")

    class Meta:
        model = DataGrant
        fields = ["side", "active", "emergency", "unreviewed", "dataset"]

    def filter_side(self, queryset, name, value):
        return selectors.grant_side(user=self.request.user, grants=queryset, side=value)

    def filter_active(self, queryset, name, value):
        return queryset.filter(DataGrant.active_q()) if value else queryset.exclude(DataGrant.active_q())

    def filter_unreviewed(self, queryset, name, value):
        q = {"is_emergency": True, "reviewed_at__isnull": True}
        return queryset.filter(**q) if value else queryset.exclude(**q)


class DataDemandFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DemandStatus.choices)
    department = django_filters.NumberFilter(field_name="department_id")

    class Meta:
        model = DataDemand
        fields = ["status", "department", "standard_code"]


class SubscriptionFilter(django_filters.FilterSet):
    department = django_filters.NumberFilter(field_name="department_id")
    dataset = django_filters.NumberFilter(field_name="dataset_id")
    incident = django_filters.NumberFilter(field_name="incident_id")

    class Meta:
        model = Subscription
        fields = ["department", "dataset", "incident"]


# --- requests ---------------------------------------------------------------------------------


class DataRequestViewSet(ScopedViewSet):
    """Requests my departments sent, and those they received (for their datasets, or as the
    information office over them; drafts stay with the requester)."""

    list_selector = selectors.request_list
    serializer_class = DataRequestSerializer
    filterset_class = DataRequestFilter
    lookup_value_regex = "[0-9]+"

    def _detail(self, req: DataRequest, code: int = status.HTTP_200_OK) -> Response:
        user = self.request.user
        req = selectors.request_list(user=user).get(pk=req.pk)  # fresh, with its joins, through scope
        req.approval_list = list(req.approvals.select_related("decided_by", "department"))
        req.grant_id_seen = selectors.grant_list(user=user).filter(request=req).values_list("pk", flat=True).first()
        return Response(DataRequestDetailSerializer(req).data, status=code)

    @extend_schema(responses=DataRequestDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """One request with its decisions so far (and its grant once granted)."""
        return self._detail(self.get_object())

    @extend_schema(
        request=DataRequestCreateSerializer,
        responses={
            201: DataRequestDetailSerializer,
            200: OpenApiResponse(DataRequestDetailSerializer, description="A replay: the first request."),
        },
        filters=False,
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request):
        """Ask another department for its records: the fields in clear and masked, the rows (a
        filter), purpose, legal basis, incident and duration. Submitted at once unless `submit` is
        false. Heads and data stewards of the requesting department."""
        data = _payload(request, DataRequestCreateSerializer)
        department = _acting_department(request, data["department"], "request_data")
        dataset = _dataset(request, data["dataset"])
        incident = _incident(request, data["incident"])
        started = timezone.now()
        req = services.request_create(
            actor=request.user,
            department=department,
            dataset=dataset,
            fields=data["fields"],
            masked_fields=data["masked_fields"],
            row_filter=data["row_filter"],
            purpose=data["purpose"],
            legal_basis=data["legal_basis"],
            duration_hours=data["duration_hours"],
            incident=incident,
            submit=data["submit"],
            idempotency_key=_idempotency_key(request),
        )
        replayed = req.created_at < started
        return self._detail(req, status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=DataRequestDetailSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def submit(self, request, pk=None):
        """Submit a draft (the requesting department's heads and stewards)."""
        return self._detail(services.request_submit(actor=request.user, request=self.get_object()))

    @extend_schema(request=AccessReasonSerializer, responses=DataRequestDetailSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def withdraw(self, request, pk=None):
        """Withdraw a draft or an undecided request (the requesting department's heads and stewards)."""
        req = self.get_object()
        data = _payload(request, AccessReasonSerializer)
        return self._detail(services.request_withdraw(actor=request.user, request=req, reason=data["reason"]))

    @extend_schema(request=DecideSerializer, responses=DataRequestDetailSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def decide(self, request, pk=None):
        """Approve or reject (with a reason) the next stage: the owner department's head first,
        then the information office (a second, different office head at depth 3). The last
        approval creates the grant, exactly once. Approving a sensitive or secret dataset's request
        needs a session verified with a second factor (403 `second_factor_required` otherwise);
        an integration key never qualifies."""
        req = self.get_object()
        data = _payload(request, DecideSerializer)
        # An integration key is not a person with a second factor; a session is, once verified.
        second_factor = not isinstance(request.auth, IntegrationKey) and user_is_verified(request.user)
        req = services.request_decide(
            actor=request.user,
            request=req,
            decision=data["decision"],
            reason=data["reason"],
            second_factor=second_factor,
        )
        return self._detail(req)


# --- grants -----------------------------------------------------------------------------------


class DataGrantViewSet(ScopedViewSet):
    """Grants my departments hold, and those on datasets we own or oversee, with the time they
    have left; revocation, break-glass access and its review."""

    list_selector = selectors.grant_list
    serializer_class = DataGrantSerializer
    filterset_class = DataGrantFilter
    lookup_value_regex = "[0-9]+"

    def get_serializer_context(self):
        return super().get_serializer_context() | {"now": timezone.now()}

    def _detail(self, grant: DataGrant, code: int = status.HTTP_200_OK) -> Response:
        grant = selectors.grant_list(user=self.request.user).get(pk=grant.pk)  # fresh, through scope
        return Response(DataGrantSerializer(grant, context={"now": timezone.now()}).data, status=code)

    @extend_schema(request=AccessReasonSerializer, responses=DataGrantSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def revoke(self, request, pk=None):
        """End the grant now (the owner department's head or the information office); reads stop at once."""
        grant = self.get_object()
        data = _payload(request, AccessReasonSerializer)
        return self._detail(services.grant_revoke(actor=request.user, grant=grant, reason=data["reason"]))

    @extend_schema(request=ReviewSerializer, responses=DataGrantSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def review(self, request, pk=None):
        """Review emergency access afterwards (the owner's head or the information office): keep
        it, or revoke it at once."""
        grant = self.get_object()
        data = _payload(request, ReviewSerializer)
        grant = services.emergency_access_review(
            actor=request.user, grant=grant, approve=data["approve"], note=data["note"]
        )
        return self._detail(grant)

    @extend_schema(
        request=EmergencyAccessSerializer,
        responses={
            201: DataGrantSerializer,
            200: OpenApiResponse(
                DataGrantSerializer, description="Already open for this department, dataset and incident: that grant."
            ),
        },
        filters=False,
    )
    @action(detail=False, methods=["post"], **NO_PAGE_FILTERS)
    def emergency(self, request):
        """Break-glass (紧急调用): a department head opens access for at most 12 hours on an active,
        real incident of severity I or II. The owner and the information office are told at once
        and review it afterwards; every read through it is flagged in the ledger. One at a time per
        department, dataset and incident: sending it again answers the open grant (200)."""
        data = _payload(request, EmergencyAccessSerializer)
        department = _acting_department(request, data["department"], "emergency_access")
        dataset = _dataset(request, data["dataset"])
        incident = _incident(request, data["incident"])
        started = timezone.now()
        grant = services.emergency_access_open(
            actor=request.user,
            department=department,
            dataset=dataset,
            incident=incident,
            justification=data["justification"],
            hours=data["hours"],
        )
        return self._detail(grant, status.HTTP_200_OK if grant.created_at < started else status.HTTP_201_CREATED)


# --- records through a grant ------------------------------------------------------------------


class GrantedRecordPagination(StrictPageSizeMixin, CursorPagination):
    """Bulk pulls: a stable cursor over ids (new loads never shift a page), no COUNT(*)."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class GrantedRecordViewSet(ScopedViewSetMixin, GenericViewSet):
    """A dataset's records as a grant lets my department see them: the grant's rows only (its
    filter), its fields in clear, its masked fields masked, every other field absent. The owner
    department reads its own records whole. Anyone else: 404, even though the catalog shows the
    dataset (its records are not there for them; the refusal is recorded)."""

    list_selector = dataset_catalog  # the dataset is found in the catalog; its records through the grant
    filter_backends = []
    pagination_class = GrantedRecordPagination
    lookup_value_regex = "[0-9]+"

    def filter_queryset(self, queryset):
        return queryset.prefetch_related(None)  # the catalog's tags are not rendered here

    def _reader(self):
        dataset = self.get_object()
        grant = selectors.grant_for_reading(user=self.request.user, dataset=dataset)  # 404 without a valid grant
        return dataset, grant, selectors.presenter_for(grant, dataset)

    def _records(self, dataset, grant):
        return selectors.grant_records(user=self.request.user, dataset=dataset, grant=grant).values("id", "payload")

    @extend_schema(
        responses=GrantedRecordPageSerializer,
        parameters=[
            OpenApiParameter("cursor", str, description="The pagination cursor value (from `next`)."),
            OpenApiParameter("page_size", int, description="Records per page (default 100, at most 1000)."),
        ],
    )
    def records(self, request, pk=None):
        """Records oldest first, by cursor: follow `next` for a bulk pull. Each page is one
        `data.read` event in the ledger (flagged when read through emergency access)."""
        dataset, grant, presenter = self._reader()
        page = self.paginate_queryset(self._records(dataset, grant))
        services.read_record(
            actor=request.user,
            dataset=dataset,
            grant=grant,
            query={
                "view": "api",
                "cursor": request.query_params.get("cursor") or None,
                "size": self.paginator.get_page_size(request),
            },
            rows=len(page),
        )
        body = {
            "dataset": dataset.pk,
            "grant": getattr(grant, "pk", None),
            "columns": presenter.columns,
            "masked": [name for name, _mask in presenter.masked],
            "next": self.paginator.get_next_link(),
            "previous": self.paginator.get_previous_link(),
            # rendered by hand: a page of up to 1,000 rows through a serializer per row costs more than the query
            "results": [{"id": row["id"], "payload": presenter(row["payload"] or {})} for row in page],
        }
        return Response(body)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description="The same records as CSV (UTF-8 with a BOM, formula-safe cells): `id` and the fields shown, "
        f"masked as on the JSON route; at most {EXPORT_MAX_ROWS} rows (more: use the cursor pull). One "
        "`data.export` ledger event records the row count and the SHA-256 of exactly these bytes, which the "
        "`X-Content-SHA256` header repeats.",
    )
    def export(self, request, pk=None):
        dataset, grant, presenter = self._reader()
        rows = list(self._records(dataset, grant).values_list("id", "payload")[: EXPORT_MAX_ROWS + 1])
        if len(rows) > EXPORT_MAX_ROWS:
            raise ServiceError(
                _("More than %(n)d records: narrow the request, or use the paged bulk pull.") % {"n": EXPORT_MAX_ROWS},
                code="too_many_rows",
            )
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv_writer(out)
        writer.writerow(["id", *presenter.columns])
        for pk_, payload in rows:
            shown = presenter(payload or {})
            writer.writerow([pk_, *[csv_cell(_cell(shown.get(name))) for name in presenter.columns]])
        content = out.getvalue().encode("utf-8")
        services.read_record(
            actor=request.user,
            dataset=dataset,
            grant=grant,
            query={"view": "api-csv"},
            rows=len(rows),
            export=True,
            content=content,
        )
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="dataset-{dataset.pk}-{timezone.localtime():%Y%m%d-%H%M}.csv"'
        )
        response["Cache-Control"] = "no-store"
        response["X-Content-SHA256"] = hashlib.sha256(content).hexdigest()
        response["X-Row-Count"] = str(len(rows))
        return response


# --- demands ----------------------------------------------------------------------------------


class DataDemandViewSet(ScopedViewSet):
    """The demand board (匹配供求): what departments need, with the catalog datasets suggested to
    them. Open to all staff with a seat: it names needs and holds no data."""

    list_selector = selectors.demand_board
    serializer_class = DataDemandSerializer
    filterset_class = DataDemandFilter
    lookup_value_regex = "[0-9]+"

    def _with_suggestions(self, queryset):
        suggested = dataset_catalog(user=self.request.user).prefetch_related(None).order_by("title", "id")
        return queryset.prefetch_related(Prefetch("suggested", queryset=suggested, to_attr="suggested_seen"))

    def filter_queryset(self, queryset):
        return self._with_suggestions(super().filter_queryset(queryset))

    def _detail(self, demand: DataDemand, code: int = status.HTTP_200_OK) -> Response:
        demand = self._with_suggestions(selectors.demand_board(user=self.request.user)).get(pk=demand.pk)
        return Response(DataDemandSerializer(demand).data, status=code)

    @extend_schema(
        request=DemandCreateSerializer,
        responses={
            201: DataDemandSerializer,
            200: OpenApiResponse(DataDemandSerializer, description="Already posted and open: that demand."),
        },
        filters=False,
    )
    def create(self, request):
        """Post what your department needs without knowing who has it; providers whose datasets
        match are told, and datasets already in the catalog that fit are suggested at once. The
        same need (title) posted again while open answers the open demand (200)."""
        data = _payload(request, DemandCreateSerializer)
        department = _acting_department(request, data["department"], "request_data")
        incident = _incident(request, data["incident"])
        started = timezone.now()
        demand = services.demand_post(
            actor=request.user,
            department=department,
            title=data["title"],
            description=data["description"],
            standard_code=data["standard_code"],
            tags=_tags(data["tags"]),
            incident=incident,
        )
        return self._detail(demand, status.HTTP_200_OK if demand.created_at < started else status.HTTP_201_CREATED)

    @extend_schema(request=DemandCloseSerializer, responses=DataDemandSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def close(self, request, pk=None):
        """Close your department's demand: met, or closed without the data."""
        demand = self.get_object()
        data = _payload(request, DemandCloseSerializer)
        return self._detail(services.demand_close(actor=request.user, demand=demand, met=data["met"]))


# --- subscriptions ----------------------------------------------------------------------------


class SubscriptionViewSet(ScopedViewSet):
    """What my departments follow (数字订阅): datasets they hold a valid grant on (or own), and
    incidents; each new load or incident change reaches their inbox."""

    list_selector = selectors.subscription_list
    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter
    lookup_value_regex = "[0-9]+"

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).select_related("dataset__owner")

    @extend_schema(
        request=SubscriptionCreateSerializer,
        responses={
            201: SubscriptionSerializer,
            200: OpenApiResponse(SubscriptionSerializer, description="Already followed: that subscription."),
        },
        filters=False,
    )
    def create(self, request):
        """Follow a dataset or an incident (heads and data stewards; following twice is harmless)."""
        data = _payload(request, SubscriptionCreateSerializer)
        department = _acting_department(request, data["department"], "request_data")
        dataset = _dataset(request, data["dataset"]) if data["dataset"] is not None else None
        incident = _incident(request, data["incident"])
        started = timezone.now()
        sub = services.subscribe(actor=request.user, department=department, dataset=dataset, incident=incident)
        sub = self.filter_queryset(selectors.subscription_list(user=request.user)).get(pk=sub.pk)
        code = status.HTTP_200_OK if sub.created_at < started else status.HTTP_201_CREATED
        return Response(SubscriptionSerializer(sub).data, status=code)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Stop following (the department's heads and data stewards)."""
        services.unsubscribe(actor=request.user, subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
