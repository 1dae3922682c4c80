"""Data-access API serializers (按需取用).

Output serializers are read-only renderings. Input serializers list only what a caller may send:
a request's status, depth, approvals and author, a grant's validity, approvers, emergency flag
and revocation are the services'; a payload naming them (`status`, `approved_by`, `valid_until`,
`is_emergency`, `created_by`, ...) is simply ignored (mass assignment is impossible by
construction). The acting department is named (`department`) and must be one of the caller's:
the view refuses any other before the service runs.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.access.choices import EMERGENCY_MAX_HOURS, MAX_GRANT_HOURS, Decision
from apps.access.models import DataApproval, DataDemand, DataGrant, DataRequest, Subscription
from apps.access.rowfilter import MAX_CONDITIONS
from apps.datapool.models import Dataset
from apps.incidents.api.serializers import DepartmentRefSerializer
from apps.incidents.models import Incident

ACTING_DEPARTMENT_HELP = _("The department you act for (one of yours); may be left out when you act for only one.")


# --- references -------------------------------------------------------------------------------


class AccessDatasetRefSerializer(serializers.ModelSerializer):
    owner = DepartmentRefSerializer(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "title", "classification", "owner"]
        read_only_fields = fields


class AccessIncidentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = ["id", "title", "severity", "status"]
        read_only_fields = fields


def _acting_department():
    return serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text=ACTING_DEPARTMENT_HELP
    )


def _field_names(**kwargs):
    return serializers.ListField(child=serializers.CharField(max_length=64), max_length=200, **kwargs)


# --- requests ---------------------------------------------------------------------------------


class DataApprovalSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True, help_text=_("The department the approver decided for."))
    decided_by = serializers.CharField(source="decided_by.display_name", read_only=True)

    class Meta:
        model = DataApproval
        fields = ["stage", "decision", "reason", "department", "decided_by", "decided_at", "second_factor"]
        read_only_fields = fields


class DataRequestSerializer(serializers.ModelSerializer):
    """A list row. Every relation it shows is joined by `selectors.request_list`."""

    department = DepartmentRefSerializer(read_only=True, help_text=_("The requesting department."))
    dataset = AccessDatasetRefSerializer(read_only=True)
    incident = AccessIncidentRefSerializer(read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.display_name", read_only=True)

    class Meta:
        model = DataRequest
        fields = [
            "id",
            "status",
            "department",
            "dataset",
            "fields",
            "masked_fields",
            "row_filter",
            "purpose",
            "legal_basis",
            "incident",
            "duration_hours",
            "depth",
            "created_by",
            "created_at",
            "submitted_at",
            "decided_at",
            "rejection_reason",
        ]
        read_only_fields = fields


class DataRequestDetailSerializer(DataRequestSerializer):
    """The row plus its decisions so far and, once granted, the grant it produced."""

    approvals = DataApprovalSerializer(many=True, read_only=True, source="approval_list")
    grant = serializers.SerializerMethodField(help_text=_("The grant this request produced (when you may see it)."))

    class Meta(DataRequestSerializer.Meta):
        fields = [*DataRequestSerializer.Meta.fields, "approvals", "grant"]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_grant(self, obj):
        return getattr(obj, "grant_id_seen", None)


class DataRequestCreateSerializer(serializers.Serializer):
    """Ask another department for its records. Status, depth and author are the service's."""

    department = _acting_department()
    dataset = serializers.IntegerField(min_value=1, help_text=_("The dataset (id) asked for."))
    fields = _field_names(help_text=_("Fields wanted in clear (the standard's field names)."))
    masked_fields = _field_names(required=False, default=list, help_text=_("Fields wanted masked."))
    row_filter = serializers.JSONField(
        required=False,
        default=list,
        help_text=_(
            "Rows wanted: a list of at most %(n)d conditions {field, op, value}, all of which must hold. "
            "op is eq, in, gte, lte or between on a standard field; `_region` takes op within and a 6-digit "
            "division code; `_observed` takes op between and two ISO 8601 times."
        )
        % {"n": MAX_CONDITIONS},
    )
    purpose = serializers.CharField(max_length=5000, allow_blank=True)
    legal_basis = serializers.CharField(max_length=300, allow_blank=True)
    incident = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    duration_hours = serializers.IntegerField(
        min_value=1, max_value=MAX_GRANT_HOURS, help_text=_("How long the grant should run, in hours.")
    )
    submit = serializers.BooleanField(
        required=False, default=True, help_text=_("Submit at once (default) or keep as a draft.")
    )


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text=_("Required to reject.")
    )


class AccessReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# --- grants -----------------------------------------------------------------------------------


