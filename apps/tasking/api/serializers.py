"""Task API serializers.

Output serializers are read-only renderings. Input serializers list only what a caller may send:
status, the accountable department, the issuer, timestamps and the deadline (on every action) are
the services'; a payload naming them is simply ignored (mass assignment is impossible by
construction).
"""

from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.incidents.api.serializers import DepartmentRefSerializer, LeadingGroupRefSerializer
from apps.incidents.models import Incident
from apps.tasking.attachments import MAX_ATTACHMENT_BYTES
from apps.tasking.choices import OPEN_STATUSES, Priority, TaskStatus
from apps.tasking.models import Task, TaskAttachment, TaskComment, TaskEvent
from apps.tasking.services import MAX_FAN_OUT

# What the caller may do on a task, each one permission of the role table (selectors.task_can):
# respond: accept, decline, request a transfer, dispute; work: start, report progress, complete;
# take_transfer: accept or refuse a transfer to one's department; control (the issuer): verify,
# send back, re-assign, overrule, cancel, dispute; rule: the information office's ruling.
TASK_ACTIONS = ("respond", "work", "take_transfer", "control", "rule")


class IncidentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = ["id", "title"]
        read_only_fields = fields


# --- tasks --------------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    """A list row. Every relation it shows is joined by `selectors.task_list`."""

    department = DepartmentRefSerializer(read_only=True, help_text=_("The accountable department."))
    issuer_department = DepartmentRefSerializer(read_only=True)
    issuer_group = LeadingGroupRefSerializer(read_only=True, allow_null=True)
    transfer_to = DepartmentRefSerializer(
        read_only=True, allow_null=True, help_text=_("Asked to take the task over (not accountable until it accepts).")
    )
    incident = IncidentRefSerializer(read_only=True, allow_null=True)
    region = serializers.CharField(source="department.region.code", read_only=True)
    is_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "status",
            "priority",
            "deadline",
            "is_overdue",
            "department",
            "region",
            "transfer_to",
            "issuer_department",
            "issuer_group",
            "incident",
            "batch",
            "issued_at",
            "accepted_at",
            "completed_at",
            "verified_at",
        ]
        read_only_fields = fields

    def get_is_overdue(self, obj) -> bool:
        return obj.status in OPEN_STATUSES and obj.deadline < timezone.now()


class TaskEventSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True, help_text=_("Accountable at the time of the event."))
    other_department = DepartmentRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TaskEvent
        fields = ["id", "kind", "at", "department", "other_department", "actor_name", "note", "ledger_seq"]
        read_only_fields = fields


class TaskCommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.display_name", read_only=True)
    department = DepartmentRefSerializer(read_only=True)

    class Meta:
        model = TaskComment
        fields = ["id", "task", "author", "department", "body", "is_progress", "created_at"]
        read_only_fields = fields


