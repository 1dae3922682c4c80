"""Portal forms for incidents and warnings.

Forms parse shapes (required fields, numbers, dates); the business rules (a sub-type belongs to its
category, transitions, late reports need a reason, who may act) stay in the services, whose
translated messages the views attach to the field they name. Choice lists come from restricted
querysets, so a form never offers what the caller cannot see.
"""

import uuid

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.core.permissions import Role
from apps.core.scoping import principal_for
from apps.organizations.models import Department, LeadingGroup, Region
from apps.organizations.selectors import leading_group_list, region_list

from . import selectors
from .choices import (
    INCIDENT_TRANSITIONS,
    OPEN_STATUSES,
    SUBTYPES_BY_CATEGORY,
    Category,
    IncidentStatus,
    IntakeChannel,
    ReportKind,
    Severity,
    Subtype,
    WarningLevel,
)
from .models import Incident

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends, read in Asia/Shanghai
REPORT_FIGURES = ("deaths", "injured", "missing", "affected_population", "evacuated")
# The office seats that may put an incident in a leading group's charge (as the service checks).
OFFICE_ROLES = {Role.HEAD, Role.STAFF}


def acting_departments(user):
    """The caller's own departments in which they may report incidents and issue warnings."""
    return (
        Department.objects.restrict(user, "report_incident").select_related("region").order_by("region__path", "name")
    )


def office_groups(user):
    """Leading groups whose information office the caller sits in (administrators: every group)."""
    groups = leading_group_list(user=user).prefetch_related(None)
    principal = principal_for(user)
    if principal is None or principal.is_superuser:
        return groups
    return groups.filter(pk__in=principal.office_group_ids(OFFICE_ROLES))


def _now_local() -> str:
    return timezone.localtime().strftime(DATETIME_LOCAL)


def _datetime_field(label, **kwargs) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        **kwargs,
    )


def _acting_department_field(user, label) -> forms.ModelChoiceField:
    queryset = acting_departments(user)
    options = list(queryset)
    # One department (the usual duty officer): preselected, no empty choice to pick by mistake.
    single = len(options) == 1
    field = forms.ModelChoiceField(
        queryset=queryset,
        label=label,
        empty_label=None if single else "---------",
        initial=options[0] if single else None,
    )
    field.has_options = bool(options)
    return field


def _text(rows: int = 3, **attrs) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, **attrs})


SUBTYPE_CHOICES = [
    (category.label, [(s.value, s.label) for s in Subtype if s.value in SUBTYPES_BY_CATEGORY[category]])
    for category in Category
]


