"""Portal pages: parse, call one selector or service, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from apps.core.exceptions import ServiceError
from apps.core.views import ScopedDetailView, ScopedListView
from apps.ledger.filters import AuditEventFilter
from apps.ledger.selectors import audit_event_list
from apps.organizations import selectors, services
from apps.organizations.filters import AgreementFilter, DepartmentFilter, LeadingGroupFilter, RegionFilter
from apps.organizations.forms import DepartmentForm

from .selectors import dashboard_for, dashboard_live_for


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def dashboard_poll_seconds() -> int:
    """How often the dashboard's live part is refreshed (settings.DASHBOARD_POLL_SECONDS, 30 s)."""
    return max(int(getattr(settings, "DASHBOARD_POLL_SECONDS", 30)), 1)


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs) | dashboard_for(user=self.request.user)
        context["poll_seconds"] = dashboard_poll_seconds()
        return context


class DashboardLiveView(LoginRequiredMixin, TemplateView):
    """The dashboard's live part alone, polled by htmx. Once the session has ended an htmx poll
    gets HX-Redirect to the login page (a plain 302 would be followed and swapped into the page)."""

    template_name = "portal/_dashboard_live.html"

    def handle_no_permission(self):
        if self.request.headers.get("HX-Request") == "true" and not self.request.user.is_authenticated:
            login = redirect_to_login(
                resolve_url("portal:dashboard"), self.get_login_url(), self.get_redirect_field_name()
            )
            return HttpResponse(status=204, headers={"HX-Redirect": login["Location"]})
        return super().handle_no_permission()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs) | dashboard_live_for(user=self.request.user)
        context["poll_seconds"] = dashboard_poll_seconds()
        return context

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        response["Cache-Control"] = "no-store"
        return response


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
