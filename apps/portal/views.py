"""Portal pages: parse, call one selector or service, render."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from apps.core.exceptions import ServiceError
from apps.core.views import ScopedDetailView, ScopedListView
from apps.ledger.filters import AuditEventFilter
from apps.ledger.selectors import audit_event_list
from apps.organizations import selectors, services
from apps.organizations.filters import AgreementFilter, DepartmentFilter, LeadingGroupFilter, RegionFilter
from apps.organizations.forms import DepartmentForm

from .selectors import dashboard_for


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | dashboard_for(user=self.request.user)


class RegionListView(ScopedListView):
    list_selector = selectors.region_list
    filterset_class = RegionFilter
    template_name = "portal/region_list.html"


class DepartmentListView(ScopedListView):
    list_selector = selectors.department_list
    filterset_class = DepartmentFilter
    template_name = "portal/department_list.html"


class DepartmentDetailView(ScopedDetailView):
    list_selector = selectors.department_list
    template_name = "portal/department_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["members"] = selectors.membership_list(user=self.request.user).filter(department=self.object)
        context["form"] = kwargs.get("form") or DepartmentForm(instance=self.object)
        context["can_edit"] = selectors.department_can(user=self.request.user, department=self.object, action="change")
        return context

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = DepartmentForm(request.POST, instance=self.object)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        try:
            services.department_update(actor=request.user, department=self.object, data=form.cleaned_data)
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.render_to_response(self.get_context_data(form=form))
        messages.success(request, _("Department saved."))
        return redirect("portal:department-detail", pk=self.object.pk)


class AgreementListView(ScopedListView):
    list_selector = selectors.agreement_list
    filterset_class = AgreementFilter
    template_name = "portal/agreement_list.html"


class LeadingGroupListView(ScopedListView):
    list_selector = selectors.leading_group_list
    filterset_class = LeadingGroupFilter
    template_name = "portal/leading_group_list.html"


class LedgerListView(ScopedListView):
    list_selector = audit_event_list
    filterset_class = AuditEventFilter
    template_name = "portal/ledger_list.html"
