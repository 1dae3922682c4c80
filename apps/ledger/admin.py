from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ScopedModelAdmin

from .models import AuditEvent, LedgerHead
from .selectors import ledger_verify


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedModelAdmin):
    """The ledger, read-only: no add, change or delete from the console, ever. Platform
    administrators can replay the whole chain against the signed checkpoints from here (the same
    check as `manage.py verify_ledger`)."""

    list_display = ["seq", "created_at", "actor_name", "action", "target_type", "target_id", "region_path"]
    list_filter = ["action"]
    search_fields = ["action", "actor_name", "target_id", "request_id"]
    ordering = ["-seq"]
    change_list_template = "admin/ledger/auditevent/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def may_verify(self, request) -> bool:
        # The replay reads every event of every region: only those who see the whole ledger.
        return request.user.is_superuser

    def get_urls(self):
        verify = path("verify/", self.admin_site.admin_view(self.verify_view), name="ledger_auditevent_verify")
        return [verify, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, (extra_context or {}) | {"may_verify": self.may_verify(request)})

    def verify_view(self, request):
        """Replay the chain and compare it with the checkpoints; show the verdict (a read: no event)."""
        if not self.may_verify(request):
            raise PermissionDenied
        result = ledger_verify()
        context = self.admin_site.each_context(request) | {
            "opts": self.model._meta,
            "title": _("Verify the ledger"),
            "result": result,
            "head": LedgerHead.objects.filter(id=1).first(),
        }
        return TemplateResponse(request, "admin/ledger/auditevent/verify.html", context)
