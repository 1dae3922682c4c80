"""Admin console of reporting: reports and archives are read here (through `restrict`) and made
only by the services; a daily schedule is set through `services.schedule_set` (so the ledger sees
it). Files are not offered here: a report is downloaded from the portal or the API, an archive
too, where every download is recorded in the ledger."""

from django.contrib import admin

from apps.core.admin import ReadOnlyScopedAdmin, ScopedModelAdmin
from apps.incidents.models import Incident

from . import services
from .models import Archive, Report, ReportSchedule


class _NoFiles:
    """Leave the stored files (and bulky snapshots) out of the console's pages."""

    hidden: tuple[str, ...] = ()

    def get_exclude(self, request, obj=None):
        return [*(super().get_exclude(request, obj) or []), *self.hidden]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in super().get_readonly_fields(request, obj) if name not in self.hidden]


@admin.register(Report)
class ReportAdmin(_NoFiles, ReadOnlyScopedAdmin):
    hidden = ("pdf", "xlsx", "csv", "content")
    list_display = ["id", "incident", "kind", "number", "status", "progress", "trigger", "requested_at", "finished_at"]
    list_filter = ["kind", "status", "trigger"]
    search_fields = ["incident__title"]
    list_select_related = ["incident"]


@admin.register(Archive)
class ArchiveAdmin(_NoFiles, ReadOnlyScopedAdmin):
    hidden = ("file",)
    list_display = ["incident", "status", "size", "root_hash", "ledger_seq", "frozen_at"]
    list_filter = ["status"]
    search_fields = ["incident__title", "root_hash"]
    list_select_related = ["incident"]


@admin.register(ReportSchedule)
class ReportScheduleAdmin(ScopedModelAdmin):
    list_display = ["incident", "at_time", "is_active", "last_slot", "created_by"]
    list_filter = ["is_active"]
    list_select_related = ["incident", "created_by"]
    fields = ["incident", "at_time", "is_active", "last_slot", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["last_slot", "created_by"]
        return ["incident", *fixed] if obj is not None else fixed

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "incident":
            kwargs["queryset"] = Incident.objects.restrict(request.user, "view").order_by("-reported_at")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def service_create(self, request, obj, form):
        data = form.cleaned_data
        return services.schedule_set(
            actor=request.user, incident=data["incident"], at_time=data["at_time"], active=data["is_active"]
        )

    def service_update(self, request, obj, form):
        data = form.cleaned_data
        return services.schedule_set(
            actor=request.user, incident=obj.incident, at_time=data["at_time"], active=data["is_active"]
        )
