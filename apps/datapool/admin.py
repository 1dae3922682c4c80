"""Admin console of the data pool: standards, tags and their rules are configuration kept by
administrators; datasets, loads and sync sources are read here and changed through the portal
and API services. Records (residents' personal data) are not in the console at all. The guardian
rows behind data grants are shown read-only: they are made and removed only by the access
services, with the grant they back."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ReadOnlyScopedAdmin

from .models import (
    Dataset,
    DatasetGroupObjectPermission,
    DataStandard,
    IngestionJob,
    QualityRule,
    SyncSource,
    Tag,
    TagRule,
)


class QualityRuleInline(admin.TabularInline):
    model = QualityRule
    extra = 0


class TagRuleInline(admin.TabularInline):
    model = TagRule
    extra = 0


@admin.register(DataStandard)
class DataStandardAdmin(admin.ModelAdmin):
    """A standard in use is frozen: change it by "save as new" with the next version number."""

    list_display = ["code", "version", "name", "created_at"]
    search_fields = ["code", "name"]
    inlines = [QualityRuleInline, TagRuleInline]
    save_as = True

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.pk and obj.datasets.exists():
            return ["code", "version", "fields", "key_fields", "observed_field", "region_field"]
        return []

    def has_delete_permission(self, request, obj=None):
        return False  # datasets and records refer to the version


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyScopedAdmin):
    list_display = ["title", "owner", "standard", "classification", "record_count", "quality_score", "last_loaded_at"]
    list_filter = ["classification", "source_kind", "update_frequency"]
    search_fields = ["title", "description"]
    list_select_related = ["owner", "standard"]


@admin.register(IngestionJob)
class IngestionJobAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "dataset", "channel", "status", "rows_read", "rows_accepted", "rows_rejected", "created_at"]
    list_filter = ["channel", "status"]
    list_select_related = ["dataset"]


@admin.register(SyncSource)
class SyncSourceAdmin(ReadOnlyScopedAdmin):
    list_display = ["name", "dataset", "table", "cursor_column", "cursor_value", "enabled", "last_run_at"]
    list_select_related = ["dataset"]
    exclude = ["url_encrypted"]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in super().get_readonly_fields(request, obj) if name != "url_encrypted"]


@admin.register(DatasetGroupObjectPermission)
class DatasetGrantPermissionAdmin(ReadOnlyScopedAdmin):
    """guardian's `read_dataset` rows (direct FK), one per grantee department and dataset. Read-only:
    a grant is requested, approved, revoked and expired through the access services, which write
    and remove these rows with the ledger event; typing one in here would bypass all of that.
    Seen by those who manage the dataset (its owner's data stewards) and platform administrators."""

    list_display = ["content_object", "grantee", "permission"]
    list_select_related = ["content_object", "group__department", "permission"]
    search_fields = ["content_object__title", "group__department__name"]

    def get_queryset(self, request):
        # this table has no scope of its own: its rows follow their dataset's `manage` scope
        qs = self.model._default_manager.all()
        return qs.filter(content_object__in=Dataset.objects.restrict(request.user, "manage"))

    @admin.display(description=_("Grantee department"), ordering="group__department__name")
    def grantee(self, obj):
        return getattr(obj.group, "department", None) or obj.group
