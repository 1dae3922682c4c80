"""FilterSets shared by the portal lists and the API lists."""

import django_filters
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import Category, IncidentStatus, Severity, Subtype, TimelineKind, WarningLevel, WarningStatus
from .models import Incident, SituationReport, TimelineEntry, Warning


class IncidentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label=_("Title contains"))
    category = django_filters.ChoiceFilter(choices=Category.choices, label=_("Category"))
    subtype = django_filters.ChoiceFilter(choices=Subtype.choices, label=_("Sub-type"))
    severity = django_filters.ChoiceFilter(choices=Severity.choices, label=_("Severity"))
    status = django_filters.ChoiceFilter(choices=IncidentStatus.choices, label=_("Status"))
    region = django_filters.CharFilter(method="filter_region", label=_("Region code"))
    since = django_filters.DateFilter(field_name="first_seen_at", lookup_expr="date__gte", label=_("First seen from"))
    until = django_filters.DateFilter(field_name="first_seen_at", lookup_expr="date__lte", label=_("First seen until"))
    is_drill = django_filters.BooleanFilter(label=_("Drill"))

    class Meta:
        model = Incident
        fields = ["q", "category", "subtype", "severity", "status", "region", "since", "until", "is_drill"]

    def filter_region(self, queryset, name, value):
        """Incidents reported in or affecting the region (and the regions below it)."""
        from apps.organizations.models import Region

        region = Region.objects.filter(code=value).first()
        if region is None:
            return queryset.none()
        return queryset.filter(
            pk__in=Incident.regions.through.objects.filter(region__path__startswith=region.path).values("incident_id")
        ) | queryset.filter(region__path__startswith=region.path)


class WarningFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=WarningLevel.choices, label=pgettext_lazy("warning", "Level"))
    status = django_filters.ChoiceFilter(choices=WarningStatus.choices, label=_("Status"))
    incident = django_filters.NumberFilter(field_name="incident_id", label=_("Incident"))

    class Meta:
        model = Warning
        fields = ["level", "status", "incident"]


class ReportFilter(django_filters.FilterSet):
    incident = django_filters.NumberFilter(field_name="incident_id", label=_("Incident"))
    is_late = django_filters.BooleanFilter(label=_("Late"))

    class Meta:
        model = SituationReport
        fields = ["incident", "kind", "is_late"]


class TimelineFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=TimelineKind.choices, label=_("Kind"))  # an unknown kind is a 400

    class Meta:
        model = TimelineEntry
        fields = ["kind"]
