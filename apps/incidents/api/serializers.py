"""Incident API serializers.

Output serializers are read-only renderings. Input serializers list only what a caller may send:
status, region, number, counts, lateness and authorship are set by the services, so a payload
naming them is simply ignored (mass assignment is impossible by construction).
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.incidents.choices import (
    Category,
    IncidentStatus,
    IntakeChannel,
    ReportKind,
    Severity,
    Subtype,
    WarningLevel,
)
from apps.incidents.models import (
    Incident,
    PlanActivation,
    PlannedDispatch,
    PlanTaskTemplate,
    ReportingClock,
    ResponsePlan,
    SituationReport,
    TimelineEntry,
    Warning,
)
from apps.incidents.timeline import api_url as timeline_api_url
from apps.organizations.models import Department, LeadingGroup

# --- references -------------------------------------------------------------------------------


class DepartmentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "name", "type"]
        read_only_fields = fields


class LeadingGroupRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadingGroup
        fields = ["id", "name"]
        read_only_fields = fields


# --- incidents --------------------------------------------------------------------------------


class IncidentSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Reporting region code."))
    regions = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True, help_text=_("Affected region codes.")
    )
    reporting_department = DepartmentRefSerializer(read_only=True)
    leading_group = LeadingGroupRefSerializer(read_only=True, allow_null=True)
    sighted_at = serializers.DateTimeField(
        read_only=True, help_text=_("The earliest sighting (first seen or intake): the reporting clocks run from it.")
    )
    registration_gap = serializers.DurationField(
        read_only=True, help_text=_("How long after the earliest sighting the incident was registered.")
    )
    # blank when no intake channel saw the event first (the schema says so: "" is one of the values)
    intake_channel = serializers.ChoiceField(
        choices=IntakeChannel.choices,
        allow_blank=True,
        read_only=True,
        help_text=_("The channel that first picked the event up (hotline, monitoring alert, ...), if any."),
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "category",
            "subtype",
            "severity",
            "status",
            "is_drill",
            "region",
            "regions",
            "place",
            "latitude",
            "longitude",
            "first_seen_at",
            "intake_channel",
            "intake_seen_at",
            "sighted_at",
            "reported_at",
            "registration_gap",
            "reporting_department",
            "leading_group",
            "report_count",
            "closed_at",
        ]
        read_only_fields = fields


class IncidentCountsSerializer(serializers.Serializer):
    reports = serializers.IntegerField(read_only=True)
    warnings = serializers.IntegerField(read_only=True, help_text=_("Warnings on this incident the caller sees."))
    activations = serializers.IntegerField(read_only=True)
    timeline_entries = serializers.IntegerField(read_only=True)


class IncidentDetailSerializer(IncidentSerializer):
    """The list row plus the description and the counts (passed in the context by the view)."""

    counts = serializers.SerializerMethodField()

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "description", "counts"]
        read_only_fields = fields

    @extend_schema_field(IncidentCountsSerializer)
    def get_counts(self, obj):
        return self.context.get("counts")


class IncidentCreateSerializer(serializers.Serializer):
    """What a reporter sends. Anything else in the payload (status, region, created_by, ...) is ignored."""

    department = serializers.IntegerField(min_value=1, help_text=_("The reporting department (one of yours)."))
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=Category.choices)
    subtype = serializers.ChoiceField(choices=Subtype.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    place = serializers.CharField(max_length=300)
    latitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False, allow_null=True, default=None
    )
    longitude = serializers.DecimalField(
        max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False, allow_null=True, default=None
    )
    first_seen_at = serializers.DateTimeField()
    intake_channel = serializers.ChoiceField(
        choices=IntakeChannel.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The channel that first picked the event up (hotline, monitoring alert, ...), if any."),
    )
    intake_seen_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text=_("When that channel first saw the event.")
    )
    regions = serializers.ListField(
        child=serializers.CharField(max_length=6),
        required=False,
        default=list,
        max_length=200,
        help_text=_("Affected region codes; empty: the reporting department's region."),
    )
    is_drill = serializers.BooleanField(required=False, default=False)


class IncidentStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class IncidentSeveritySerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Severity.choices)
    reason = serializers.CharField(max_length=1000)


class IncidentLeadingGroupSerializer(serializers.Serializer):
    group = serializers.IntegerField(min_value=1, help_text=_("The leading group to put in charge."))


# --- situation reports ------------------------------------------------------------------------


class SituationReportSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)
    submitted_by = serializers.CharField(source="submitted_by.display_name", read_only=True)
    late_gap_text = serializers.CharField(
        read_only=True,
        help_text=_(
            "A late first report: how long after the earliest sighting it came, in the language of the request."
        ),
    )
    late_gap_channel = serializers.ChoiceField(
        choices=IntakeChannel.choices,
        allow_blank=True,
        read_only=True,
        help_text=_("The channel that first picked the event up (hotline, monitoring alert, ...), if any."),
    )

    class Meta:
        model = SituationReport
        fields = [
            "id",
            "incident",
            "number",
            "kind",
            "department",
            "submitted_by",
            "submitted_at",
            "deaths",
            "injured",
            "missing",
            "affected_population",
            "evacuated",
            "resources_deployed",
            "text",
            "due_at",
            "is_late",
            "late_by",
            "late_gap",
            "late_gap_channel",
            "late_gap_text",
            "late_reason",
        ]
        read_only_fields = fields


class SituationReportSubmitSerializer(serializers.Serializer):
    """Number, lateness and the clock are the service's; an `Idempotency-Key` header overrides the body key."""

    department = serializers.IntegerField(min_value=1, help_text=_("The reporting department (one of yours)."))
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    text = serializers.CharField()
    deaths = serializers.IntegerField(min_value=0, required=False, default=0)
    injured = serializers.IntegerField(min_value=0, required=False, default=0)
    missing = serializers.IntegerField(min_value=0, required=False, default=0)
    affected_population = serializers.IntegerField(min_value=0, required=False, default=0)
    evacuated = serializers.IntegerField(min_value=0, required=False, default=0)
    resources_deployed = serializers.CharField(required=False, allow_blank=True, default="")
    late_reason = serializers.CharField(required=False, allow_blank=True, default="")
    idempotency_key = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)

    def validate(self, attrs):
        header = self.context.get("idempotency_key")
        if header is not None:
            header = header.strip()
            if len(header) > 64:
                raise serializers.ValidationError(
                    {"idempotency_key": [_("The Idempotency-Key header holds at most 64 characters.")]}
                )
            attrs["idempotency_key"] = header
        return attrs


