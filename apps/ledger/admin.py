from django.contrib import admin

from apps.core.admin import ScopedModelAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedModelAdmin):
    """The ledger, read-only: no add, change or delete from the console, ever."""

    list_display = ["seq", "created_at", "actor_name", "action", "target_type", "target_id", "region_path"]
    list_filter = ["action"]
    search_fields = ["action", "actor_name", "target_id", "request_id"]
    ordering = ["-seq"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
