"""Portal pages for notifications: the inbox, preferences, and the department's webhooks.

Parse, call one selector or service, render. Writes are POSTs that find their object through the
list selector (out of scope: 404) and redirect (post/redirect/get).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from apps.core.exceptions import ServiceError
from apps.core.scoping import authorize
from apps.core.views import ScopedDetailView, ScopedListView, ScopedViewMixin, hidden_lookup
from apps.organizations.models import Department
from apps.organizations.selectors import department_get

from . import selectors, services
from .filters import NotificationFilter, WebhookEndpointFilter
from .forms import PreferenceFormSet, WebhookEndpointForm

POST_ONLY = ["post", "options"]
INVALID = 400  # a form rendered again with its errors


class NotificationListView(ScopedListView):
    """The inbox: the caller's departments' notifications, unread first."""

    list_selector = selectors.notification_inbox
    filterset_class = NotificationFilter
    template_name = "notifications/notification_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["unread_count"] = selectors.notification_unread_count(user=self.request.user)
        return context


class NotificationReadView(ScopedDetailView):
    """Mark one notification read (for its department) and go back to the inbox or `next`."""

    http_method_names = POST_ONLY
    list_selector = selectors.notification_list

    def post(self, request, *args, **kwargs):
        services.notification_mark_read(actor=request.user, notification=self.get_object())
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            return redirect(target)
        return redirect("portal:notification-list")


class NotificationPreferencesView(ScopedViewMixin, TemplateView):
    """One row for every kind together and one per kind the caller has received; a kind that
    says the same as "every kind" follows it."""

    list_selector = selectors.preference_list
    template_name = "notifications/preferences.html"

    def initial(self) -> list[dict]:
        saved = {p.kind: p for p in self.get_queryset()}
        default = saved.get("")
        rows = []
        for kind in ["", *selectors.notification_kinds(user=self.request.user)]:
            row = saved.get(kind) or default
            rows.append(
                {
                    "kind": kind,
                    "in_app": row.in_app if row else True,
                    "email": row.email if row else True,
                    "daily_digest": row.daily_digest if row else False,
                }
            )
        return rows

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(formset=PreferenceFormSet(initial=self.initial())))

    def post(self, request, *args, **kwargs):
        formset = PreferenceFormSet(request.POST)
        if formset.is_valid():
            try:
                services.notification_preferences_set(
                    actor=request.user,
                    preferences=[services.PreferenceInput(**form.cleaned_data) for form in formset],
                    replace=True,
                )
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Preferences saved."))
                return redirect("portal:notification-preferences")
        return self.render_to_response(self.get_context_data(formset=formset), status=INVALID)


# --- webhook endpoints (department heads) -----------------------------------------------------------


class WebhookEndpointListView(ScopedListView):
    list_selector = selectors.webhook_endpoint_list
    filterset_class = WebhookEndpointFilter
    template_name = "notifications/webhook_list.html"


class WebhookEndpointCreateView(ScopedViewMixin, TemplateView):
    """Register an endpoint for a department the caller heads. The department a POST names is
    looked up among those the caller sees (unseen: 404) and authorized before the form is read."""

    list_selector = selectors.webhook_departments
    template_name = "notifications/webhook_form.html"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=WebhookEndpointForm(user=request.user)))

    def check_department(self) -> None:
        raw = self.request.POST.get("department", "").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            return  # missing or malformed: the form says so
        try:
            department = department_get(user=self.request.user, pk=int(raw))
        except Department.DoesNotExist:
            hidden_lookup(self.request, Department, "pk", int(raw))
            raise Http404 from None
        authorize(self.request.user, "change", department)

    def post(self, request, *args, **kwargs):
        self.check_department()
        form = WebhookEndpointForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                endpoint = services.webhook_endpoint_create(
                    actor=request.user,
                    department=data["department"],
                    name=data["name"],
                    url=data["url"],
                    kinds=data["kinds"],
                )
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                return self.render_to_response(self.get_context_data(form=form), status=exc.status)
            messages.success(request, _("Endpoint registered. Give its signing secret to the receiving system."))
            return redirect("portal:notification-webhook-detail", pk=endpoint.pk)
        return self.render_to_response(self.get_context_data(form=form), status=INVALID)


class WebhookEndpointDetailView(ScopedDetailView):
    """The endpoint, its signing secret (heads of the department only), and its latest attempts."""

    list_selector = selectors.webhook_endpoint_list
    template_name = "notifications/webhook_detail.html"
    context_object_name = "endpoint"
    attempts_shown = 100

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        deliveries = selectors.webhook_delivery_list(user=self.request.user).filter(endpoint=self.object)
        context["deliveries"] = list(deliveries[: self.attempts_shown])
        return context


class WebhookEndpointDeactivateView(WebhookEndpointDetailView):
    http_method_names = POST_ONLY

    def post(self, request, *args, **kwargs):
        endpoint = self.get_object()
        try:
            services.webhook_endpoint_deactivate(actor=request.user, endpoint=endpoint)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Endpoint deactivated; nothing more is sent to it."))
        return redirect("portal:notification-webhook-detail", pk=endpoint.pk)
