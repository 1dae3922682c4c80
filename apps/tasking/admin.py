from django.contrib import admin

from apps.core.admin import ScopedModelAdmin

from .models import Task, TaskEvent


class TaskEventInline(admin.TabularInline):
    model = TaskEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "department", "other_department", "actor_name", "note", "ledger_seq"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(ScopedModelAdmin):
    """Tasks are read in the console; they change only through the task services (portal/API)."""

    list_display = ["title", "department", "status", "priority", "deadline", "issuer_department", "incident"]
    list_filter = ["status", "priority"]
    search_fields = ["title"]
    list_select_related = ["department", "issuer_department", "incident"]
    inlines = [TaskEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False
