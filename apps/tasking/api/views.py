"""Task API. Reads come from the tasking selectors (built on `restrict`); each write parses its
payload, resolves the objects it names, calls one service and renders.

Objects named in a payload:
- the acting body (`issuer_department`, `issuer_group` of a dispatch) is the caller's own, so one
  the caller cannot see is a 404 like any hidden object (the probe is recorded: `hidden_lookup`);
- departments the service checks the reach of (`departments` of a dispatch, `department` of a
  re-assignment) may lie outside the caller's view scope, so they are loaded unscoped and only
  handed to the service, which refuses the unreachable ones (400 `department_out_of_reach`);
- other references (`incident`, `to_department` of a transfer, `department` of a ruling) are
  input fields: one the caller cannot see is a 400 on that field, worded like a nonexistent one.
"""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta

from django.db.models import prefetch_related_objects
from django.http import FileResponse, Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from apps.core.api.filters import strict_booleans
from apps.core.api.pagination import StandardPagination
from apps.core.api.views import IDEMPOTENCY_HEADER, JsonErrorsNegotiation, ScopedViewSet, ScopedViewSetMixin
from apps.core.csv import csv_cell, csv_writer
from apps.core.exceptions import ServiceError
from apps.core.views import hidden_lookup
from apps.incidents.models import Incident
from apps.incidents.selectors import incident_list
from apps.organizations.models import Department, LeadingGroup
from apps.organizations.selectors import department_get, department_list, leading_group_list
from apps.tasking import selectors, services
from apps.tasking.attachments import MAX_ATTACHMENT_BYTES, task_attach, task_attachments
from apps.tasking.filters import TaskFilter
from apps.tasking.models import Task, TaskAttachment

from .serializers import (
    TASK_ACTIONS,
    AttachmentUploadSerializer,
    BodySerializer,
    NoteSerializer,
    ReasonSerializer,
    ReassignSerializer,
    ResultSerializer,
    RuleSerializer,
    ScorecardQuerySerializer,
    ScorecardSerializer,
    TaskAttachmentSerializer,
    TaskCommentSerializer,
    TaskDetailSerializer,
    TaskDispatchSerializer,
    TaskPageWithCountsSerializer,
    TaskSerializer,
    TransferSerializer,
)

# --- resolving the objects a payload names ----------------------------------------------------


def _own_department(request, pk: int) -> Department:
    """The acting department: out of the caller's sight it does not exist (404, probe recorded)."""
    try:
        return department_get(user=request.user, pk=pk)
    except Department.DoesNotExist:
        hidden_lookup(request, Department, "pk", pk)
        raise Http404 from None


def _own_group(request, pk: int) -> LeadingGroup:
    """The acting leading group: out of the caller's sight it does not exist (404, probe recorded)."""
    group = leading_group_list(user=request.user).filter(pk=pk).first()
    if group is None:
        hidden_lookup(request, LeadingGroup, "pk", pk)
        raise Http404
    return group


def _unknown(request, model, value, field: str, message: str) -> ValidationError:
    hidden_lookup(request, model, "pk", value)
    return ValidationError({field: [message]})


def _incident(request, pk: int) -> Incident:
    incident = incident_list(user=request.user).filter(pk=pk).first()
    if incident is None:
        raise _unknown(request, Incident, pk, "incident", _("Unknown incident."))
    return incident


def _visible_department(request, pk: int, field: str) -> Department:
    department = department_list(user=request.user).filter(pk=pk).first()
    if department is None:
        raise _unknown(request, Department, pk, field, _("Unknown department."))
    return department


