"""Admin console base: reads through `restrict`, writes through the app's services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .denials import denial_record
from .exceptions import AccessDenied, ServiceError
from .models import DeadLetter, TaskDelivery
from .services import dead_letter_requeue


class ServiceRefusalsAsFormErrors:
    """A service's refusal (ServiceError) during an add or change page's save is shown on the form,
    with what the administrator typed, instead of a server error.

    The save runs inside the admin's transaction, so a refusal rolls everything back; the page is
    then built again from the same POST with the refusal added to the form's errors (on its field
    where the service names one the form has), so Django's own invalid-form rendering shows it.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as refusal:
            if request.method != "POST" or hasattr(request, "_service_refusal"):
                raise
            request._service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        if refusal is None:
            return form_class

        class RefusedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                field = refusal.field if refusal.field in self.fields else None
                self.add_error(field, str(refusal.message))
                return cleaned

        return RefusedForm


class ScopedModelAdmin(ServiceRefusalsAsFormErrors, admin.ModelAdmin):
    """Every admin of a tenant-owned model derives from this.

    `service_create(request, obj, form)` / `service_update(...)` / `service_delete(request, obj)`
    call the app's services; without them the admin cannot add, change or delete.
    """

    def get_queryset(self, request):
        return self.model.objects.restrict(request.user, "view")

    def has_add_permission(self, request):
        return hasattr(self, "service_create") and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return hasattr(self, "service_delete") and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk deletes would bypass the ledger
        return actions

    def save_model(self, request, obj, form, change):
        handler = getattr(self, "service_update" if change else "service_create", None)
        if handler is None:
            raise PermissionDenied
        try:
            saved = handler(request, obj, form)
        except AccessDenied as exc:
            denial_record(user=request.user, exc=exc)
            raise PermissionDenied from exc
        if saved is not None and saved is not obj:
            obj.pk = saved.pk
            obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def save_related(self, request, form, formsets, change):
        """Services set relations themselves; the admin form does not write them behind their back."""

    def delete_model(self, request, obj):
        try:
            self.service_delete(request, obj)
        except AccessDenied as exc:
            denial_record(user=request.user, exc=exc)
            raise PermissionDenied from exc

    def run_service(self, request, func, **kwargs):
        """For admin actions: run one service call, report its refusal as a message."""
        try:
            with transaction.atomic():
                return func(actor=request.user, **kwargs)
        except ServiceError as exc:
            self.message_user(request, str(exc.message), messages.ERROR)
        except AccessDenied as exc:
            denial_record(user=request.user, exc=exc)
            self.message_user(request, _("You do not have permission to perform this action."), messages.ERROR)
        return None


class ReadOnlyScopedAdmin(ScopedModelAdmin):
    """Operational records: read in the console, changed only through the portal/API services."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_change_permission(self, request, obj=None):
        return False


class PlatformRecordAdmin(admin.ModelAdmin):
    """Platform records written by services and workers (no tenant): platform administrators read
    them in the console; nobody adds, changes or deletes them here."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(PlatformRecordAdmin):
    """Messages that killed their worker too often (decision 0013); requeue once the cause is fixed."""

    list_display = ["task_name", "task_id", "queue", "attempts", "created_at", "requeued_at"]
    list_filter = ["task_name", "queue"]
    search_fields = ["task_id", "task_name"]
    actions = ["requeue"]

    @admin.action(description=gettext_lazy("Requeue the selected dead letters"))
    def requeue(self, request, queryset):
        done = 0
        for letter in queryset.order_by("pk"):
            try:
                dead_letter_requeue(actor=request.user, dead_letter=letter)
            except ServiceError as exc:
                self.message_user(request, f"{letter}: {exc.message}", messages.ERROR)
            except AccessDenied as exc:
                denial_record(user=request.user, exc=exc)
                raise PermissionDenied from exc
            else:
                done += 1
        if done:
            message = ngettext("%(n)d dead letter requeued.", "%(n)d dead letters requeued.", done) % {"n": done}
            self.message_user(request, message, messages.SUCCESS)


@admin.register(TaskDelivery)
class TaskDeliveryAdmin(PlatformRecordAdmin):
    """Messages delivered again after their worker died, still counting (decision 0013)."""

    list_display = ["task_name", "key", "deliveries", "first_seen_at", "last_started_at", "last_worker"]
    search_fields = ["task_id", "task_name"]
