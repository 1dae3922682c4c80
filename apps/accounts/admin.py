from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.admin import ScopedModelAdmin, ServiceRefusalsAsFormErrors

from . import services
from .models import IntegrationKey, User


@admin.register(User)
class UserAdmin(ServiceRefusalsAsFormErrors, DjangoUserAdmin):
    """Platform administrators manage accounts; every create and change is a ledger event."""

    list_display = ["username", "display_name", "is_active", "is_staff", "is_superuser", "is_service"]
    list_filter = ["is_active", "is_staff", "is_superuser", "is_service"]
    search_fields = ["username", "display_name", "email"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("display_name", "email")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ["last_login", "date_joined", "is_service"]

    def save_model(self, request, obj, form, change):
        services.user_admin_save(actor=request.user, user=obj, changed=form.changed_data, created=not change)

    actions = ["reset_second_factor"]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the ledger keeps referring to the account

    @admin.action(description=_("Reset two-factor authentication (lost phone)"))
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            services.otp_devices_reset(actor=request.user, user=user)
        messages.success(request, _("Two-factor authentication was reset; those users enrol again."))


# Authenticators and backup codes are changed only by their owners (portal) or reset through the
# action above, both recorded in the ledger; django-otp's own admin pages would bypass that.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(ScopedModelAdmin):
    list_display = ["name", "prefix", "department", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["department", "created_by"]
    readonly_fields = ["name", "prefix", "department", "user", "created_by", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            self.run_service(request, services.integration_key_revoke, key=key)
