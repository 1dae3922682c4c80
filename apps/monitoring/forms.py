"""Portal forms of early warning (预警监测).

Forms parse shapes (required fields, numbers, choices); the rules (which field a dataset has,
whether the department may read it, what a kind of rule needs) stay in `services`, whose
translated messages the views attach to the field they name. Choice lists come from restricted
querysets, so a form never offers what the caller cannot use.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.access.forms import DatasetChoiceField, DepartmentChoiceField, _single_choice
from apps.datapool.forms import field_label
from apps.datapool.models import Dataset
from apps.incidents.choices import Subtype, WarningLevel
from apps.organizations.models import Department
from apps.organizations.selectors import department_list

from .choices import Aggregate, AlertStatus, Comparator, DraftAction, RuleKind, Window
from .selectors import watchable_datasets
from .services import NUMERIC


class DepartmentsChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.region.name}"


def monitoring_departments(user):
    """Departments for which the caller may create rules (heads and data stewards)."""
    return (
        Department.objects.restrict(user, "monitor")
        .filter(is_active=True)
        .select_related("region")
        .order_by("region__path", "name")
    )


def numeric_fields(datasets) -> list[tuple[str, list[tuple[str, str]]]]:
    """The numeric fields of the datasets' standards, grouped by standard (a select's optgroups)."""
    groups, seen = [], set()
    for dataset in datasets:
        standard = dataset.standard
        if standard.pk in seen:
            continue
        seen.add(standard.pk)
        names = [(f["name"], field_label(f)) for f in standard.fields if f.get("type") in NUMERIC]
        if names:
            groups.append((standard.name, names))
    return groups


class MonitoringRuleForm(forms.Form):
    """A rule: which dataset (and field) it watches, the condition, the level of the alert, who is
    told, and what is drafted on a hit (services.rule_create)."""

    department = DepartmentChoiceField(queryset=Department.objects.none(), label=_("For department"))
    dataset = DatasetChoiceField(queryset=Dataset.objects.none(), label=_("Dataset"))
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=RuleKind.choices, initial=RuleKind.THRESHOLD)
    field = forms.ChoiceField(
        label=_("Field"), required=False, help_text=_("A numeric field of the dataset; not needed for a count.")
    )
    aggregate = forms.ChoiceField(label=_("Aggregate"), choices=Aggregate.choices, initial=Aggregate.MAX)
    comparator = forms.ChoiceField(label=_("Comparison"), choices=Comparator.choices, initial=Comparator.GE)
    threshold = forms.FloatField(
        label=_("Threshold"), help_text=_("For a rate of change: the change in per cent, e.g. 50.")
    )
    window = forms.ChoiceField(label=_("Window"), choices=Window.choices, initial=Window.DAY)
    min_baseline = forms.FloatField(
        label=_("Minimum baseline"),
        min_value=0,
        initial=1,
        help_text=_("Rate rules only: the previous window must reach this value."),
    )
    level = forms.ChoiceField(label=pgettext_lazy("warning", "Level"), choices=WarningLevel.choices)
    notify_departments = DepartmentsChoiceField(
        queryset=Department.objects.none(),
        label=_("Departments alerted"),
        required=False,
        help_text=_("Besides the rule's own department."),
    )
    draft_action = forms.ChoiceField(
        label=_("On a hit"), choices=DraftAction.choices, initial=DraftAction.NONE, widget=forms.RadioSelect
    )
    incident_subtype = forms.ChoiceField(
        label=_("Incident sub-type"),
        choices=[("", "---------"), *Subtype.choices],
        required=False,
        help_text=_("For drafted incidents."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        departments = monitoring_departments(user)
        self.fields["department"].queryset = departments
        _single_choice(self.fields["department"])
        datasets = watchable_datasets(user, departments).select_related("owner", "standard")
        self.fields["dataset"].queryset = datasets
        self.fields["field"].choices = [("", "---------"), *numeric_fields(datasets)]
        self.fields["notify_departments"].queryset = (
            department_list(user=user).filter(is_active=True).order_by("region__path", "name")
        )
        self.has_departments = departments.exists()


class AlertHandleForm(forms.Form):
    """Acknowledge or close an alert, with a note for those who read it later."""

    status = forms.ChoiceField(
        label=_("Status"),
        choices=[(AlertStatus.ACKNOWLEDGED, _("Acknowledge")), (AlertStatus.CLOSED, _("Close"))],
        initial=AlertStatus.ACKNOWLEDGED,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, required=False)
