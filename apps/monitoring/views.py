"""Portal pages of early warning (预警监测): alerts raised to my departments and how they were
handled, the rules my departments keep (create, switch on and off, their evaluations).

The same shape as the data-access pages: every page reads through a selector built on
`restrict` (out of scope: 404, recorded when the object exists); every write is a POST that finds
its object the same way, refuses a caller who may not act before it reads the form (403), calls
one service and redirects with a message (post/redirect/get). A form with errors is rendered
again with the messages on their fields, answering 400. The create form names the department it
acts for; it is looked up among what the caller sees (unseen: 404) and checked with the service's
own permission before the rest of the form is read (seen but not theirs: 403).
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from apps.access.views import looked_up_department
from apps.core.exceptions import ServiceError
from apps.core.scoping import authorize
from apps.core.views import INVALID, ObjectActionMixin, ScopedDetailView, ScopedListView, ScopedViewMixin, attach_error
from apps.datapool.forms import field_label
from apps.incidents.selectors import incident_list, warning_list

from . import selectors, services
from .choices import AlertStatus, RuleKind
from .filters import AlertFilter, MonitoringRuleFilter
from .forms import AlertHandleForm, MonitoringRuleForm, monitoring_departments

LIST_PAGE = 50
ON_RULE_PAGE = 20  # latest evaluations and alerts shown on a rule's page


class MonitoringPageMixin:
    """What the early-warning sub-navigation needs on every page."""

    here = ""

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"here": self.here}


# --- alerts --------------------------------------------------------------------------------------


class AlertListView(MonitoringPageMixin, ScopedListView):
    """Alerts raised by my departments' rules and those raised to my departments, newest first;
    by status and level (and by rule, from a rule's page)."""

    list_selector = selectors.alert_list
    filterset_class = AlertFilter
    template_name = "monitoring/alert_list.html"
    paginate_by = LIST_PAGE
    here = "alerts"


class AlertDetailView(MonitoringPageMixin, ScopedDetailView):
    """An alert: the value found, the previous window, region and window, the rule, what was
    drafted (or why not), and the form to acknowledge or close it."""

    list_selector = selectors.alert_list
    template_name = "monitoring/alert_detail.html"
    context_object_name = "alert"
    here = "alerts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, alert = self.request.user, self.object
        may_handle = alert.status != AlertStatus.CLOSED and selectors.alert_can(user=user, alert=alert, action="handle")
        form = kwargs.get("form")
        context |= {
            "may_handle": may_handle or form is not None,
            "form": form or AlertHandleForm(),
            "change": (alert.value - alert.baseline) / alert.baseline * 100 if alert.baseline else None,
            "rule_seen": selectors.rule_can(user=user, rule=alert.rule, action="view"),
            # the drafts are linked only for those who may open them
            "warning_seen": bool(alert.warning_id) and warning_list(user=user).filter(pk=alert.warning_id).exists(),
            "incident_seen": bool(alert.incident_id) and incident_list(user=user).filter(pk=alert.incident_id).exists(),
        }
        return context


class AlertHandleView(ObjectActionMixin, AlertDetailView):
    """Acknowledge or close (heads and staff of a department that sees the alert). Sending the
    same status again changes nothing."""

    def check(self) -> None:
        authorize(self.request.user, "handle", self.object)

    def make_form(self):
        return AlertHandleForm(self.request.POST)

    def invalid(self, form, status: int):
        return self.render_to_response(self.get_context_data(form=form), status=status)

    def perform(self, form):
        alert = services.alert_handle(
            actor=self.request.user,
            alert=self.object,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
        )
        self.success_message = _("Alert closed.") if alert.status == AlertStatus.CLOSED else _("Alert acknowledged.")

    def detail_url(self):
        return reverse("portal:alert-detail", kwargs={"pk": self.object.pk})

    def done_url(self):
        return self.detail_url()


# --- rules ---------------------------------------------------------------------------------------


class MonitoringRuleListView(MonitoringPageMixin, ScopedListView):
    """The rules my departments keep, newest first; on or off."""

    list_selector = selectors.rule_list
    filterset_class = MonitoringRuleFilter
    template_name = "monitoring/rule_list.html"
    paginate_by = LIST_PAGE
    here = "rules"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        return context | {"may_create": monitoring_departments(self.request.user).exists()}


def condition_words(rule) -> str:
    """The rule's condition in words, e.g. "Maximum of Level (m) ≥ 8 per Day"."""
    if rule.kind == RuleKind.COUNT or not rule.field:
        measured = rule.get_aggregate_display()
    else:
        spec = rule.dataset.standard.field(rule.field)
        label = field_label(spec) if spec else rule.field
        measured = _("%(aggregate)s of %(field)s") % {"aggregate": rule.get_aggregate_display(), "field": label}
    values = {
        "measured": measured,
        "comparator": rule.get_comparator_display(),
        "threshold": f"{rule.threshold:g}",
        "window": rule.get_window_display(),
    }
    if rule.kind == RuleKind.RATE:
        return (
            _("Change of %(measured)s from the previous window %(comparator)s %(threshold)s%% (window: %(window)s)")
            % values
        )
    return _("%(measured)s %(comparator)s %(threshold)s (window: %(window)s)") % values


class MonitoringRuleDetailView(MonitoringPageMixin, ScopedDetailView):
    """A rule: its definition, how far it has read (cursor) and when, its latest evaluations and
    alerts, and the buttons to switch it on or off for those who manage it."""

    list_selector = selectors.rule_list
    template_name = "monitoring/rule_detail.html"
    context_object_name = "rule"
    here = "rules"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, rule = self.request.user, self.object
        context |= {
            "condition": condition_words(rule),
            "field_label": self.field_label(),
            "notified": list(rule.notify_departments.select_related("region").order_by("name")),
            "evaluations": list(selectors.rule_evaluations(user=user, rule=rule)[:ON_RULE_PAGE]),
            "alerts": list(selectors.alert_list(user=user).filter(rule=rule)[:ON_RULE_PAGE]),
            "may_manage": selectors.rule_can(user=user, rule=rule, action="manage"),
        }
        return context

    def field_label(self) -> str:
        if not self.object.field:
            return ""
        spec = self.object.dataset.standard.field(self.object.field)
        return field_label(spec) if spec else self.object.field


class RuleActiveView(ObjectActionMixin, MonitoringRuleDetailView):
    """Switch a rule on or off (the department's heads and data stewards); twice is harmless."""

    active = True

    def check(self) -> None:
        authorize(self.request.user, "manage", self.object)

    def invalid(self, form, status: int):  # pragma: no cover - a button without fields
        return redirect(self.detail_url())

    def perform(self, form):
        services.rule_set_active(actor=self.request.user, rule=self.object, active=self.active)

    def detail_url(self):
        return reverse("portal:monitoring-rule-detail", kwargs={"pk": self.object.pk})

    def done_url(self):
        return self.detail_url()


class MonitoringRuleActivateView(RuleActiveView):
    active = True
    success_message = gettext_lazy("Rule switched on: it reads what was loaded since it last ran.")


class MonitoringRuleDeactivateView(RuleActiveView):
    active = False
    success_message = gettext_lazy("Rule switched off.")


class MonitoringRuleCreateView(MonitoringPageMixin, ScopedViewMixin, TemplateView):
    """Create a rule for one of my departments (where I am head or data steward) on a dataset it
    may read: its own, or one it holds a valid grant on."""

    list_selector = selectors.rule_list
    template_name = "monitoring/rule_form.html"
    here = "rules"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=MonitoringRuleForm(user=request.user)))

    def post(self, request, *args, **kwargs):
        looked_up_department(request, "monitor")  # first: a refusal names the department
        form = MonitoringRuleForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                rule = services.rule_create(
                    actor=request.user,
                    department=data["department"],
                    dataset=data["dataset"],
                    name=data["name"],
                    kind=data["kind"],
                    field=data["field"],
                    aggregate=data["aggregate"],
                    comparator=data["comparator"],
                    threshold=data["threshold"],
                    window=data["window"],
                    min_baseline=data["min_baseline"],
                    level=data["level"],
                    notify_departments=list(data["notify_departments"]),
                    draft_action=data["draft_action"],
                    incident_subtype=data["incident_subtype"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Rule created: it runs with the next evaluation."))
                return redirect("portal:monitoring-rule-detail", pk=rule.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)
