"""FilterSets shared by the portal lists and the API lists of reporting. They narrow a list that
already comes from `restrict()`, never widen it."""

import django_filters
from django.utils.translation import gettext_lazy as _

from .choices import JobStatus, ReportKind
from .models import Archive, Report


class ReportFilter(django_filters.FilterSet):
    incident = django_filters.NumberFilter(field_name="incident_id", label=_("Incident"))
    kind = django_filters.ChoiceFilter(choices=ReportKind.choices, label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=JobStatus.choices, label=_("Status"))

    class Meta:
        model = Report
        fields = ["incident", "kind", "status"]


class ArchiveFilter(django_filters.FilterSet):
    incident = django_filters.NumberFilter(field_name="incident_id", label=_("Incident"))
    status = django_filters.ChoiceFilter(choices=JobStatus.choices, label=_("Status"))

    class Meta:
        model = Archive
        fields = ["incident", "status"]
