"""Portal forms of on-demand data access (按需取用).

Forms parse shapes (required fields, numbers, dates, choices); the rules (which fields exist,
what a row filter may say, who may decide, how long access may last) stay in `services` and
`rowfilter`, whose translated messages the views attach to the field they name. Choice lists
come from restricted querysets, so a form never offers what the caller cannot use.
"""

from __future__ import annotations

import json
import re
import uuid

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.datapool.forms import field_label
from apps.datapool.models import Dataset, Tag
from apps.datapool.selectors import dataset_catalog, standard_list
from apps.incidents.choices import OPEN_STATUSES as OPEN_INCIDENT_STATUSES
from apps.incidents.choices import IncidentStatus
from apps.incidents.models import Incident
from apps.incidents.selectors import incident_list
from apps.organizations.models import Department

from . import rowfilter
from .choices import EMERGENCY_MAX_HOURS, DemandStatus
from .selectors import followable_datasets

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends, read in Asia/Shanghai
DURATION_PRESETS = (24, 72, 168)
FILTER_ROWS = 3  # condition rows of the row-filter builder
# Incidents that may open break-glass access (the service checks again): active, real, severity I/II.
EMERGENCY_INCIDENT_STATUSES = (IncidentStatus.VERIFIED, IncidentStatus.RESPONDING, IncidentStatus.RECOVERING)
LIST_SPLIT = re.compile(r"\s*[,，、;；]\s*")


def _text(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


def _departments(queryset):
    return queryset.filter(is_active=True).select_related("region").order_by("region__path", "name")


def requesting_departments(user):
    """Departments in which the caller may ask for data (heads and data stewards)."""
    return _departments(Department.objects.restrict(user, "request_data"))


def emergency_departments(user):
    """Departments in which the caller may open break-glass access (heads)."""
    return _departments(Department.objects.restrict(user, "emergency_access"))


def open_incidents(user):
    return incident_list(user=user).filter(status__in=OPEN_INCIDENT_STATUSES).prefetch_related(None)


def emergency_incidents(user):
    return open_incidents(user).filter(status__in=EMERGENCY_INCIDENT_STATUSES, severity__lte=2, is_drill=False)


class DepartmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.region.name}"


class IncidentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.title} ({obj.get_severity_display()} · {obj.get_status_display()})"


class DatasetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.title} · {obj.owner.name}"


def _single_choice(field: forms.ModelChoiceField) -> None:
    """With one department to act for, preselect it (no empty choice)."""
    only = list(field.queryset.values_list("pk", flat=True)[:2])
    if len(only) == 1:
        field.empty_label = None
        field.initial = only[0]


def _idempotency_field() -> forms.CharField:
    # Made when the form is shown: a double click or a resubmission creates one object.
    return forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)


# --- the request form ----------------------------------------------------------------------------


def _typed(spec: dict, raw: str):
    """A value typed into the builder, as the field's type: numbers compare as numbers."""
    kind = spec.get("type")
    if kind == "integer":
        return int(raw)
    if kind in ("number", "decimal", "float"):
        return float(raw)
    return raw


