"""Admin console base: reads through `restrict`, writes through the app's services."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from apps.ledger.services import audit_record, snapshot

from .denials import denial_record
from .exceptions import AccessDenied, ServiceError
from .models import DeadLetter, TaskDelivery
from .scoping import authorize
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


class OutOfScopeIsNotFound:
    """A change, delete or history page for an object the administrator cannot see (outside their
    scope, or nonexistent) answers 404, as the portal and the API do, instead of Django's redirect
    with "doesn't exist" (which tells an existing id from a missing one).

    An object that exists outside the scope is a probe: it raises a hidden `AccessDenied`, which
    `AccessDeniedMiddleware` records as an `access.denied` ledger event and answers 404. Recording
    it there, not here, matters: the change and delete pages run inside the admin's transaction,
    which rolls back on the way out."""

    _page_actions = {"change": "change", "delete": "delete", "history": "view"}

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        try:
            pk = self.model._meta.pk.to_python(unquote(object_id))
            target = self.model._default_manager.filter(pk=pk).first()
        except (ValidationError, ValueError, TypeError):
            target = None
        if target is None:
            raise Http404
        page = (getattr(request.resolver_match, "url_name", "") or "").rsplit("_", 1)[-1]
        raise AccessDenied(action=self._page_actions.get(page, "view"), target=target, hidden=True)


class ScopedModelAdmin(OutOfScopeIsNotFound, ServiceRefusalsAsFormErrors, admin.ModelAdmin):
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
        # a refusal (AccessDenied) propagates: AccessDeniedMiddleware records it once the admin's
        # transaction has rolled back (recorded in here, the denial would roll back with it)
        saved = handler(request, obj, form)
        if saved is not None and saved is not obj:
            obj.pk = saved.pk
            obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def save_related(self, request, form, formsets, change):
        """Services set relations themselves; the admin form does not write them behind their back."""

    def delete_model(self, request, obj):
        self.service_delete(request, obj)  # a refusal propagates, as in save_model

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


class LedgeredConfigAdmin(admin.ModelAdmin):
    """Platform configuration with no service of its own (response plans, reporting rules), kept by
    platform administrators in the console.

    Every add, change or delete page save is authorized (`authorize` on the model: platform
    administrators) and leaves exactly one ledger event, `<ledger_name>.create|update|delete`, with
    the row and its inline rows (`ledger_snapshot`) before and after. The event is written in the
    admin's own transaction, after the inlines are saved, so it commits with the change or not at
    all. Bulk deletion is off: it would bypass the ledger.
    """

    ledger_name = ""  # the ledger action prefix, e.g. "response_plan"

    def ledger_snapshot(self, obj) -> dict:
        return snapshot(obj, [f.name for f in obj._meta.concrete_fields if not f.primary_key])

    def _may(self, request, action: str) -> bool:
        try:
            authorize(request.user, action, self.model)
        except AccessDenied:
            return False
        return True

    def _authorize(self, request, action: str) -> None:
        # a refusal propagates: AccessDeniedMiddleware records it after the admin's transaction
        # rolled back, and answers 403
        authorize(request.user, action, self.model)

    def has_add_permission(self, request):
        return self._may(request, "add") and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change") and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete") and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        self._authorize(request, "change" if change else "add")
        # the stored row, before this save (inline rows are saved later, in save_related)
        request._ledger_before = self.ledger_snapshot(self.model.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        audit_record(
            actor=request.user,
            action=f"{self.ledger_name}.{'update' if change else 'create'}",
            target=form.instance,
            before=getattr(request, "_ledger_before", None),
            after=self.ledger_snapshot(form.instance),
        )

    def delete_model(self, request, obj):
        self._authorize(request, "delete")
        audit_record(
            actor=request.user, action=f"{self.ledger_name}.delete", target=obj, before=self.ledger_snapshot(obj)
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:  # no bulk action offers this; should one, still one event per row
            self.delete_model(request, obj)


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