class TaskAttachmentSerializer(serializers.ModelSerializer):
    """Metadata only; the bytes come from `url` (for those who see the task)."""

    uploaded_by = serializers.CharField(source="uploaded_by.display_name", read_only=True)
    department = DepartmentRefSerializer(read_only=True)
    url = serializers.SerializerMethodField(help_text=_("Download path."))

    class Meta:
        model = TaskAttachment
        fields = [
            "id",
            "task",
            "name",
            "size",
            "content_type",
            "sha256",
            "is_evidence",
            "uploaded_by",
            "department",
            "uploaded_at",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return reverse("api:task-attachment-download", kwargs={"pk": obj.task_id, "attachment_pk": obj.pk})


class TaskDetailSerializer(TaskSerializer):
    """The list row plus the texts, the history, comments, attachments and what the caller may do
    (`allowed_actions`, passed in the context by the view)."""

    events = TaskEventSerializer(many=True, read_only=True, source="history")
    comments = TaskCommentSerializer(many=True, read_only=True, source="comment_list")
    attachments = TaskAttachmentSerializer(many=True, read_only=True, source="attachment_list")
    allowed_actions = serializers.SerializerMethodField()

    class Meta(TaskSerializer.Meta):
        fields = [
            *TaskSerializer.Meta.fields,
            "instructions",
            "decline_reason",
            "transfer_reason",
            "dispute_reason",
            "result",
            "evidence",
            "allowed_actions",
            "events",
            "comments",
            "attachments",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(
            child=serializers.ChoiceField(choices=TASK_ACTIONS),
            help_text=_("Permissions the caller holds on this task; the status decides which transitions apply."),
        )
    )
    def get_allowed_actions(self, obj):
        return self.context.get("allowed_actions", [])


class TaskCountsSerializer(serializers.Serializer):
    """Tasks per status, and the open ones past their deadline."""

    overdue = serializers.IntegerField(read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        for value in TaskStatus.values:
            fields[value] = serializers.IntegerField(read_only=True)
        return fields


class TaskPageWithCountsSerializer(serializers.Serializer):
    """A page of tasks plus the counts over the whole list (not just the page, not the filters)."""

    counts = TaskCountsSerializer(read_only=True)
    count = serializers.IntegerField(read_only=True)
    next = serializers.URLField(read_only=True, allow_null=True)
    previous = serializers.URLField(read_only=True, allow_null=True)
    results = TaskSerializer(many=True, read_only=True)


# --- input --------------------------------------------------------------------------------------


class TaskDispatchSerializer(serializers.Serializer):
    """One task per named department (fan-out). Status, issuer and batch are the service's."""

    issuer_department = serializers.IntegerField(min_value=1, help_text=_("The issuing department (one of yours)."))
    issuer_group = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Issue on behalf of this leading group (its information office issues)."),
    )
    departments = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=MAX_FAN_OUT,
        help_text=_("Department ids: one task each."),
    )
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL)
    deadline = serializers.DateTimeField()
    incident = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class TransferSerializer(serializers.Serializer):
    to_department = serializers.IntegerField(min_value=1, help_text=_("The department asked to take the task over."))
    reason = serializers.CharField(max_length=2000)


class BodySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


class ResultSerializer(serializers.Serializer):
    result = serializers.CharField(max_length=5000)
    evidence = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text=_(
            "What proves the result and where it is kept. Required unless the accountable department "
            "has attached evidence to the task."
        ),
    )


class ReassignSerializer(serializers.Serializer):
    department = serializers.IntegerField(min_value=1, help_text=_("The department to issue the task to instead."))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000)


class RuleSerializer(serializers.Serializer):
    department = serializers.IntegerField(
        min_value=1, allow_null=True, help_text=_("The department that must do the task; null cancels it.")
    )
    note = serializers.CharField(max_length=2000)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        # formatted when read, so the schema follows the language of the request
        help_text=lazy(
            lambda: (
                _("PNG, JPEG, PDF, plain text or CSV, XLSX or DOCX; at most %(mb)d MB.")
                % {"mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)}
            ),
            str,
        )(),
        allow_empty_file=True,  # the service refuses an empty file with its own message
    )
    is_evidence = serializers.BooleanField(
        required=False, default=False, help_text=_("Evidence of completion (the accountable department only).")
    )


# --- scorecard ----------------------------------------------------------------------------------


class ScorecardQuerySerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, help_text=_("First day (Asia/Shanghai); default: 29 days before end.")
    )
    end = serializers.DateField(required=False, help_text=_("Last day, included (Asia/Shanghai); default: today."))


class ScoreRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(read_only=True)
    department = DepartmentRefSerializer(read_only=True)
    region = serializers.CharField(source="department.region.code", read_only=True)
    tasks = serializers.IntegerField(read_only=True, help_text=_("Tasks due in the period."))
    median_accept_minutes = serializers.FloatField(read_only=True, allow_null=True)
    declines = serializers.IntegerField(read_only=True)
    transfers = serializers.IntegerField(read_only=True, help_text=_("Transfers requested."))
    overdue = serializers.IntegerField(read_only=True)
    overdue_rate = serializers.FloatField(read_only=True, allow_null=True)
    median_completion_minutes = serializers.FloatField(read_only=True, allow_null=True)


class ScorecardSerializer(serializers.Serializer):
    start = serializers.DateField(read_only=True)
    end = serializers.DateField(read_only=True)
    results = ScoreRowSerializer(many=True, read_only=True)