class DataRequestForm(forms.Form):
    """Ask for another department's dataset: fields in clear or masked, a row filter, why, for
    how long (services.request_create). The row filter comes from a small builder (a few
    field/operator/value rows, a division code and a time window) and, for what the builder cannot
    say, the filter's JSON itself; all conditions must hold."""

    OPS = [
        ("eq", _("equals")),
        ("in", _("is one of")),
        ("gte", _("at least")),
        ("lte", _("at most")),
        ("between", _("between")),
    ]

    department = DepartmentChoiceField(queryset=Department.objects.none(), label=_("Requesting department"))
    fields = forms.MultipleChoiceField(label=_("Fields in clear"), required=False)
    masked_fields = forms.MultipleChoiceField(label=_("Fields masked"), required=False)
    region_code = forms.CharField(
        label=_("Division code"),
        max_length=6,
        required=False,
        help_text=_("Six digits, e.g. 320106: the division and everything below it."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "pattern": "[0-9]{6}", "autocomplete": "off"}),
    )
    observed_from = forms.DateTimeField(
        label=_("Observed from"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    observed_to = forms.DateTimeField(
        label=_("Observed until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    row_filter = forms.CharField(
        label=_("Row filter (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "json"}),
        help_text=_(
            'Optional, for conditions the builder cannot express, e.g. [{"field": "age", "op": "gte", "value": 65}].'
        ),
    )
    purpose = forms.CharField(label=_("Purpose"), widget=_text(3), max_length=2000)
    legal_basis = forms.CharField(
        label=_("Legal basis"), max_length=300, help_text=_("The law, regulation or plan that allows this use.")
    )
    incident = IncidentChoiceField(queryset=Incident.objects.none(), label=_("Incident"), required=False)
    duration_hours = forms.TypedChoiceField(
        label=_("Duration"),
        coerce=int,
        choices=[
            (24, _("24 hours (1 day)")),
            (72, _("72 hours (3 days)")),
            (168, _("168 hours (7 days)")),
        ],
        initial=72,
        widget=forms.RadioSelect,
    )
    idempotency_key = _idempotency_field()

    def __init__(self, *args, user, dataset: Dataset, **kwargs):
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        self.standard = dataset.standard
        self.specs = {spec["name"]: spec for spec in self.standard.fields}
        names = [(spec["name"], field_label(spec)) for spec in self.standard.fields]
        self.fields["fields"].choices = names
        self.fields["masked_fields"].choices = names
        self.fields["masked_fields"].initial = list(self.standard.sensitive_fields)
        self.fields["department"].queryset = requesting_departments(user).exclude(pk=dataset.owner_id)
        _single_choice(self.fields["department"])
        self.fields["incident"].queryset = open_incidents(user)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        choices = [("", "---------"), *names]
        for i in range(1, FILTER_ROWS + 1):
            self.fields[f"cond{i}_field"] = forms.ChoiceField(label=_("Field"), choices=choices, required=False)
            self.fields[f"cond{i}_op"] = forms.ChoiceField(label=_("Condition"), choices=self.OPS, required=False)
            self.fields[f"cond{i}_value"] = forms.CharField(label=_("Value"), max_length=500, required=False)
        self.has_departments = self.fields["department"].queryset.exists()

    # what the template renders by hand
    def field_rows(self) -> list[dict]:
        """One row per field of the standard: its label, sensitive mark and the two checkboxes."""
        clear = set(self._chosen("fields"))
        masked = set(self._chosen("masked_fields"))
        return [
            {
                "name": spec["name"],
                "label": field_label(spec),
                "sensitive": bool(spec.get("sensitive")),
                "clear": spec["name"] in clear,
                "masked": spec["name"] in masked,
            }
            for spec in self.standard.fields
        ]

    def _chosen(self, name: str) -> list[str]:
        if self.is_bound:
            return self.data.getlist(self.add_prefix(name)) if hasattr(self.data, "getlist") else []
        initial = self.initial.get(name, self.fields[name].initial)
        return list(initial or [])

    def condition_rows(self) -> list[tuple]:
        return [
            (self[f"cond{i}_field"], self[f"cond{i}_op"], self[f"cond{i}_value"]) for i in range(1, FILTER_ROWS + 1)
        ]

    def clean_region_code(self):
        code = self.cleaned_data["region_code"].strip()
        if code and not (code.isascii() and code.isdigit() and len(code) == 6):
            raise forms.ValidationError(_("Give a 6-digit division code."))
        return code

    def clean_row_filter(self):
        raw = self.cleaned_data["row_filter"].strip()
        if not raw:
            return []
        try:
            spec = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(_("This is not valid JSON.")) from None
        if not isinstance(spec, list):
            raise forms.ValidationError(_("The row filter must be a list of conditions."))
        return spec

    def _builder_conditions(self) -> list[dict]:
        out = []
        for i in range(1, FILTER_ROWS + 1):
            name = self.cleaned_data.get(f"cond{i}_field")
            op = self.cleaned_data.get(f"cond{i}_op") or "eq"
            raw = (self.cleaned_data.get(f"cond{i}_value") or "").strip()
            if not name:
                if raw:
                    self.add_error(f"cond{i}_field", _("Choose the field this value is for."))
                continue
            if not raw:
                self.add_error(f"cond{i}_value", _("Give a value."))
                continue
            spec = self.specs[name]
            try:
                if op in ("in", "between"):
                    values = [_typed(spec, v) for v in LIST_SPLIT.split(raw) if v]
                    if op == "between" and len(values) != 2:
                        self.add_error(f"cond{i}_value", _("“between” takes two values, e.g. 18, 65."))
                        continue
                    value = values
                else:
                    value = _typed(spec, raw)
            except ValueError:
                self.add_error(f"cond{i}_value", _("%(field)s takes numbers.") % {"field": field_label(spec)})
                continue
            out.append({"field": name, "op": op, "value": value})
        return out

    def clean(self):
        cleaned = super().clean()
        clear, masked = set(cleaned.get("fields") or []), set(cleaned.get("masked_fields") or [])
        both = [field_label(self.specs[n]) for n in self.standard.field_names if n in clear & masked]
        if both:
            self.add_error(
                "masked_fields", _("Choose either in clear or masked for: %(fields)s") % {"fields": ", ".join(both)}
            )
        spec = self._builder_conditions()
        if cleaned.get("region_code"):
            spec.append({"field": rowfilter.REGION, "op": "within", "value": cleaned["region_code"]})
        start, end = cleaned.get("observed_from"), cleaned.get("observed_to")
        if bool(start) != bool(end):
            self.add_error("observed_to" if start else "observed_from", _("Give both ends of the time window."))
        elif start and end:
            spec.append({"field": rowfilter.OBSERVED, "op": "between", "value": [start.isoformat(), end.isoformat()]})
        cleaned["row_filter_spec"] = spec + list(cleaned.get("row_filter") or [])
        return cleaned


# --- decisions and other actions on one object ---------------------------------------------------


class ActionForm(forms.Form):
    """A form on a request or grant page: each has its own id prefix (a page holds several)."""

    name = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.name}_%s")
        super().__init__(*args, **kwargs)


class ApproveForm(ActionForm):
    name = "approve"
    reason = forms.CharField(label=_("Note"), widget=_text(2), max_length=2000, required=False)


class RejectForm(ActionForm):
    name = "reject"
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        widget=_text(3),
        max_length=2000,
        help_text=_("The requesting department reads it."),
    )


class WithdrawForm(ActionForm):
    name = "withdraw"
    reason = forms.CharField(label=_("Reason (optional)"), widget=_text(2), max_length=2000, required=False)


class RevokeForm(ActionForm):
    name = "revoke"
    reason = forms.CharField(label=_("Reason for revoking"), widget=_text(3), max_length=2000)


class ReviewForm(ActionForm):
    """The owner's or the information office's review of break-glass access, afterwards."""

    name = "review"
    KEEP, REVOKE = "keep", "revoke"
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(KEEP, _("Justified: let it run its course")), (REVOKE, _("Not justified: revoke it now"))],
        widget=forms.RadioSelect,
        initial=KEEP,
    )
    note = forms.CharField(label=_("Review note"), widget=_text(3), max_length=2000)


