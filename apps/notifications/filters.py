"""FilterSets shared by the portal lists and the API lists."""

import django_filters
from django.utils.translation import gettext_lazy as _

from .models import Notification, WebhookDelivery, WebhookEndpoint


class NotificationFilter(django_filters.FilterSet):
    kind = django_filters.CharFilter(field_name="kind", label=_("Kind"))
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label=_("Unread"))
    department = django_filters.NumberFilter(field_name="department_id", label=_("Department id"))

    class Meta:
        model = Notification
        fields = ["kind", "unread", "department"]


class WebhookDeliveryFilter(django_filters.FilterSet):
    succeeded = django_filters.BooleanFilter(label=_("Succeeded"))
    notification = django_filters.NumberFilter(field_name="notification_id", label=_("Notification id"))

    class Meta:
        model = WebhookDelivery
        fields = ["succeeded", "notification"]


class WebhookEndpointFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter(label=_("Active"))
    department = django_filters.NumberFilter(field_name="department_id", label=_("Department id"))

    class Meta:
        model = WebhookEndpoint
        fields = ["is_active", "department"]
