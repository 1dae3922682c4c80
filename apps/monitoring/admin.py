"""Admin console of early warning: rules, alerts and evaluations are read here (through
`restrict`) and changed only through the portal and API services; a rule can be switched on or
off with an admin action that calls the service (so the ledger sees it)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyScopedAdmin

from . import services
from .models import Alert, MonitoringRule, RuleEvaluation


@admin.register(MonitoringRule)
class MonitoringRuleAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "department", "dataset", "kind", "level", "is_active", "cursor", "last_evaluated_at"]
    list_filter = ["kind", "level", "is_active", "window"]
    search_fields = ["name"]
    list_select_related = ["department", "dataset"]
    actions = ["switch_on", "switch_off"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "notify_departments"]

    def _set_active(self, request, queryset, active: bool) -> None:
        for rule in queryset:
            self.run_service(request, services.rule_set_active, rule=rule, active=active)

    @admin.action(description=_("Switch the selected rules on"), permissions=["view"])
    def switch_on(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description=_("Switch the selected rules off"), permissions=["view"])
    def switch_off(self, request, queryset):
        self._set_active(request, queryset, False)


@admin.register(Alert)
class AlertAdmin(ReadOnlyScopedAdmin):
    list_display = ["rule", "region", "level", "status", "value", "baseline", "window_start", "raised_at"]
    list_filter = ["level", "status"]
    list_select_related = ["rule", "region"]


@admin.register(RuleEvaluation)
class RuleEvaluationAdmin(ReadOnlyScopedAdmin):
    """An evaluation has no scope of its own: it is seen with its rule."""

    list_display = ["rule", "started_at", "records", "buckets", "alerts", "outcome"]
    list_filter = ["outcome"]
    list_select_related = ["rule"]

    def get_queryset(self, request):
        rules = MonitoringRule.objects.restrict(request.user, "view")
        return RuleEvaluation.objects.filter(rule__in=rules.values("pk"))
