from django.contrib import admin

from apps.core.admin import ReadOnlyScopedAdmin

from .models import (
    Incident,
    PlanActivation,
    PlanTaskTemplate,
    ReportingClock,
    ReportingRule,
    ResponsePlan,
    SituationReport,
    Warning,
)


class PlanTaskTemplateInline(admin.TabularInline):
    model = PlanTaskTemplate
    extra = 1


@admin.register(ResponsePlan)
class ResponsePlanAdmin(admin.ModelAdmin):
    """Plans are configuration (templates), edited by administrators; activations are the record."""

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


@admin.register(ReportingRule)
class ReportingRuleAdmin(admin.ModelAdmin):
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
