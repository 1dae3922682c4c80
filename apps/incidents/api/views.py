"""Incident API. Reads come from the incidents selectors (built on `restrict`); each write parses its
payload, resolves the objects it names through restricted selectors, calls one service and renders.

Objects named in a payload: the acting department (`department`, `issuer`) is the caller's own, so
one the caller cannot see is a 404 like any hidden object; other references (affected regions, a
leading group, the incident of a warning) are input fields, so one the caller cannot see is a 400
on that field, worded exactly like a nonexistent one. Either way a probe of an existing object is
recorded in the ledger (`hidden_lookup`).
"""

from __future__ import annotations

import io

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.core.api.filters import strict_booleans
from apps.core.api.views import IDEMPOTENCY_HEADER, JsonErrorsNegotiation, ScopedReadOnlyViewSet, ScopedViewSet
from apps.core.csv import csv_cell, csv_writer
from apps.core.views import hidden_lookup
from apps.incidents import selectors, services
from apps.incidents.choices import ReportKind, TimelineKind
from apps.incidents.filters import IncidentFilter, ReportFilter, TimelineFilter, WarningFilter
from apps.incidents.models import Incident
from apps.organizations.models import Department, LeadingGroup, Region
from apps.organizations.selectors import department_get, leading_group_list, region_list

from .serializers import (
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentLeadingGroupSerializer,
    IncidentSerializer,
    IncidentSeveritySerializer,
    IncidentStatusSerializer,
    PlanActivationSerializer,
    ReportingClockSerializer,
    ResponsePlanSerializer,
    SituationReportSerializer,
    SituationReportSubmitSerializer,
    TimelineEntrySerializer,
    WarningCreateSerializer,
    WarningSerializer,
)

# --- resolving the objects a payload names ----------------------------------------------------


def _own_department(request, pk: int) -> Department:
    """The acting department: out of the caller's sight it does not exist (404, probe recorded)."""
    try:
        return department_get(user=request.user, pk=pk)
    except Department.DoesNotExist:
        hidden_lookup(request, Department, "pk", pk)
        raise Http404 from None


def _unknown(request, model, lookup: str, value, field: str, message: str):
    hidden_lookup(request, model, lookup, value)
    return ValidationError({field: [message]})


