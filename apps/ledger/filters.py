import django_filters
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    seq = django_filters.NumberFilter(label=_("Ledger #"))
    action = django_filters.CharFilter(lookup_expr="startswith", label=_("Action starts with"))
    target_type = django_filters.CharFilter(label=_("Target type"))
    target_id = django_filters.CharFilter(label=_("Target id"))
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("Since"))

    class Meta:
        model = AuditEvent
        fields = ["seq", "action", "target_type", "target_id", "since"]