def _reach_candidates(ids: list[int]) -> list[Department]:
    """Departments the service decides the reach of.

    They may lie outside the caller's *view* scope (another region under a task-sharing agreement,
    the member departments of a leading group), so a restricted selector would wrongly refuse
    them. They are read unscoped ONLY to be handed to the service, which authorizes the caller and
    refuses every unreachable one (400 `department_out_of_reach`) before writing anything; nothing
    about them is rendered unless the service accepted them. An id naming no active department is
    passed as a bare reference (the service decides reach by id in the database), so it is refused
    exactly like an existing department out of reach: the answer tells nothing about existence.
    """
    found = Department.objects.filter(pk__in=ids, is_active=True).select_related("region").in_bulk()
    return [found.get(pk) or Department(pk=pk) for pk in ids]


# --- the scorecard period ---------------------------------------------------------------------

SCORECARD_DAYS = 30
SCORECARD_MAX_DAYS = 366


def _period(request):
    """[start, end] dates in the platform's time zone (Asia/Shanghai), and their datetimes [start, end + 1 day)."""
    query = ScorecardQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    end = query.validated_data.get("end") or timezone.localdate()
    start = query.validated_data.get("start") or end - timedelta(days=SCORECARD_DAYS - 1)
    if start > end:
        raise ValidationError({"start": [_("The period starts after it ends.")]})
    if (end - start).days >= SCORECARD_MAX_DAYS:
        raise ValidationError({"start": [_("A period spans at most %(n)d days.") % {"n": SCORECARD_MAX_DAYS}]})
    zone = timezone.get_default_timezone()
    since = timezone.make_aware(datetime.combine(start, time.min), zone)
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone)
    return start, end, since, until


def _scorecard_rows(request, since, until) -> list[dict]:
    rows = selectors.scorecard(user=request.user, start=since, end=until)
    prefetch_related_objects([row.department for row in rows], "region")
    return [
        {
            "rank": rank,
            "department": row.department,
            "tasks": row.tasks,
            "median_accept_minutes": row.median_accept_minutes,
            "declines": row.declines,
            "transfers": row.transfers,
            "overdue": row.overdue,
            "overdue_rate": row.overdue_rate,
            "median_completion_minutes": row.median_completion_minutes,
        }
        for rank, row in enumerate(rows, start=1)
    ]


SCORECARD_CSV_HEADER = (
    "rank",
    "department_id",
    "department",
    "region",
    "tasks",
    "median_accept_minutes",
    "declines",
    "transfers",
    "overdue",
    "overdue_rate",
    "median_completion_minutes",
)

PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="A page number within the paginated result set."),
    OpenApiParameter("page_size", int, description="Number of results to return per page."),
]
NO_PAGE_FILTERS = {"filter_backends": []}  # detail routes address one task by id; no list filters
UPLOAD_PARSERS = [MultiPartParser, FormParser]
# a multipart body holding a file over the limit is refused before it is read (the service checks the file itself)
MAX_UPLOAD_REQUEST_BYTES = MAX_ATTACHMENT_BYTES + 64 * 1024


def _action_schema(request_serializer=None, *, created=None, description: str = ""):
    responses = {201: created} if created is not None else {200: TaskDetailSerializer}
    return extend_schema(request=request_serializer, responses=responses, description=description or None)


# --- viewsets ---------------------------------------------------------------------------------


