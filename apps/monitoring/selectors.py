"""Reads of early warning, all through the permission path."""

from django.db.models import Q, QuerySet

from apps.access.selectors import active_grants
from apps.core.scoping import authorize
from apps.datapool.selectors import dataset_catalog

from .models import Alert, MonitoringRule, RuleEvaluation
from .services import open_alerts_q


def rule_list(*, user) -> QuerySet[MonitoringRule]:
    return MonitoringRule.objects.restrict(user, "view").select_related("department", "dataset")


def rule_evaluations(*, user, rule: MonitoringRule) -> QuerySet[RuleEvaluation]:
    authorize(user, "view", rule)
    return RuleEvaluation.objects.filter(rule=rule)


def alert_list(*, user) -> QuerySet[Alert]:
    return Alert.objects.restrict(user, "view").select_related("rule__department", "rule__dataset", "region")


def open_alerts(*, user) -> QuerySet[Alert]:
    return alert_list(user=user).filter(open_alerts_q())


def rule_can(*, user, rule: MonitoringRule, action: str) -> bool:
    return MonitoringRule.objects.restrict(user, action).filter(pk=rule.pk).exists()


def alert_can(*, user, alert: Alert, action: str) -> bool:
    return Alert.objects.restrict(user, action).filter(pk=alert.pk).exists()


def watchable_datasets(user, departments):
    """Datasets those departments may read: their own, or one they hold a valid grant on. The
    service checks again for the department chosen (and the field, which a grant may mask)."""
    ids = list(departments.values_list("pk", flat=True))
    granted = active_grants(set(ids)).values("dataset_id")
    return (
        dataset_catalog(user=user)
        .prefetch_related(None)
        .filter(Q(owner_id__in=ids) | Q(pk__in=granted))
        .order_by("title", "id")
    )