def _regions(request, codes: list[str]) -> list[Region]:
    codes = list(dict.fromkeys(codes))
    if not codes:
        return []
    found = {r.code: r for r in region_list(user=request.user).filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    for code in missing:
        hidden_lookup(request, Region, "code", code)
    if missing:
        raise ValidationError({"regions": [_("Unknown region: %(code)s") % {"code": code} for code in missing]})
    return [found[code] for code in codes]


def _region(request, code: str) -> Region:
    region = region_list(user=request.user).filter(code=code).first()
    if region is None:
        raise _unknown(request, Region, "code", code, "region", _("Unknown region: %(code)s") % {"code": code})
    return region


def _leading_group(request, pk: int) -> LeadingGroup:
    group = leading_group_list(user=request.user).filter(pk=pk).first()
    if group is None:
        raise _unknown(request, LeadingGroup, "pk", pk, "group", _("Unknown leading group."))
    return group


def _incident(request, pk: int) -> Incident:
    incident = selectors.incident_list(user=request.user).filter(pk=pk).first()
    if incident is None:
        raise _unknown(request, Incident, "pk", pk, "incident", _("Unknown incident."))
    return incident


# --- the timeline download --------------------------------------------------------------------

TIMELINE_CSV_HEADER = (
    "incident",
    "occurred_at",
    "kind",
    "kind_label",
    "summary",
    "actor",
    "target_type",
    "target_id",
    "ledger_seq",
)

NO_PAGE_FILTERS = {"filter_backends": []}  # detail routes address one incident by id; no list filters

TIMELINE_PARAMETERS = [OpenApiParameter("kind", str, enum=TimelineKind.values, description="Entry kind.")]
REPORT_PARAMETERS = [
    OpenApiParameter("kind", str, enum=ReportKind.values, description="Report kind."),
    OpenApiParameter("is_late", bool, description="Only late (or only timely) reports."),
]


def _idempotency_key(request) -> str:
    return (request.headers.get("Idempotency-Key") or "")[:64]


# --- viewsets ---------------------------------------------------------------------------------


class IncidentViewSet(ScopedViewSet):
    """The incident register and the command actions on one incident."""

    list_selector = selectors.incident_list
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter

    def _detail(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        user = self.request.user
        incident = selectors.incident_get(user=user, pk=incident.pk)  # fresh, with its joins, through scope
        counts = {
            "reports": incident.report_count,
            "warnings": selectors.warning_list(user=user).filter(incident=incident).count(),
            "activations": selectors.activation_list(user=user).filter(incident=incident).count(),
            "timeline_entries": selectors.timeline_list(user=user).filter(incident=incident).count(),
        }
        return Response(IncidentDetailSerializer(incident, context={"counts": counts}).data, status=code)

    def _nested(self, queryset, serializer_class, filterset_class=None) -> Response:
        """One page of a list that belongs to the incident already fetched through get_object()."""
        if filterset_class is not None:
            filterset = strict_booleans(
                filterset_class(self.request.query_params, queryset=queryset, request=self.request)
            )
            if not filterset.is_valid():
                raise translate_validation(filterset.errors)
            queryset = filterset.qs
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(responses=IncidentDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        return self._detail(self.get_object())

    @extend_schema(
        request=IncidentCreateSerializer, responses={201: IncidentDetailSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    def create(self, request):
        payload = IncidentCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        department = _own_department(request, data["department"])
        regions = _regions(request, data["regions"])
        incident = services.incident_report(
            actor=request.user,
            department=department,
            title=data["title"],
            description=data["description"],
            category=data["category"],
            subtype=data["subtype"],
            severity=data["severity"],
            place=data["place"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            first_seen_at=data["first_seen_at"],
            intake_channel=data["intake_channel"],
            intake_seen_at=data["intake_seen_at"],
            regions=regions,
            is_drill=data["is_drill"],
            idempotency_key=_idempotency_key(request),
        )
        return self._detail(incident, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def verify(self, request, pk=None):
        return self._detail(services.incident_verify(actor=request.user, incident=self.get_object()))

    @extend_schema(request=IncidentStatusSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="status", url_name="status", **NO_PAGE_FILTERS)
    def set_status(self, request, pk=None):
        incident = self.get_object()
        payload = IncidentStatusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        incident = services.incident_set_status(
            actor=request.user,
            incident=incident,
            status=payload.validated_data["status"],
            note=payload.validated_data["note"],
        )
        return self._detail(incident)

    @extend_schema(request=IncidentSeveritySerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def severity(self, request, pk=None):
        incident = self.get_object()
        payload = IncidentSeveritySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        incident = services.incident_set_severity(
            actor=request.user,
            incident=incident,
            severity=payload.validated_data["severity"],
            reason=payload.validated_data["reason"],
        )
        return self._detail(incident)

    @extend_schema(request=IncidentLeadingGroupSerializer, responses=IncidentDetailSerializer)
    @action(detail=True, methods=["post"], url_path="leading-group", url_name="leading-group", **NO_PAGE_FILTERS)
    def leading_group(self, request, pk=None):
        incident = self.get_object()
        payload = IncidentLeadingGroupSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        group = _leading_group(request, payload.validated_data["group"])
        return self._detail(services.incident_assign_leading_group(actor=request.user, incident=incident, group=group))

    @extend_schema(methods=["GET"], parameters=REPORT_PARAMETERS, responses=SituationReportSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        parameters=[IDEMPOTENCY_HEADER],
        request=SituationReportSubmitSerializer,
        responses={201: SituationReportSerializer},
    )
    @action(detail=True, methods=["get", "post"], **NO_PAGE_FILTERS)
    def reports(self, request, pk=None):
        incident = self.get_object()
        if request.method == "GET":
            queryset = selectors.report_list(user=request.user).filter(incident=incident)
            return self._nested(queryset, SituationReportSerializer, ReportFilter)
        payload = SituationReportSubmitSerializer(
            data=request.data, context={"idempotency_key": request.headers.get("Idempotency-Key")}
        )
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        department = _own_department(request, data["department"])
        report = services.report_submit(
            actor=request.user,
            incident=incident,
            department=department,
            kind=data["kind"],
            text=data["text"],
            deaths=data["deaths"],
            injured=data["injured"],
            missing=data["missing"],
            affected_population=data["affected_population"],
            evacuated=data["evacuated"],
            resources_deployed=data["resources_deployed"],
            late_reason=data["late_reason"],
            idempotency_key=data["idempotency_key"],
        )
        return Response(SituationReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=TIMELINE_PARAMETERS, responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], **NO_PAGE_FILTERS)
    def timeline(self, request, pk=None):
        """The incident's timeline (演化路线图), oldest first."""
        queryset = selectors.timeline_list(user=request.user).filter(incident=self.get_object())
        return self._nested(queryset, TimelineEntrySerializer, TimelineFilter)

    @extend_schema(parameters=TIMELINE_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(
        detail=True,
        methods=["get"],
        url_path="timeline.csv",
        url_name="timeline-csv",
        content_negotiation_class=JsonErrorsNegotiation,
        **NO_PAGE_FILTERS,
    )
    def timeline_csv(self, request, pk=None):
        """The whole timeline as a spreadsheet-safe CSV download (UTF-8 with a BOM, for Excel)."""
        incident = self.get_object()
        filterset = TimelineFilter(
            request.query_params,
            queryset=selectors.timeline_list(user=request.user).filter(incident=incident),
            request=request,
        )
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        writer.writerow(TIMELINE_CSV_HEADER)
        for entry in filterset.qs.iterator(chunk_size=1000):
            row = (
                incident.title,
                timezone.localtime(entry.occurred_at).isoformat(),
                entry.kind,
                entry.get_kind_display(),
                entry.text,
                entry.actor_name,
                entry.target_type,
                entry.target_id,
                entry.ledger_seq,
            )
            writer.writerow([csv_cell(value) for value in row])
        response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="incident-{incident.pk}-timeline.csv"'
        return response

    @extend_schema(responses=ReportingClockSerializer(many=True))
    @action(detail=True, methods=["get"], **NO_PAGE_FILTERS)
    def clocks(self, request, pk=None):
        """The statutory reporting clocks of the incident, soonest due first."""
        queryset = selectors.clock_list(user=request.user).filter(incident=self.get_object())
        return self._nested(queryset, ReportingClockSerializer)

    @extend_schema(responses=PlanActivationSerializer(many=True))
    @action(detail=True, methods=["get"], **NO_PAGE_FILTERS)
    def activations(self, request, pk=None):
        """The response plans activated for the incident, with what each dispatches."""
        queryset = selectors.activation_list(user=request.user).filter(incident=self.get_object())
        return self._nested(queryset, PlanActivationSerializer)


class SituationReportViewSet(ScopedReadOnlyViewSet):
    list_selector = selectors.report_list
    serializer_class = SituationReportSerializer
    filterset_class = ReportFilter


class WarningViewSet(ScopedViewSet):
    """Warnings: drafted by a department, reviewed and published by the information office."""

    list_selector = selectors.warning_list
    serializer_class = WarningSerializer
    filterset_class = WarningFilter

    @extend_schema(request=WarningCreateSerializer, responses={201: WarningSerializer}, parameters=[IDEMPOTENCY_HEADER])
    def create(self, request):
        payload = WarningCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        issuer = _own_department(request, data["issuer"])
        region = _region(request, data["region"]) if data.get("region") else issuer.region
        incident = _incident(request, data["incident"]) if data["incident"] else None
        warning = services.warning_draft(
            actor=request.user,
            issuer=issuer,
            region=region,
            incident=incident,
            level=data["level"],
            title=data["title"],
            area=data["area"],
            starts_at=data["starts_at"],
            expected_hours=data["expected_hours"],
            measures=data["measures"],
            content=data["content"],
            idempotency_key=_idempotency_key(request),
        )
        return Response(WarningSerializer(warning).data, status=status.HTTP_201_CREATED)

    def _render(self, warning) -> Response:
        return Response(WarningSerializer(warning).data)

    @extend_schema(request=None, responses=WarningSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def review(self, request, pk=None):
        return self._render(services.warning_review(actor=request.user, warning=self.get_object()))

    @extend_schema(request=None, responses=WarningSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def publish(self, request, pk=None):
        return self._render(services.warning_publish(actor=request.user, warning=self.get_object()))

    @extend_schema(request=None, responses=WarningSerializer)
    @action(detail=True, methods=["post"], url_path="return", url_name="return", **NO_PAGE_FILTERS)
    def return_to_issuer(self, request, pk=None):
        return self._render(services.warning_return(actor=request.user, warning=self.get_object()))

    @extend_schema(request=None, responses=WarningSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def withdraw(self, request, pk=None):
        return self._render(services.warning_withdraw(actor=request.user, warning=self.get_object()))


class ResponsePlanViewSet(ScopedReadOnlyViewSet):
    """Published response plans (read only; administrators edit them in the admin console)."""

    list_selector = selectors.plan_list
    serializer_class = ResponsePlanSerializer
    filterset_fields = ["category", "subtype", "severity", "is_active"]
