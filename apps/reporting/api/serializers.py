"""Reporting API serializers.

Output serializers are read-only renderings whose relations are joined by the selectors. Input
serializers list only what a caller may send: the kind of a report, a schedule's time and switch.
Numbers, status, files and hashes are the services'; a payload naming them is simply ignored.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import ClockTimeField
from apps.incidents.models import Incident
from apps.reporting.choices import FORMATS, JobStatus, ReportKind
from apps.reporting.models import Archive, Report, ReportSchedule


@extend_schema_field(OpenApiTypes.STR)
class JobStatusField(serializers.ChoiceField):
    """queued, running, done or failed: described as a plain string, because the names
    `StatusEnum` and `KindEnum` already belong to other apps' choice sets and a second set under
    either name is a schema warning (an ENUM_NAME_OVERRIDES entry would name them)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", _("queued, running (see progress), done, or failed (see error)."))
        super().__init__(choices=JobStatus.choices, **kwargs)


@extend_schema_field(OpenApiTypes.STR)
class ReportKindField(serializers.ChoiceField):
    """situation or review (a plain string in the schema, as JobStatusField)."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            _("situation: a consolidated situation report; review: the after-action review (closed incidents)."),
        )
        super().__init__(choices=ReportKind.choices, **kwargs)


class ReportIncidentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = ["id", "title"]
        read_only_fields = fields


# --- reports ------------------------------------------------------------------------------------


class ReportSerializer(serializers.ModelSerializer):
    """A report and its generation job: poll `url` until `status` is done (or failed); then
    `downloads` holds the path of each file."""

    incident = ReportIncidentRefSerializer(read_only=True)
    kind = ReportKindField(read_only=True)
    status = JobStatusField(read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.display_name",
        read_only=True,
        allow_null=True,
        help_text=_("Who asked for it; null for a scheduled report or one written at closing."),
    )
    url = serializers.SerializerMethodField(help_text=_("Poll this path for progress."))
    downloads = serializers.SerializerMethodField(
        help_text=_("Format (pdf, xlsx, csv) -> the path of the file; empty until the report is done.")
    )

    class Meta:
        model = Report
        fields = [
            "id",
            "incident",
            "kind",
            "number",
            "status",
            "progress",
            "trigger",
            "slot",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "error",
            "hashes",
            "url",
            "downloads",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return reverse("api:report-detail", kwargs={"pk": obj.pk})

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_downloads(self, obj) -> dict:
        if obj.status != JobStatus.DONE:
            return {}
        return {
            fmt: reverse("api:report-download", kwargs={"pk": obj.pk, "fmt": fmt})
            for fmt in FORMATS
            if obj.file_for(fmt)
        }


class ReportRequestSerializer(serializers.Serializer):
    kind = ReportKindField(default=ReportKind.SITUATION)


class ReportScheduleSerializer(serializers.ModelSerializer):
    """The incident's daily consolidated report; `at_time` null: no schedule set."""

    incident = serializers.IntegerField(source="incident_id", read_only=True)
    at_time = ClockTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ReportSchedule
        fields = ["incident", "at_time", "is_active", "last_slot"]
        read_only_fields = fields


class ReportScheduleWriteSerializer(serializers.Serializer):
    at_time = ClockTimeField(help_text=_("Beijing time, e.g. 08:00."))
    is_active = serializers.BooleanField(default=True)


# --- archives -----------------------------------------------------------------------------------


class ArchiveSerializer(serializers.ModelSerializer):
    """数字档案: the closed incident packed as one zip file; its manifest's SHA-256 (`root_hash`) is
    written to the ledger at event `ledger_seq`."""

    incident = ReportIncidentRefSerializer(read_only=True)
    status = JobStatusField(read_only=True)
    url = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField(help_text=_("The path of the zip file; null until frozen."))

    class Meta:
        model = Archive
        fields = [
            "id",
            "incident",
            "status",
            "root_hash",
            "ledger_seq",
            "size",
            "requested_at",
            "frozen_at",
            "error",
            "url",
            "download",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        return reverse("api:archive-detail", kwargs={"pk": obj.pk})

    def get_download(self, obj) -> str | None:
        if obj.status != JobStatus.DONE or not obj.file:
            return None
        return reverse("api:archive-download", kwargs={"pk": obj.pk})


class ArchiveDetailSerializer(ArchiveSerializer):
    manifest = serializers.JSONField(read_only=True, help_text=_("Every file of the zip with its SHA-256 and size."))

    class Meta(ArchiveSerializer.Meta):
        fields = [*ArchiveSerializer.Meta.fields, "manifest"]
        read_only_fields = fields
