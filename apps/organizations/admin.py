from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ScopedModelAdmin

from . import services
from .choices import AgreementStatus
from .models import (
    CollaborationAgreement,
    Department,
    DepartmentGroupObjectPermission,
    LeadingGroup,
    LeadingGroupSeat,
    Membership,
    Region,
)


@admin.register(Region)
class RegionAdmin(ScopedModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "level", "parent", "path"] if obj else ["path"]

    def service_create(self, request, obj, form):
        d = form.cleaned_data
        return services.region_create(
            actor=request.user, code=d["code"], name=d["name"], level=d["level"], parent=d["parent"]
        )

    def service_update(self, request, obj, form):
        return services.region_update(actor=request.user, region=obj, name=form.cleaned_data["name"])


class DepartmentAdminForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["region", "name", "type", "contact_phone"]


@admin.register(Department)
class DepartmentAdmin(ScopedModelAdmin):
    form = DepartmentAdminForm
    list_display = ["name", "type", "region", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["name", "region__name", "region__code"]
    list_select_related = ["region"]

    def get_readonly_fields(self, request, obj=None):
        return ["region", "type", "is_active"] if obj else []

    def service_create(self, request, obj, form):
        d = form.cleaned_data
        return services.department_create(
            actor=request.user, region=d["region"], name=d["name"], type=d["type"], contact_phone=d["contact_phone"]
        )

    def service_update(self, request, obj, form):
        return services.department_update(actor=request.user, department=obj, data=form.cleaned_data)


@admin.register(Membership)
class MembershipAdmin(ScopedModelAdmin):
    list_display = ["user", "department", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__display_name", "department__name"]
    list_select_related = ["user", "department"]
    autocomplete_fields = ["user", "department"]
    fields = ["user", "department", "role"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def service_create(self, request, obj, form):
        d = form.cleaned_data
        return services.membership_add(actor=request.user, department=d["department"], user=d["user"], role=d["role"])

    def service_delete(self, request, obj):
        services.membership_remove(actor=request.user, membership=obj)


class AgreementAdminForm(forms.ModelForm):
    class Meta:
        model = CollaborationAgreement
        fields = [
            "title",
            "parties",
            "share_directory",
            "share_incidents",
            "share_tasks",
            "share_catalog",
            "valid_from",
            "valid_until",
        ]


@admin.register(CollaborationAgreement)
class CollaborationAgreementAdmin(ScopedModelAdmin):
    form = AgreementAdminForm
    list_display = ["title", "status", "valid_from", "valid_until"]
    list_filter = ["status"]
    filter_horizontal = ["parties"]
    actions = ["activate", "suspend", "terminate"]

    def get_readonly_fields(self, request, obj=None):
        return [*AgreementAdminForm.Meta.fields, "status"] if obj else []

    def service_create(self, request, obj, form):
        d = dict(form.cleaned_data)
        parties = list(d.pop("parties"))
        return services.agreement_create(actor=request.user, parties=parties, **d)

    def _set_status(self, request, queryset, status):
        for agreement in queryset:
            self.run_service(request, services.agreement_set_status, agreement=agreement, status=status)

    @admin.action(description=_("Activate the selected agreements"))
    def activate(self, request, queryset):
        self._set_status(request, queryset, AgreementStatus.ACTIVE)

    @admin.action(description=_("Suspend the selected agreements"))
    def suspend(self, request, queryset):
        self._set_status(request, queryset, AgreementStatus.SUSPENDED)

    @admin.action(description=_("Terminate the selected agreements"))
    def terminate(self, request, queryset):
        self._set_status(request, queryset, AgreementStatus.TERMINATED)


class LeadingGroupAdminForm(forms.ModelForm):
    information_office = forms.ModelChoiceField(
        Department.objects.filter(is_active=True), label=_("Information office")
    )
    big_data_center = forms.ModelChoiceField(
        Department.objects.filter(is_active=True), label=_("Big-data management center")
    )
    members = forms.ModelMultipleChoiceField(
        Department.objects.filter(is_active=True), required=False, label=_("Member departments")
    )

    class Meta:
        model = LeadingGroup
        fields = ["name", "kind", "regions"]


class LeadingGroupSeatInline(admin.TabularInline):
    model = LeadingGroupSeat
    extra = 0
    can_delete = False
    readonly_fields = ["department", "role"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LeadingGroup)
class LeadingGroupAdmin(ScopedModelAdmin):
    list_display = ["name", "kind", "is_active"]
    filter_horizontal = ["regions"]
    inlines = [LeadingGroupSeatInline]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = LeadingGroupAdminForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "kind", "regions", "information_office", "big_data_center", "members"]
        return ["name", "kind", "regions", "is_active"]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "kind", "regions", "is_active"] if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def service_create(self, request, obj, form):
        d = form.cleaned_data
        return services.leading_group_create(
            actor=request.user,
            name=d["name"],
            kind=d["kind"],
            regions=list(d["regions"]),
            information_office=d["information_office"],
            big_data_center=d["big_data_center"],
            members=list(d["members"]),
        )


class GrantAdminForm(forms.ModelForm):
    grantee = forms.ModelChoiceField(Department.objects.filter(is_active=True), label=_("Grantee department"))

    class Meta:
        model = DepartmentGroupObjectPermission
        fields = ["content_object"]


@admin.register(DepartmentGroupObjectPermission)
class DepartmentGrantAdmin(ScopedModelAdmin):
    """Explicit cross-scope grants on departments (guardian, direct FK), written by the grant service."""

    form = GrantAdminForm
    list_display = ["content_object", "group", "permission"]
    list_select_related = ["content_object", "group", "permission"]

    def get_queryset(self, request):
        from apps.core.scoping import principal_for

        principal = principal_for(request.user)
        qs = super(ScopedModelAdmin, self).get_queryset(request)
        if principal is not None and principal.is_superuser:
            return qs
        return qs.filter(content_object__in=Department.objects.restrict(request.user, "grant"))

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def service_create(self, request, obj, form):
        d = form.cleaned_data
        return services.department_grant(actor=request.user, department=d["content_object"], grantee=d["grantee"])

    def service_delete(self, request, obj):
        services.department_grant_revoke(
            actor=request.user,
            department=obj.content_object,
            grantee=obj.group.department,
            perm=obj.permission.codename,
        )
