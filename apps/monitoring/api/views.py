"""Early-warning API (预警监测): monitoring rules (create, switch on and off, their evaluations)
and the alerts they raise (acknowledge, close).

Reads come from the monitoring selectors (built on `restrict`): a rule is seen by its
department, an alert by the rule's department and the departments it alerts; anything else is a
404. Each write parses its payload, resolves the objects it names, calls one service and renders.
Objects named in a payload:
- the acting `department` is the caller's own: one the caller cannot see is a 404 (the probe is
  recorded), one they see but may not monitor for is a 403, both before anything else in the
  payload is looked at (as on the portal's form);
- other references (`dataset`, `notify_departments`) are input fields: one the caller cannot see
  is a 400 on that field, worded like a nonexistent one.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.access.api.views import NO_PAGE_FILTERS, _acting_department, _payload, _unknown
from apps.core.api.views import ScopedViewSet
from apps.datapool.models import Dataset
from apps.datapool.selectors import dataset_catalog
from apps.monitoring import selectors, services
from apps.monitoring.choices import AlertStatus
from apps.monitoring.filters import AlertFilter, MonitoringRuleFilter
from apps.monitoring.models import MonitoringRule
from apps.organizations.models import Department
from apps.organizations.selectors import department_list

from .serializers import (
    AlertHandleSerializer,
    AlertSerializer,
    MonitoringRuleCreateSerializer,
    MonitoringRuleSerializer,
    RuleEvaluationSerializer,
)


def _dataset(request, pk: int) -> Dataset:
    dataset = dataset_catalog(user=request.user).prefetch_related(None).filter(pk=pk).first()
    if dataset is None:
        raise _unknown(request, Dataset, pk, "dataset", _("Unknown dataset."))
    return dataset


def _departments(request, ids: list[int]) -> list[Department]:
    ids = list(dict.fromkeys(ids))
    found = {d.pk: d for d in department_list(user=request.user).filter(pk__in=ids)}
    for pk in ids:
        if pk not in found:
            raise _unknown(request, Department, pk, "notify_departments", _("Unknown department: %(id)d") % {"id": pk})
    return [found[pk] for pk in ids]


# --- rules ------------------------------------------------------------------------------------


class MonitoringRuleViewSet(ScopedViewSet):
    """Rules of my departments: what they watch, how far each has read, when it last ran."""

    list_selector = selectors.rule_list
    serializer_class = MonitoringRuleSerializer
    filterset_class = MonitoringRuleFilter
    lookup_value_regex = "[0-9]+"

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset.select_related("created_by").prefetch_related("notify_departments")

    def _detail(self, rule: MonitoringRule, code: int = status.HTTP_200_OK) -> Response:
        rule = self.filter_queryset(selectors.rule_list(user=self.request.user)).get(pk=rule.pk)  # fresh, in scope
        return Response(MonitoringRuleSerializer(rule).data, status=code)

    @extend_schema(request=MonitoringRuleCreateSerializer, responses={201: MonitoringRuleSerializer}, filters=False)
    def create(self, request):
        """Watch a dataset your department may read: its own, or another's through a valid grant
        (the rule then reads exactly the rows and fields the grant opens, and stops reading when it
        ends). Heads and data stewards of the department."""
        data = _payload(request, MonitoringRuleCreateSerializer)
        department = _acting_department(request, data["department"], "monitor")
        dataset = _dataset(request, data["dataset"])
        notify = _departments(request, data["notify_departments"])
        rule = services.rule_create(
            actor=request.user,
            department=department,
            dataset=dataset,
            name=data["name"],
            kind=data["kind"],
            field=data["field"],
            aggregate=data["aggregate"],
            comparator=data["comparator"],
            threshold=data["threshold"],
            window=data["window"],
            min_baseline=data["min_baseline"],
            level=data["level"],
            notify_departments=notify,
            draft_action=data["draft_action"],
            incident_subtype=data["incident_subtype"],
        )
        return self._detail(rule, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=MonitoringRuleSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def activate(self, request, pk=None):
        """Switch the rule on: the next evaluation reads what was loaded since its cursor."""
        rule = services.rule_set_active(actor=request.user, rule=self.get_object(), active=True)
        return self._detail(rule)

    @extend_schema(request=None, responses=MonitoringRuleSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def deactivate(self, request, pk=None):
        """Switch the rule off (switching it off twice is harmless)."""
        rule = services.rule_set_active(actor=request.user, rule=self.get_object(), active=False)
        return self._detail(rule)

    @extend_schema(responses=RuleEvaluationSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def evaluations(self, request, pk=None):
        """The rule's evaluations, newest first: the records each read, what it found."""
        evaluations = selectors.rule_evaluations(user=request.user, rule=self.get_object())
        page = self.paginate_queryset(evaluations)
        return self.get_paginated_response(RuleEvaluationSerializer(page, many=True).data)


# --- alerts -----------------------------------------------------------------------------------


class AlertViewSet(ScopedViewSet):
    """Alerts raised by my departments' rules, and those raised to my departments."""

    list_selector = selectors.alert_list
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    lookup_value_regex = "[0-9]+"

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).select_related("handled_by")

    def _handle(self, request, status_: str) -> Response:
        alert = self.get_object()
        data = _payload(request, AlertHandleSerializer)
        alert = services.alert_handle(actor=request.user, alert=alert, status=status_, note=data["note"])
        alert = self.filter_queryset(selectors.alert_list(user=request.user)).get(pk=alert.pk)
        return Response(AlertSerializer(alert).data)

    @extend_schema(
        request=AlertHandleSerializer,
        responses={200: AlertSerializer, 400: OpenApiResponse(description="The alert is already closed.")},
    )
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def acknowledge(self, request, pk=None):
        """Say the alert is being looked into (heads and staff of a department that sees it);
        acknowledging twice is harmless."""
        return self._handle(request, AlertStatus.ACKNOWLEDGED)

    @extend_schema(request=AlertHandleSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"], **NO_PAGE_FILTERS)
    def close(self, request, pk=None):
        """Close the alert (final; closing twice is harmless)."""
        return self._handle(request, AlertStatus.CLOSED)