class IncidentReportForm(forms.Form):
    """Report an incident (incidents.services.incident_report)."""

    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=_("Reporting department"))
    title = forms.CharField(label=_("Title"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=[("", "---------"), *Category.choices])
    # Grouped by category for the reader; whether it belongs to the category is the service's rule.
    subtype = forms.ChoiceField(label=_("Sub-type"), choices=[("", "---------"), *SUBTYPE_CHOICES])
    severity = forms.TypedChoiceField(
        label=_("Severity"), coerce=int, choices=[("", "---------"), *Severity.choices], empty_value=None
    )
    place = forms.CharField(label=_("Place"), max_length=300)
    latitude = forms.DecimalField(
        label=_("Latitude"), max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False
    )
    longitude = forms.DecimalField(
        label=_("Longitude"), max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False
    )
    first_seen_at = _datetime_field(_("First seen at"), help_text=_("Beijing time."))
    intake_channel = forms.ChoiceField(
        label=_("Intake channel"),
        choices=[("", "---------"), *IntakeChannel.choices],
        required=False,
        help_text=_("If a hotline call, a monitoring alert, the media or a patrol picked the event up first."),
    )
    intake_seen_at = _datetime_field(
        _("First seen by the intake channel at"),
        required=False,
        help_text=_("Beijing time. The reporting deadlines run from the earliest sighting."),
    )
    regions = forms.ModelMultipleChoiceField(
        queryset=Region.objects.none(),
        label=_("Affected regions"),
        required=False,
        help_text=_("None selected: the reporting department's region."),
    )
    is_drill = forms.BooleanField(label=_("This is a drill/exercise"), required=False)
    description = forms.CharField(label=_("Description"), widget=_text(5), required=False)
    # Made when the form is shown: a double click or a resubmission reports the incident once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        self.fields["department"] = _acting_department_field(user, _("Reporting department"))
        self.fields["regions"].queryset = region_list(user=user).order_by("path")
        self.fields["regions"].widget.attrs["size"] = 6
        self.fields["first_seen_at"].initial = _now_local
        self.has_departments = self.fields["department"].has_options


class SituationReportForm(forms.Form):
    """Submit a situation report (incidents.services.report_submit). The hidden key, made when the
    form is shown, lets the service answer a double submission with the first report."""

    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=_("Reporting department"))
    kind = forms.ChoiceField(label=_("Kind of report"), choices=ReportKind.choices)
    text = forms.CharField(label=_("Situation"), widget=_text(4))
    deaths = forms.IntegerField(label=_("Deaths"), min_value=0, required=False, initial=0)
    injured = forms.IntegerField(label=_("Injured"), min_value=0, required=False, initial=0)
    missing = forms.IntegerField(label=_("Missing"), min_value=0, required=False, initial=0)
    affected_population = forms.IntegerField(label=_("Affected population"), min_value=0, required=False, initial=0)
    evacuated = forms.IntegerField(label=_("Evacuated"), min_value=0, required=False, initial=0)
    resources_deployed = forms.CharField(label=_("Resources deployed"), widget=_text(2), required=False)
    late_reason = forms.CharField(
        label=_("Reason for lateness"),
        widget=_text(2),
        required=False,
        help_text=_("Required when the report is past its due time (a late report)."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, user, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"] = _acting_department_field(user, _("Reporting department"))
        self.fields["kind"].initial = ReportKind.INITIAL if not incident.report_count else ReportKind.FOLLOW_UP
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        self.has_departments = self.fields["department"].has_options

    def clean(self):
        cleaned = super().clean()
        for name in REPORT_FIGURES:
            if name in cleaned and cleaned[name] is None:
                cleaned[name] = 0
        return cleaned


class IncidentPhotoForm(forms.Form):
    """Attach a photo from the scene (incidents.services.incident_photo_add). What the file is, the
    service reads from its content; `accept` only narrows the device's file picker."""

    department = forms.ModelChoiceField(queryset=Department.objects.none(), label=_("Reporting department"))
    photo = forms.FileField(
        label=_("Photo"),
        help_text=_("PNG or JPEG, at most 10 MB."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    caption = forms.CharField(label=_("Caption"), max_length=300, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, auto_id="id_photo_%s", **kwargs)  # the detail page holds several forms
        self.fields["department"] = _acting_department_field(user, _("Reporting department"))
        self.has_departments = self.fields["department"].has_options


class IncidentStatusForm(forms.Form):
    """Move an incident along its transition map. Offers the next statuses (verify and close have
    their own buttons); accepts any status, so that the service's transition check speaks."""

    status = forms.ChoiceField(label=_("New status"), choices=IncidentStatus.choices)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, auto_id="id_status_%s", **kwargs)  # the detail page holds several forms
        offered = INCIDENT_TRANSITIONS.get(incident.status, set()) - {IncidentStatus.VERIFIED, IncidentStatus.CLOSED}
        self.fields["status"].widget.choices = [(s.value, s.label) for s in IncidentStatus if s in offered]
        self.is_offered = bool(offered)


class IncidentSeverityForm(forms.Form):
    severity = forms.TypedChoiceField(label=_("New severity"), coerce=int, choices=Severity.choices)
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args, incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].widget.choices = [(s.value, s.label) for s in Severity if s != incident.severity]


class IncidentLeadingGroupForm(forms.Form):
    group = forms.ModelChoiceField(queryset=LeadingGroup.objects.none(), label=_("Leading group"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = office_groups(user)
        self.is_offered = bool(self.fields["group"].queryset)


class IncidentCloseForm(forms.Form):
    note = forms.CharField(label=_("Closing note"), max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="id_close_%s", **kwargs)


class WarningDraftForm(forms.Form):
    """Draft a warning (incidents.services.warning_draft); review and publication come later."""

    issuer = forms.ModelChoiceField(queryset=Department.objects.none(), label=_("Issuing department"))
    level = forms.ChoiceField(
        label=pgettext_lazy("warning", "Level"), choices=[("", "---------"), *WarningLevel.choices]
    )
    title = forms.CharField(label=_("Title"), max_length=200)
    region = forms.ModelChoiceField(
        queryset=Region.objects.none(),
        label=_("Region"),
        required=False,
        help_text=_("Empty: the issuing department's region."),
    )
    area = forms.CharField(label=_("Area"), max_length=300)
    starts_at = _datetime_field(_("Starts at"), help_text=_("Beijing time."))
    expected_hours = forms.IntegerField(label=_("Expected duration (hours)"), min_value=1, initial=24)
    measures = forms.CharField(label=_("Measures the public must take"), widget=_text(3))
    content = forms.CharField(label=_("Content"), widget=_text(4), required=False)
    incident = forms.ModelChoiceField(queryset=Incident.objects.none(), label=_("Incident"), required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = uuid.uuid4().hex
        self.fields["issuer"] = _acting_department_field(user, _("Issuing department"))
        self.fields["region"].queryset = region_list(user=user).order_by("path")
        self.fields["incident"].queryset = (
            selectors.incident_list(user=user).filter(status__in=OPEN_STATUSES).prefetch_related(None)
        )
        self.fields["starts_at"].initial = _now_local
        self.has_departments = self.fields["issuer"].has_options


def style_incident_filter(form, *, user) -> None:
    """Presentation of the shared IncidentFilter in the portal: date pickers, a region picker."""
    for name in ("since", "until"):
        form.fields[name].widget.input_type = "date"
    form.fields["region"].widget = forms.Select(
        choices=[("", "---------"), *((r.code, r.name) for r in region_list(user=user).order_by("path"))]
    )
