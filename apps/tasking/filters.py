"""FilterSets shared by the portal lists and the API lists."""

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import OPEN_STATUSES, Priority, TaskStatus
from .models import Task


class TaskFilter(django_filters.FilterSet):
    """Filters for any task list (all tasks, the inbox, the board). Filters narrow a list that
    already comes from a restricted selector; they never widen it."""

    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label=_("Title contains"))
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices, label=_("Status"))
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=_("Priority"))
    incident = django_filters.NumberFilter(field_name="incident_id", label=_("Incident"))
    department = django_filters.NumberFilter(field_name="department_id", label=_("Accountable department"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Overdue"))

    class Meta:
        model = Task
        fields = ["q", "status", "priority", "incident", "department", "overdue"]

    def filter_overdue(self, queryset, name, value):
        """Overdue: still open after its deadline (the same rule as the inbox counts)."""
        late = {"deadline__lt": timezone.now(), "status__in": OPEN_STATUSES}
        return queryset.filter(**late) if value else queryset.exclude(**late)
