"""FilterSets shared by the portal lists and the API lists of early warning. They narrow a list
that already comes from `restrict()` (the selectors), never widen it."""

import django_filters
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.incidents.choices import WarningLevel

from .choices import AlertStatus
from .models import Alert, MonitoringRule


class MonitoringRuleFilter(django_filters.FilterSet):
    dataset = django_filters.NumberFilter(field_name="dataset_id", label=_("Dataset"))
    active = django_filters.BooleanFilter(field_name="is_active", label=_("Active"))

    class Meta:
        model = MonitoringRule
        fields = ["dataset", "active"]


class AlertFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AlertStatus.choices, label=_("Status"))
    level = django_filters.ChoiceFilter(choices=WarningLevel.choices, label=pgettext_lazy("warning", "Level"))
    rule = django_filters.NumberFilter(field_name="rule_id", label=_("Rule"))

    class Meta:
        model = Alert
        fields = ["status", "level", "rule"]