class DataGrantSerializer(serializers.ModelSerializer):
    """A grant with the time it has left. Every relation it shows is joined by `selectors.grant_list`."""

    department = DepartmentRefSerializer(read_only=True, help_text=_("The department that holds the grant."))
    dataset = AccessDatasetRefSerializer(read_only=True)
    incident = AccessIncidentRefSerializer(read_only=True, allow_null=True)
    is_active = serializers.SerializerMethodField(
        help_text=_("Valid right now: started, not expired, not revoked, its incident not closed.")
    )
    seconds_left = serializers.SerializerMethodField(help_text=_("Seconds until it ends; 0 once it is not active."))

    class Meta:
        model = DataGrant
        fields = [
            "id",
            "department",
            "dataset",
            "request",
            "fields",
            "masked_fields",
            "row_filter",
            "purpose",
            "incident",
            "valid_from",
            "valid_until",
            "is_active",
            "seconds_left",
            "approved_by",
            "is_emergency",
            "justification",
            "reviewed_at",
            "review_note",
            "revoked_at",
            "revoke_reason",
            "created_at",
        ]
        read_only_fields = fields

    def _now(self):
        return self.context.get("now") or timezone.now()

    def get_is_active(self, obj) -> bool:
        return obj.is_active(self._now())

    def get_seconds_left(self, obj) -> int:
        now = self._now()
        return max(int((obj.valid_until - now).total_seconds()), 0) if obj.is_active(now) else 0


class ReviewSerializer(serializers.Serializer):
    approve = serializers.BooleanField(help_text=_("true keeps the access; false revokes it at once."))
    note = serializers.CharField(max_length=2000, allow_blank=True)


class EmergencyAccessSerializer(serializers.Serializer):
    """Break-glass: a department head opens time-boxed access on an active severity I/II incident."""

    department = _acting_department()
    dataset = serializers.IntegerField(min_value=1)
    incident = serializers.IntegerField(min_value=1)
    justification = serializers.CharField(max_length=5000, allow_blank=True)
    hours = serializers.IntegerField(min_value=1, max_value=EMERGENCY_MAX_HOURS, help_text=_("Hours, never days."))


# --- granted records --------------------------------------------------------------------------


class GrantedRecordSerializer(serializers.Serializer):
    """One record as the grant shows it: fields in clear, masked fields masked, others absent.
    (The schema of a row; the view renders the rows itself, through the grant's presenter.)"""

    id = serializers.IntegerField(read_only=True)
    payload = serializers.JSONField(read_only=True, help_text=_("The record, keyed by the standard's field names."))


class GrantedRecordPageSerializer(serializers.Serializer):
    """A cursor page of records read through a grant (the schema of the response)."""

    dataset = serializers.IntegerField(read_only=True)
    grant = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=_("The grant read through; null for the owner department.")
    )
    columns = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=_("Fields shown."))
    masked = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=_("Of those, masked."))
    next = serializers.URLField(read_only=True, allow_null=True)
    previous = serializers.URLField(read_only=True, allow_null=True)
    results = GrantedRecordSerializer(many=True, read_only=True)


# --- demands ----------------------------------------------------------------------------------


class DataDemandSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)
    tags = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    incident = AccessIncidentRefSerializer(read_only=True, allow_null=True)
    suggested = serializers.SerializerMethodField(help_text=_("Catalog datasets that may meet it."))
    # the model's SlugField would put a slug pattern in the schema, which "" (no standard) does not match
    standard_code = serializers.CharField(read_only=True, help_text=_("The data standard's code, or empty."))

    class Meta:
        model = DataDemand
        fields = [
            "id",
            "department",
            "title",
            "description",
            "standard_code",
            "tags",
            "incident",
            "status",
            "suggested",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(AccessDatasetRefSerializer(many=True))
    def get_suggested(self, obj):
        return AccessDatasetRefSerializer(getattr(obj, "suggested_seen", []), many=True).data


class DemandCreateSerializer(serializers.Serializer):
    department = _acting_department()
    title = serializers.CharField(max_length=200, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    standard_code = serializers.SlugField(max_length=64, required=False, allow_blank=True, default="")
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=64), required=False, default=list, help_text=_("Tag codes.")
    )
    incident = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class DemandCloseSerializer(serializers.Serializer):
    met = serializers.BooleanField(
        required=False, default=True, help_text=_("true: the need was met; false: closed without the data.")
    )


# --- subscriptions ----------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)
    dataset = AccessDatasetRefSerializer(read_only=True, allow_null=True)
    incident = AccessIncidentRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Subscription
        fields = ["id", "department", "dataset", "incident", "created_at"]
        read_only_fields = fields


class SubscriptionCreateSerializer(serializers.Serializer):
    """Follow a dataset your department holds a valid grant on (or owns), or an incident."""

    department = _acting_department()
    dataset = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    incident = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
