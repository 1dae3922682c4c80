"""Early-warning API serializers (预警监测).

Output serializers are read-only renderings. Input serializers list only what a caller may send:
a rule's cursor, last evaluation, author and active flag, and an alert's status, handler and
drafts are the services'; a payload naming them is simply ignored (mass assignment is impossible
by construction). The acting `department` is named and must be one of the caller's: the view
refuses any other before the service runs.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from apps.datapool.models import Dataset
from apps.incidents.api.serializers import DepartmentRefSerializer
from apps.incidents.choices import Subtype, WarningLevel
from apps.monitoring.choices import Aggregate, Comparator, DraftAction, RuleKind, Window
from apps.monitoring.models import Alert, MonitoringRule, RuleEvaluation
from apps.organizations.models import Region

ACTING_DEPARTMENT_HELP = _(
    "The department the rule belongs to (one where you may monitor); may be left out when there is only one."
)


# --- references -------------------------------------------------------------------------------


class MonitoringDatasetRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["id", "title"]
        read_only_fields = fields


class MonitoringRegionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "code", "name"]
        read_only_fields = fields


class MonitoringRuleRefSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)
    dataset = MonitoringDatasetRefSerializer(read_only=True)

    class Meta:
        model = MonitoringRule
        fields = ["id", "name", "department", "dataset"]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.STR)
class SubtypeField(serializers.ChoiceField):
    """The incidents' sub-types, described as a plain string: the same choice set already has its
    enum (`SubtypeEnum`) under the incident's `subtype`, and a second name for it would be a
    schema warning."""


# --- rules ------------------------------------------------------------------------------------


class MonitoringRuleSerializer(serializers.ModelSerializer):
    """A rule as stored. Every relation it shows is joined by the list (no query per row)."""

    department = DepartmentRefSerializer(read_only=True, help_text=_("The department the rule belongs to."))
    dataset = MonitoringDatasetRefSerializer(read_only=True)
    notify_departments = DepartmentRefSerializer(
        many=True, read_only=True, help_text=_("Departments told of each alert, besides the rule's own.")
    )
    incident_subtype = SubtypeField(choices=Subtype.choices, read_only=True)
    created_by = serializers.CharField(source="created_by.display_name", read_only=True)

    class Meta:
        model = MonitoringRule
        fields = [
            "id",
            "name",
            "department",
            "dataset",
            "kind",
            "field",
            "aggregate",
            "comparator",
            "threshold",
            "window",
            "min_baseline",
            "level",
            "notify_departments",
            "draft_action",
            "incident_subtype",
            "is_active",
            "cursor",
            "last_evaluated_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


# Its request body is the `MonitoringRuleRequest` of the rule it creates (the schema's enums of
# `kind` then belong to one component, as they should).
@extend_schema_serializer(component_name="MonitoringRule")
class MonitoringRuleCreateSerializer(serializers.Serializer):
    """Watch a dataset your department may read (its own, or through a valid grant)."""

    department = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text=ACTING_DEPARTMENT_HELP
    )
    dataset = serializers.IntegerField(min_value=1, help_text=_("The dataset (id) watched."))
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=RuleKind.choices)
    field = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("A numeric field of the dataset's standard; none for a count."),
    )
    aggregate = serializers.ChoiceField(choices=Aggregate.choices, required=False, default=Aggregate.COUNT)
    comparator = serializers.ChoiceField(choices=Comparator.choices, required=False, default=Comparator.GE)
    threshold = serializers.FloatField(
        help_text=_("Compared with the window's value; for a rate rule, the change in per cent.")
    )
    window = serializers.ChoiceField(choices=Window.choices, required=False, default=Window.DAY)
    min_baseline = serializers.FloatField(
        min_value=0,
        required=False,
        default=1,
        help_text=_("Rate rules only: the previous window must reach this value."),
    )
    level = serializers.ChoiceField(choices=WarningLevel.choices)
    notify_departments = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=100,
        required=False,
        default=list,
        help_text=_("Departments (ids) told of each alert, besides the rule's own."),
    )
    draft_action = serializers.ChoiceField(choices=DraftAction.choices, required=False, default=DraftAction.NONE)
    incident_subtype = SubtypeField(
        choices=Subtype.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The sub-type of the incident drafted on a hit (draft_action incident): %(codes)s.")
        % {"codes": ", ".join(Subtype.values)},
    )


class RuleEvaluationSerializer(serializers.ModelSerializer):
    class Meta:
        model = RuleEvaluation
        fields = [
            "id",
            "started_at",
            "finished_at",
            "from_cursor",
            "to_cursor",
            "records",
            "buckets",
            "alerts",
            "outcome",
            "message",
        ]
        read_only_fields = fields


# --- alerts -----------------------------------------------------------------------------------


class AlertSerializer(serializers.ModelSerializer):
    """An alert. Every relation it shows is joined by the list (no query per row)."""

    rule = MonitoringRuleRefSerializer(read_only=True)
    region = MonitoringRegionRefSerializer(read_only=True, allow_null=True)
    handled_by = serializers.CharField(source="handled_by.display_name", read_only=True, allow_null=True)
    warning = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text=_("The warning drafted for review, if any.")
    )
    incident = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text=_("The incident report drafted, if any.")
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "region",
            "window_start",
            "window_end",
            "value",
            "baseline",
            "level",
            "status",
            "raised_at",
            "handled_by",
            "handled_at",
            "note",
            "warning",
            "incident",
            "draft_error",
        ]
        read_only_fields = fields


class AlertHandleSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
