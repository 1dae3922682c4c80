from django import forms
from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ScopedModelAdmin
from apps.core.exceptions import ServiceError

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


class LeadingGroupSeatsForm(forms.ModelForm):
    """A saved group's change page: its fields are read-only; a member department is added here
    (`leading_group_seat_add`), one is removed by ticking its seat's "Delete" below."""

    add_member = forms.ModelChoiceField(
        Department.objects.none(),  # set per request: departments the administrator sees, not yet seated
        required=False,
        label=_("Add a member department"),
    )

    class Meta:
        model = LeadingGroup
        fields = []


class LeadingGroupSeatInline(admin.TabularInline):
    """The group's seats, read-only. Ticking "Delete" on a member's seat and saving calls
    `leading_group_seat_remove` (see `LeadingGroupAdmin.save_related`); the information office and
    the big-data center are replaced, never removed: the service refuses, shown on the form.
    Permissions follow the group's: a seat is part of the group, not a record of its own."""

    model = LeadingGroupSeat
    extra = 0
    fields = ["department", "role"]
    readonly_fields = ["department", "role"]

    def _group_perm(self, request, action: str) -> bool:
        opts = self.parent_model._meta
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")

    def has_add_permission(self, request, obj=None):
        return False  # seats are added with the group's "Add a member department"

    def has_change_permission(self, request, obj=None):
        return self._group_perm(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._group_perm(request, "change")

    def has_view_permission(self, request, obj=None):
        return self._group_perm(request, "view") or self._group_perm(request, "change")


@admin.register(LeadingGroup)
class LeadingGroupAdmin(ScopedModelAdmin):
    """Created with its seats (`leading_group_create`); afterwards only its member departments
    change, through `leading_group_seat_add` / `leading_group_seat_remove`, one ledger event each."""

    list_display = ["name", "kind", "convened_for", "is_active"]
    list_select_related = ["convened_for"]
    filter_horizontal = ["regions"]
    inlines = [LeadingGroupSeatInline]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = LeadingGroupAdminForm if obj is None else LeadingGroupSeatsForm
        form_class = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form_class
        candidates = (
            Department.objects.restrict(request.user, "view")
            .filter(is_active=True)
            .exclude(leading_group_seats__group=obj)
            .select_related("region")
        )

        class SeatsForm(form_class):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                if "add_member" in self.fields:
                    self.fields["add_member"].queryset = candidates

        return SeatsForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "kind", "regions", "information_office", "big_data_center", "members"]
        fields = ["name", "kind", "convened_for", "regions", "is_active"]
        return [*fields, "add_member"] if self.has_change_permission(request, obj) else fields

    def get_readonly_fields(self, request, obj=None):
        # convened_for is set only by the convening service (which also hands the incident over)
        return ["name", "kind", "convened_for", "regions", "is_active"] if obj else []

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

    def service_update(self, request, obj, form):
        department = form.cleaned_data.get("add_member")
        if department is not None:
            try:
                services.leading_group_seat_add(actor=request.user, group=obj, department=department)
            except ServiceError as refusal:
                refusal.field = refusal.field or "add_member"  # shown next to the choice
                raise
        return obj

    def save_related(self, request, form, formsets, change):
        """The seats ticked "Delete": one `leading_group_seat_remove` each (a refusal rolls the whole
        save back and is shown on the form). Nothing else in the formsets is written."""
        for formset in formsets:
            # what Django's change message reads from a saved formset
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            if formset.model is not LeadingGroupSeat:
                continue
            for seat_form in formset.deleted_forms:
                services.leading_group_seat_remove(actor=request.user, seat=seat_form.instance)
                formset.deleted_objects.append(seat_form.instance)


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
