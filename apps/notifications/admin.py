"""Admin console: notifications and webhook endpoints read through `restrict`; the outbox and the
delivery records are read-only evidence for platform administrators."""

from django.contrib import admin

from apps.core.admin import PlatformRecordAdmin, ScopedModelAdmin

from .models import Delivery, Notification, OutboxMessage, WebhookDelivery, WebhookEndpoint


class ReadOnlyMixin:
    """Rows written by services and workers only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, ScopedModelAdmin):
    list_display = ["title", "kind", "department", "audience_role", "created_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["title", "key"]
    list_select_related = ["department"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyMixin, ScopedModelAdmin):
    """Managed by department heads in the portal and the API (the services keep the ledger)."""

    list_display = ["name", "department", "url", "is_active", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["department"]
    exclude = ["secret"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(PlatformRecordAdmin):
    list_display = ["key", "topic", "created_at", "published_at", "completed_at", "attempts", "last_error"]
    list_filter = ["topic"]
    search_fields = ["key"]


@admin.register(Delivery)
class DeliveryAdmin(PlatformRecordAdmin):
    list_display = ["key", "channel", "recipient", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = ["channel"]
    search_fields = ["key"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(PlatformRecordAdmin):
    list_display = ["endpoint", "notification", "attempt", "status_code", "succeeded", "sent_at", "duration_ms"]
    list_filter = ["succeeded"]
    list_select_related = ["endpoint", "notification"]