class TaskViewSet(ScopedViewSet):
    """Tasks the caller sees, dispatch (fan-out), and every transition of one task."""

    list_selector = selectors.task_list
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    lookup_value_regex = "[0-9]+"

    @property
    def pagination_class(self):
        """Every list is paged except the dispatch's answer: the tasks it created, as one array."""
        return None if getattr(self, "action", None) == "create" else StandardPagination

    # --- rendering

    def _detail(self, task: Task) -> Response:
        user = self.request.user
        task = selectors.task_list(user=user).get(pk=task.pk)  # fresh, with its joins, through scope
        task.history = list(selectors.task_events(task=task))
        task.comment_list = list(selectors.task_comments(task=task))
        task.attachment_list = list(task_attachments(task=task))
        allowed = [name for name in TASK_ACTIONS if selectors.task_can(user=user, task=task, action=name)]
        return Response(TaskDetailSerializer(task, context={"allowed_actions": allowed}).data)

    def _page(self, queryset, *, counts: dict | None = None, serializer_class=TaskSerializer) -> Response:
        page = self.paginate_queryset(queryset)
        response = self.get_paginated_response(serializer_class(page, many=True).data)
        if counts is not None:
            response.data = {"counts": counts, **response.data}
        return response

    def _filtered(self, queryset):
        filterset = strict_booleans(TaskFilter(self.request.query_params, queryset=queryset, request=self.request))
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return filterset.qs

    def _payload(self, serializer_class):
        payload = serializer_class(data=self.request.data)
        payload.is_valid(raise_exception=True)
        return payload.validated_data

    # --- reads

    @extend_schema(responses=TaskDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """One task with its history, comments, attachments, and what the caller may do on it."""
        return self._detail(self.get_object())

    @extend_schema(responses=TaskPageWithCountsSerializer, parameters=PAGE_PARAMETERS, filters=True)
    @action(detail=False, methods=["get"])
    def inbox(self, request):
        """My departments' tasks: those they are accountable for and those they are asked to take
        over. `counts` covers the whole inbox (not just the page or the filters)."""
        queryset = selectors.task_inbox(user=request.user)
        return self._page(self._filtered(queryset), counts=selectors.task_counts(queryset))

    @extend_schema(responses=TaskPageWithCountsSerializer, parameters=PAGE_PARAMETERS, filters=True)
    @action(detail=False, methods=["get"])
    def board(self, request):
        """Tasks my departments (or the leading groups whose information office I sit in) issued.
        `counts` covers the whole board (not just the page or the filters)."""
        queryset = selectors.task_board(user=request.user)
        return self._page(self._filtered(queryset), counts=selectors.task_counts(queryset))

    # --- dispatch

    @extend_schema(
        request=TaskDispatchSerializer,
        responses={201: TaskSerializer(many=True)},
        filters=False,
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request):
        """Dispatch one task to each named department (one batch); answers the created tasks."""
        data = self._payload(TaskDispatchSerializer)
        issuer_department = _own_department(request, data["issuer_department"])
        issuer_group = _own_group(request, data["issuer_group"]) if data["issuer_group"] else None
        incident = _incident(request, data["incident"]) if data["incident"] else None
        tasks = services.task_dispatch(
            actor=request.user,
            issuer_department=issuer_department,
            issuer_group=issuer_group,
            departments=_reach_candidates(data["departments"]),
            title=data["title"],
            instructions=data["instructions"],
            priority=data["priority"],
            deadline=data["deadline"],
            incident=incident,
            idempotency_key=(request.headers.get("Idempotency-Key") or "")[:64],
        )
        created = selectors.task_list(user=request.user).filter(pk__in=[t.pk for t in tasks]).order_by("id")
        return Response(TaskSerializer(created, many=True).data, status=status.HTTP_201_CREATED)

    # --- the accountable department

    @_action_schema()
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def accept(self, request, pk=None):
        return self._detail(services.task_accept(actor=request.user, task=self.get_object()))

    @_action_schema(ReasonSerializer, description="Decline with a reason; the issuer re-assigns or overrules.")
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def decline(self, request, pk=None):
        task = self.get_object()
        data = self._payload(ReasonSerializer)
        return self._detail(services.task_decline(actor=request.user, task=task, reason=data["reason"]))

    @_action_schema(
        TransferSerializer,
        description="Ask another department to take the task over; until it accepts, yours stays accountable.",
    )
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def transfer(self, request, pk=None):
        task = self.get_object()
        data = self._payload(TransferSerializer)
        to_department = _visible_department(request, data["to_department"], "to_department")
        task = services.task_request_transfer(
            actor=request.user, task=task, to_department=to_department, reason=data["reason"]
        )
        return self._detail(task)

    @_action_schema(description="Take over a task transferred to your department; the deadline stays.")
    @action(detail=True, methods=["post"], url_path="transfer-accept", url_name="transfer-accept", **NO_PAGE_FILTERS)
    def transfer_accept(self, request, pk=None):
        return self._detail(services.task_transfer_accept(actor=request.user, task=self.get_object()))

    @extend_schema(
        request=ReasonSerializer,
        responses={
            200: TaskDetailSerializer,
            204: OpenApiResponse(description="Refused; your department no longer sees the task."),
        },
        description="Refuse a transfer to your department; the task returns to its previous state.",
    )
    @action(detail=True, methods=["post"], url_path="transfer-refuse", url_name="transfer-refuse", **NO_PAGE_FILTERS)
    def transfer_refuse(self, request, pk=None):
        task = self.get_object()
        data = self._payload(ReasonSerializer)
        task = services.task_transfer_refuse(actor=request.user, task=task, reason=data["reason"])
        if not selectors.task_list(user=request.user).filter(pk=task.pk).exists():
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self._detail(task)

    @_action_schema()
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def start(self, request, pk=None):
        return self._detail(services.task_start(actor=request.user, task=self.get_object()))

    @_action_schema(BodySerializer, created=TaskCommentSerializer, description="Report progress on an accepted task.")
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def progress(self, request, pk=None):
        task = self.get_object()
        data = self._payload(BodySerializer)
        comment = services.task_progress(actor=request.user, task=task, body=data["body"])
        return Response(TaskCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @_action_schema(ResultSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def complete(self, request, pk=None):
        task = self.get_object()
        data = self._payload(ResultSerializer)
        return self._detail(
            services.task_complete(actor=request.user, task=task, result=data["result"], evidence=data["evidence"])
        )

    # --- the issuer

    @_action_schema()
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def verify(self, request, pk=None):
        return self._detail(services.task_verify(actor=request.user, task=self.get_object()))

    @_action_schema(ReasonSerializer, description="Send a completed task back for more work.")
    @action(detail=True, methods=["post"], url_path="return", url_name="return", **NO_PAGE_FILTERS)
    def send_back(self, request, pk=None):
        task = self.get_object()
        data = self._payload(ReasonSerializer)
        return self._detail(services.task_return(actor=request.user, task=task, reason=data["reason"]))

    @_action_schema(ReassignSerializer, description="Issue a declined task to another department; the deadline stays.")
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def reassign(self, request, pk=None):
        task = self.get_object()
        data = self._payload(ReassignSerializer)
        [department] = _reach_candidates([data["department"]])
        task = services.task_reassign(actor=request.user, task=task, department=department, note=data["note"])
        return self._detail(task)

    @_action_schema(NoteSerializer, description="Reject a decline: the department must do the task.")
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def overrule(self, request, pk=None):
        task = self.get_object()
        data = self._payload(NoteSerializer)
        return self._detail(services.task_overrule(actor=request.user, task=task, note=data["note"]))

    @_action_schema(ReasonSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def cancel(self, request, pk=None):
        task = self.get_object()
        data = self._payload(ReasonSerializer)
        return self._detail(services.task_cancel(actor=request.user, task=task, reason=data["reason"]))

    # --- disputes

    @_action_schema(ReasonSerializer, description="Take the task to the leading group's information office.")
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def dispute(self, request, pk=None):
        task = self.get_object()
        data = self._payload(ReasonSerializer)
        return self._detail(services.task_dispute(actor=request.user, task=task, reason=data["reason"]))

    @_action_schema(
        RuleSerializer, description="The information office rules: a department must do it, or null cancels."
    )
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def rule(self, request, pk=None):
        task = self.get_object()
        data = self._payload(RuleSerializer)
        department = _visible_department(request, data["department"], "department") if data["department"] else None
        task = services.task_rule(actor=request.user, task=task, department=department, note=data["note"])
        return self._detail(task)

    # --- comments and files

    @extend_schema(methods=["GET"], responses=TaskCommentSerializer(many=True))
    @extend_schema(methods=["POST"], request=BodySerializer, responses={201: TaskCommentSerializer})
    @action(detail=True, methods=["get", "post"], **NO_PAGE_FILTERS)
    def comments(self, request, pk=None):
        task = self.get_object()
        if request.method == "GET":
            return self._page(selectors.task_comments(task=task), serializer_class=TaskCommentSerializer)
        data = self._payload(BodySerializer)
        comment = services.task_comment(actor=request.user, task=task, body=data["body"])
        return Response(TaskCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=TaskAttachmentSerializer(many=True))
    @extend_schema(methods=["POST"], request=AttachmentUploadSerializer, responses={201: TaskAttachmentSerializer})
    @action(detail=True, methods=["get", "post"], parser_classes=UPLOAD_PARSERS, **NO_PAGE_FILTERS)
    def attachments(self, request, pk=None):
        """Files on the task (metadata). Upload: multipart, one file, at most 10 MB; the type is read
        from the content (PNG, JPEG, PDF, text/CSV, XLSX, DOCX)."""
        task = self.get_object()
        if request.method == "GET":
            return self._page(task_attachments(task=task), serializer_class=TaskAttachmentSerializer)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_UPLOAD_REQUEST_BYTES:
            raise ServiceError(
                _("A file may hold at most %(mb)d MB.") % {"mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
                field="file",
                code="file_too_large",
            )
        data = self._payload(AttachmentUploadSerializer)
        attachment = task_attach(
            actor=request.user, task=task, uploaded_file=data["file"], is_evidence=data["is_evidence"]
        )
        return Response(TaskAttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("attachment_pk", int, OpenApiParameter.PATH, description="Attachment id.")],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        description="The file itself, with the content type recorded at upload.",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_pk>[0-9]+)",
        url_name="attachment-download",
        content_negotiation_class=JsonErrorsNegotiation,
        **NO_PAGE_FILTERS,
    )
    def attachment_download(self, request, pk=None, attachment_pk=None):
        task = self.get_object()
        attachment = task_attachments(task=task).filter(pk=attachment_pk).first()
        if attachment is None:
            hidden_lookup(request, TaskAttachment, "pk", attachment_pk)  # a file of another task: a probe
            raise Http404
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.name,
            content_type=attachment.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ScorecardViewSet(ScopedViewSetMixin, GenericViewSet):
    """Per-department evidence for the leading group: median time to accept, declines, transfers,
    overdue rate, median completion time, over a period, computed from the task history of the
    tasks the caller sees. Ranked: lowest overdue rate first, then fastest acceptance."""

    list_selector = selectors.task_list  # the scorecard covers exactly the tasks this selector yields
    filter_backends = []
    pagination_class = None
    content_negotiation_class = JsonErrorsNegotiation  # the CSV answers text/csv itself; errors stay JSON

    @extend_schema(parameters=[ScorecardQuerySerializer], responses=ScorecardSerializer)
    def summary(self, request):
        start, end, since, until = _period(request)
        rows = _scorecard_rows(request, since, until)
        return Response(ScorecardSerializer({"start": start, "end": end, "results": rows}).data)

    @extend_schema(
        parameters=[ScorecardQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        operation_id="scorecard_csv",
    )
    def csv(self, request):
        """The same rows as a spreadsheet-safe CSV download (UTF-8 with a BOM, for Excel)."""
        start, end, since, until = _period(request)
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        writer.writerow(SCORECARD_CSV_HEADER)
        for row in _scorecard_rows(request, since, until):
            department = row["department"]
            values = (
                row["rank"],
                department.pk,
                department.name,
                department.region.code,
                row["tasks"],
                row["median_accept_minutes"],
                row["declines"],
                row["transfers"],
                row["overdue"],
                row["overdue_rate"],
                row["median_completion_minutes"],
            )
            writer.writerow([csv_cell(value) for value in values])
        response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="scorecard-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
        return response
