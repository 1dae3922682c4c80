"""Admin console of incidents: response plans and reporting rules are configuration kept by
platform administrators (each save leaves one ledger event); incidents, reports, warnings, clocks
and activations are read here and changed only through the portal and API services."""

from django import forms
from django.contrib import admin
from django.core.validators import MinValueValidator
from django.utils.translation import gettext_lazy as _

from apps.core.admin import LedgeredConfigAdmin, ReadOnlyScopedAdmin
from apps.organizations.choices import DepartmentType

from .choices import SUBTYPES_BY_CATEGORY
from .models import (
    Incident,
    PlanActivation,
    PlannedDispatch,
    PlanTaskTemplate,
    ReportingClock,
    ReportingRule,
    ResponsePlan,
    SituationReport,
    Warning,
)

TEMPLATE_FIELDS = ("title", "target_department_type", "deadline_minutes", "instructions")


class PlanTaskTemplateFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        deleted = [form.instance.pk for form in self.deleted_forms if form.instance.pk]
        if deleted and PlannedDispatch.objects.filter(template_id__in=deleted).exists():
            # activations refer to it (and keep what they dispatched): deleting it would fail
            raise forms.ValidationError(
                _("A task that an activation has already dispatched cannot be removed; deactivate the plan instead.")
            )


class PlanTaskTemplateInline(admin.TabularInline):
    model = PlanTaskTemplate
    formset = PlanTaskTemplateFormSet
    extra = 1


class ResponsePlanAdminForm(forms.ModelForm):
    class Meta:
        model = ResponsePlan
        fields = [
            "name",
            "category",
            "subtype",
            "severity",
            "lead_department_type",
            "notify_department_types",
            "data_approval_depth",
            "is_active",
        ]

    def clean_notify_department_types(self):
        value = self.cleaned_data["notify_department_types"] or []
        if not isinstance(value, list) or any(item not in DepartmentType.values for item in value):
            raise forms.ValidationError(
                _('Give a list of department types, e.g. ["media", "health"]. Known types: %(types)s')
                % {"types": ", ".join(DepartmentType.values)}
            )
        return value

    def clean(self):
        cleaned = super().clean()
        category, subtype = cleaned.get("category"), cleaned.get("subtype")
        if category and subtype and subtype not in SUBTYPES_BY_CATEGORY.get(category, set()):
            self.add_error("subtype", _("This sub-type does not belong to the category."))
        return cleaned


@admin.register(ResponsePlan)
class ResponsePlanAdmin(LedgeredConfigAdmin):
    """Plans are configuration (templates), edited by administrators; activations are the record.
    One ledger event per save, with the plan and its task templates before and after."""

    form = ResponsePlanAdminForm
    ledger_name = "response_plan"

    list_display = [
        "name",
        "category",
        "subtype",
        "severity",
        "lead_department_type",
        "data_approval_depth",
        "is_active",
    ]
    list_filter = ["category", "severity", "is_active"]
    inlines = [PlanTaskTemplateInline]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: activations refer to the plan

    def ledger_snapshot(self, obj) -> dict:
        templates = PlanTaskTemplate.objects.filter(plan=obj).order_by("pk").values("pk", *TEMPLATE_FIELDS)
        return {**super().ledger_snapshot(obj), "task_templates": list(templates)}


# minutes after which something falls due: zero would make it due at the moment it starts
DEADLINE_FIELDS = ("initial_minutes", "county_to_city_minutes", "city_to_province_minutes", "follow_up_minutes")


class ReportingRuleAdminForm(forms.ModelForm):
    class Meta:
        model = ReportingRule
        fields = [
            "severity",
            "initial_minutes",
            "county_to_city_minutes",
            "city_to_province_minutes",
            "follow_up_minutes",
            "daily_report",
            "remind_before_minutes",
            "escalate_region_after_minutes",
            "escalate_group_after_minutes",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in DEADLINE_FIELDS:
            self.fields[name].validators.append(MinValueValidator(1))
            self.fields[name].widget.attrs["min"] = 1

    def clean(self):
        cleaned = super().clean()
        initial, remind = cleaned.get("initial_minutes"), cleaned.get("remind_before_minutes")
        if initial is not None and remind is not None and remind >= initial:
            # the reminder would fall at or before the first sighting: sent the moment the clock starts
            self.add_error(
                "remind_before_minutes",
                _("The reminder must come after the incident is first seen: fewer minutes than the initial report."),
            )
        region, group = cleaned.get("escalate_region_after_minutes"), cleaned.get("escalate_group_after_minutes")
        if region is not None and group is not None and group <= region:
            # the ladder climbs: department head, then the region above, then the leading group
            self.add_error(
                "escalate_group_after_minutes",
                _("The leading group is told after the region above: give more minutes than for the region above."),
            )
        return cleaned


@admin.register(ReportingRule)
class ReportingRuleAdmin(LedgeredConfigAdmin):
    """Statutory reporting deadlines per severity; one ledger event per save or deletion."""

    form = ReportingRuleAdminForm
    ledger_name = "reporting_rule"
    list_display = [
        "severity",
        "initial_minutes",
        "county_to_city_minutes",
        "city_to_province_minutes",
        "follow_up_minutes",
        "daily_report",
    ]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyScopedAdmin):
    list_display = ["title", "category", "severity", "status", "is_drill", "region", "first_seen_at"]
    list_filter = ["category", "severity", "status", "is_drill"]
    search_fields = ["title", "place"]
    list_select_related = ["region"]


@admin.register(SituationReport)
class SituationReportAdmin(ReadOnlyScopedAdmin):
    list_display = ["incident", "number", "kind", "department", "submitted_at", "is_late"]
    list_select_related = ["incident", "department"]


@admin.register(Warning)
class WarningAdmin(ReadOnlyScopedAdmin):
    list_display = ["title", "level", "status", "region", "issuer", "starts_at"]
    list_select_related = ["region", "issuer"]


@admin.register(ReportingClock)
class ReportingClockAdmin(ReadOnlyScopedAdmin):
    list_display = ["incident", "department", "kind", "due_at", "satisfied_at", "escalated_head_at"]
    list_select_related = ["incident", "department"]


@admin.register(PlanActivation)
class PlanActivationAdmin(ReadOnlyScopedAdmin):
    list_display = ["incident", "plan", "severity", "activated_at"]
    list_select_related = ["incident", "plan"]
