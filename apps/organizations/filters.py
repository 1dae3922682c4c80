"""FilterSets shared by the portal lists and the API lists."""

import django_filters
from django.utils.translation import gettext_lazy as _

from .choices import DepartmentType, RegionLevel
from .models import CollaborationAgreement, Department, LeadingGroup, Membership, Region


class RegionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))
    level = django_filters.ChoiceFilter(choices=RegionLevel.choices, label=_("Level"))
    code = django_filters.CharFilter(lookup_expr="startswith", label=_("Division code starts with"))

    class Meta:
        model = Region
        fields = ["q", "level", "code"]


class DepartmentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))
    type = django_filters.ChoiceFilter(choices=DepartmentType.choices, label=_("Type"))
    region = django_filters.CharFilter(field_name="region__code", label=_("Region code"))

    class Meta:
        model = Department
        fields = ["q", "type", "region"]


class MembershipFilter(django_filters.FilterSet):
    department = django_filters.NumberFilter(field_name="department_id", label=_("Department"))

    class Meta:
        model = Membership
        fields = ["department", "role"]


class AgreementFilter(django_filters.FilterSet):
    class Meta:
        model = CollaborationAgreement
        fields = ["status"]


class LeadingGroupFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))

    class Meta:
        model = LeadingGroup
        fields = ["q", "kind"]