# --- timeline, clocks, plans ------------------------------------------------------------------


class TimelineEntrySerializer(serializers.ModelSerializer):
    summary = serializers.CharField(source="text", read_only=True, help_text=_("In the language of the request."))
    url = serializers.SerializerMethodField(
        help_text=_("API detail URL of the entry's object (report, warning, task, data request…); null if it has none.")
    )

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "incident",
            "occurred_at",
            "kind",
            "summary",
            "actor_name",
            "target_type",
            "target_id",
            "url",
            "ledger_seq",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_url(self, obj) -> str | None:
        return timeline_api_url(obj)  # from target_type / target_id: no query per entry


class ReportingClockSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = ReportingClock
        fields = [
            "id",
            "incident",
            "department",
            "kind",
            "due_at",
            "is_open",
            "satisfied_at",
            "satisfied_by",
            "cancelled_at",
            "reminded_at",
            "escalated_head_at",
            "escalated_region_at",
            "escalated_group_at",
        ]
        read_only_fields = fields


class PlanTaskTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanTaskTemplate
        fields = ["id", "title", "target_department_type", "deadline_minutes", "instructions"]
        read_only_fields = fields


class ResponsePlanSerializer(serializers.ModelSerializer):
    task_templates = PlanTaskTemplateSerializer(many=True, read_only=True)
    notify_department_types = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ResponsePlan
        fields = [
            "id",
            "name",
            "category",
            "subtype",
            "severity",
            "lead_department_type",
            "notify_department_types",
            "data_approval_depth",
            "is_active",
            "task_templates",
        ]
        read_only_fields = fields


class ResponsePlanRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResponsePlan
        fields = ["id", "name"]
        read_only_fields = fields


class PlannedDispatchSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)

    class Meta:
        model = PlannedDispatch
        fields = ["id", "template", "department", "title", "deadline", "task_id"]
        read_only_fields = fields


class PlanActivationSerializer(serializers.ModelSerializer):
    plan = ResponsePlanRefSerializer(read_only=True)
    dispatches = PlannedDispatchSerializer(many=True, read_only=True)

    class Meta:
        model = PlanActivation
        fields = ["id", "incident", "plan", "severity", "activated_at", "dispatches"]
        read_only_fields = fields


# --- warnings ---------------------------------------------------------------------------------


class WarningSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    issuer = DepartmentRefSerializer(read_only=True)
    created_by = serializers.CharField(source="created_by.display_name", read_only=True)

    class Meta:
        model = Warning
        fields = [
            "id",
            "title",
            "level",
            "status",
            "region",
            "incident",
            "issuer",
            "area",
            "starts_at",
            "expected_hours",
            "measures",
            "content",
            "created_by",
            "created_at",
            "reviewed_by",
            "reviewed_at",
            "published_at",
        ]
        read_only_fields = fields


class WarningCreateSerializer(serializers.Serializer):
    """A draft; the status, reviewer and publication stamps are the services'."""

    issuer = serializers.IntegerField(min_value=1, help_text=_("The issuing department (one of yours)."))
    region = serializers.CharField(
        max_length=6, required=False, help_text=_("Region code the warning covers; default: the issuer's region.")
    )
    incident = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    level = serializers.ChoiceField(choices=WarningLevel.choices)
    title = serializers.CharField(max_length=200)
    area = serializers.CharField(max_length=300)
    starts_at = serializers.DateTimeField()
    expected_hours = serializers.IntegerField(min_value=1)
    measures = serializers.CharField()
    content = serializers.CharField(required=False, allow_blank=True, default="")
