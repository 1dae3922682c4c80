"""Reporting API: consolidated situation reports (综合报告) and after-action reviews (调查评估) as
asynchronous jobs, the daily schedule, and the digital archives (数字档案) of closed incidents.

Reads come from the reporting selectors (built on `restrict`); each write resolves the incident
it addresses among those the caller sees (else 404, the probe recorded), refuses a caller who may
not request reports on it (403) before the payload is read, calls one service and renders.

Generation is asynchronous: `POST /incidents/{id}/report-requests/` answers 202 with the report
and a `Location` to poll (`/reports/{id}/`) until `status` is done; its files are then at
`/reports/{id}/download/{pdf|xlsx|csv}/`. (`/incidents/{id}/reports/` is the incident's situation
reports, 信息报送, submitted by departments; these are the platform's reports on them.) Archives
are read-only; every download of one is a ledger event.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from apps.core.api.views import JsonErrorsNegotiation, ScopedReadOnlyViewSet, ScopedViewSetMixin
from apps.core.exceptions import AccessDenied
from apps.incidents.selectors import incident_list
from apps.reporting import selectors, services
from apps.reporting.filters import ArchiveFilter, ReportFilter
from apps.reporting.views import archive_file, report_file

from .serializers import (
    ArchiveDetailSerializer,
    ArchiveSerializer,
    ReportRequestSerializer,
    ReportScheduleSerializer,
    ReportScheduleWriteSerializer,
    ReportSerializer,
)

NO_PAGE_FILTERS = {"filter_backends": [], "pagination_class": None}  # one object by id
IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Resending the request with the same key (per user, at most 64 characters) answers 200 with the "
    "first report instead of queuing a second one.",
)
FORMAT_PARAMETER = OpenApiParameter(
    "fmt", str, OpenApiParameter.PATH, enum=["pdf", "xlsx", "csv"], description="The file format."
)


def _idempotency_key(request) -> str:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > 64:  # never truncated: two long keys with one prefix would be one request
        raise ValidationError({"idempotency_key": [_("An Idempotency-Key holds at most 64 characters.")]})
    return key


def _payload(request, serializer_class) -> dict:
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


# --- reports ------------------------------------------------------------------------------------


class ReportViewSet(ScopedReadOnlyViewSet):
    """Reports on the incidents the caller commands or whose leading group they sit in, newest
    first; each is also its generation job (status, progress, error) and, once done, its files."""

    list_selector = selectors.report_list
    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    lookup_value_regex = "[0-9]+"

    @extend_schema(
        parameters=[FORMAT_PARAMETER],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
        },
        description="The report's file as an attachment (404 until the report is done). The CSV is UTF-8 with a "
        "BOM; `X-Content-SHA256` repeats the hash recorded in the ledger.",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="download/(?P<fmt>[a-z]+)",
        url_name="download",
        content_negotiation_class=JsonErrorsNegotiation,
        **NO_PAGE_FILTERS,
    )
    def download(self, request, pk=None, fmt=None):
        return report_file(self.get_object(), fmt)


@extend_schema(tags=["reports"])
class IncidentReportingViewSet(ScopedViewSetMixin, GenericViewSet):
    """Reports and the daily schedule of one incident, addressed by the incident's id: an incident
    the caller cannot see is 404; one they see but do not command (nor sit in its leading group)
    is 403."""

    list_selector = incident_list  # the incident addressed; reports and schedules come from their selectors
    filter_backends = []
    pagination_class = None
    lookup_value_regex = "[0-9]+"

    def _incident(self):
        incident = self.get_object()
        if not selectors.report_can_request(user=self.request.user, incident=incident):
            raise AccessDenied(action="request", target=incident, hidden=False)
        return incident

    @extend_schema(
        request=ReportRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: OpenApiResponse(ReportSerializer, description="Queued: poll the report at the Location header."),
            200: OpenApiResponse(ReportSerializer, description="A replay: the report of the first request."),
        },
    )
    def report_request(self, request, pk=None):
        """Generate a report now: a consolidated situation report (`situation`, any time) or the
        after-action review (`review`, once the incident is closed: 400 `not_closed` before)."""
        incident = self._incident()
        data = _payload(request, ReportRequestSerializer)
        started = timezone.now()
        report = services.report_request(
            actor=request.user,
            incident=incident,
            kind=data["kind"],
            idempotency_key=_idempotency_key(request),
            language=get_language(),
        )
        report = selectors.report_get(user=request.user, pk=report.pk)
        url = reverse("api:report-detail", kwargs={"pk": report.pk})
        code = status.HTTP_200_OK if report.requested_at < started else status.HTTP_202_ACCEPTED
        return Response(
            ReportSerializer(report).data, status=code, headers={"Location": request.build_absolute_uri(url)}
        )

    def _schedule(self, incident) -> Response:
        schedule = selectors.schedule_for(user=self.request.user, incident=incident)
        body = (
            ReportScheduleSerializer(schedule).data
            if schedule is not None
            else {"incident": incident.pk, "at_time": None, "is_active": False, "last_slot": None}
        )
        return Response(body)

    @extend_schema(responses=ReportScheduleSerializer)
    def schedule(self, request, pk=None):
        """The incident's daily consolidated report (Beijing time); `at_time` null: none set."""
        return self._schedule(self._incident())

    @extend_schema(request=ReportScheduleWriteSerializer, responses=ReportScheduleSerializer)
    def schedule_set(self, request, pk=None):
        """Set the daily consolidated report: generated every day at `at_time` while the incident
        is open; `is_active` false switches it off."""
        incident = self._incident()
        data = _payload(request, ReportScheduleWriteSerializer)
        services.schedule_set(actor=request.user, incident=incident, at_time=data["at_time"], active=data["is_active"])
        return self._schedule(incident)


# --- archives -----------------------------------------------------------------------------------


class ArchiveViewSet(ScopedReadOnlyViewSet):
    """Digital archives (数字档案) of the closed incidents the caller sees: read-only."""

    list_selector = selectors.archive_list
    serializer_class = ArchiveSerializer
    filterset_class = ArchiveFilter
    lookup_value_regex = "[0-9]+"

    @extend_schema(responses=ArchiveDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """One archive with its manifest: every file's path, SHA-256 and size."""
        return Response(ArchiveDetailSerializer(self.get_object()).data)

    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        description="The archive's zip file (404 until frozen). Every download is written to the ledger "
        "(`archive.download`). Check it offline with `manage.py verify_archive`.",
    )
    @action(detail=True, methods=["get"], content_negotiation_class=JsonErrorsNegotiation, **NO_PAGE_FILTERS)
    def download(self, request, pk=None):
        return archive_file(self.get_object(), user=request.user)