# --- break-glass ---------------------------------------------------------------------------------


class EmergencyAccessForm(forms.Form):
    """Break-glass (紧急调用): a department head opens time-boxed access to a dataset on an active
    severity I/II incident; the owner and the information office review it afterwards."""

    department = DepartmentChoiceField(queryset=Department.objects.none(), label=_("For department"))
    dataset = DatasetChoiceField(queryset=Dataset.objects.none(), label=_("Dataset"))
    incident = IncidentChoiceField(
        queryset=Incident.objects.none(),
        label=_("Incident"),
        help_text=_("Only active, real incidents of severity I or II."),
    )
    justification = forms.CharField(
        label=_("Justification"),
        widget=_text(4),
        max_length=2000,
        help_text=_("Why this cannot wait for an approval. The owner and the information office read it."),
    )
    hours = forms.IntegerField(
        label=_("Hours"),
        min_value=1,
        max_value=EMERGENCY_MAX_HOURS,
        initial=4,
        help_text=_("At most %(max)d hours; counted in hours, never days.") % {"max": EMERGENCY_MAX_HOURS},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        departments = emergency_departments(user)
        self.fields["department"].queryset = departments
        _single_choice(self.fields["department"])
        self.fields["dataset"].queryset = (
            dataset_catalog(user=user)
            .prefetch_related(None)
            .select_related("owner")
            .exclude(owner_id__in=_only(departments))
            .order_by("title", "id")
        )
        self.fields["incident"].queryset = emergency_incidents(user)
        self.has_departments = departments.exists()


def _only(departments) -> list[int]:
    """The one department the caller acts for, if there is only one: its own datasets need no
    break-glass, so they are left out of the choices (the service refuses them anyway)."""
    ids = list(departments.values_list("pk", flat=True)[:2])
    return ids if len(ids) == 1 else []


# --- demands -------------------------------------------------------------------------------------


class DemandForm(forms.Form):
    """Post what a department needs without knowing who holds it (services.demand_post)."""

    department = DepartmentChoiceField(queryset=Department.objects.none(), label=_("For department"))
    title = forms.CharField(label=_("What is needed"), max_length=200)
    description = forms.CharField(
        label=pgettext_lazy("demand", "Description"), widget=_text(3), max_length=5000, required=False
    )
    standard_code = forms.ChoiceField(label=_("Data standard"), required=False)
    tags = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(), label=_("Tags"), required=False, widget=forms.CheckboxSelectMultiple
    )
    incident = IncidentChoiceField(queryset=Incident.objects.none(), label=_("Incident"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        departments = requesting_departments(user)
        self.fields["department"].queryset = departments
        _single_choice(self.fields["department"])
        codes: dict[str, str] = {}
        for standard in standard_list(user=user).prefetch_related(None).order_by("code", "-version"):
            codes.setdefault(standard.code, standard.name)
        self.fields["standard_code"].choices = [("", _("Any / not sure")), *codes.items()]
        self.fields["tags"].queryset = Tag.objects.order_by("code")
        self.fields["incident"].queryset = open_incidents(user)
        self.has_departments = departments.exists()


class DemandCloseForm(ActionForm):
    name = "close"
    MET, CLOSED = "met", "closed"
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(MET, _("Met: we have the data")), (CLOSED, _("Closed without the data"))],
        initial=MET,
        widget=forms.RadioSelect,
    )


class DemandFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All")), *DemandStatus.choices], required=False, initial="open"
    )
    matching = forms.BooleanField(label=_("Matching my datasets"), required=False)


# --- subscriptions -------------------------------------------------------------------------------


class SubscribeForm(forms.Form):
    """Follow a dataset the department holds a grant on (or owns), or an incident."""

    department = DepartmentChoiceField(queryset=Department.objects.none(), label=_("For department"))
    dataset = DatasetChoiceField(queryset=Dataset.objects.none(), label=_("Dataset"), required=False)
    incident = IncidentChoiceField(queryset=Incident.objects.none(), label=_("Incident"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        departments = requesting_departments(user)
        self.fields["department"].queryset = departments
        _single_choice(self.fields["department"])
        self.fields["dataset"].queryset = followable_datasets(user=user)
        self.fields["incident"].queryset = open_incidents(user)
        self.has_departments = departments.exists()

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("dataset")) == bool(cleaned.get("incident")):
            raise forms.ValidationError(_("Follow either a dataset or an incident."))
        return cleaned
