"""Early warning in the demo scenario: the Nanjing health commission watches its fever-clinic
visits (a count per county and day) and alerts the city's emergency management bureau; the
rule is evaluated once so the dashboards show the alert it raises."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from apps.datapool.models import Dataset
from apps.organizations.models import Department

from . import services
from .choices import Aggregate, Comparator, RuleKind, Window
from .models import MonitoringRule

FEVER = "南京市发热门诊就诊记录"


def demo_load_monitoring() -> int:
    steward = get_user_model().objects.filter(username="nj_weijian_steward").first()
    fever = Dataset.objects.filter(title=FEVER).select_related("owner", "standard").first()
    emergency = Department.objects.filter(name="南京市应急管理局").first()
    if steward is None or fever is None or MonitoringRule.objects.filter(dataset=fever).exists():
        return 0
    rule = services.rule_create(
        actor=steward,
        department=fever.owner,
        dataset=fever,
        name="发热门诊就诊量异常（区县日计）",
        kind=RuleKind.COUNT,
        aggregate=Aggregate.COUNT,
        comparator=Comparator.GE,
        threshold=20,
        window=Window.DAY,
        level="yellow",
        notify_departments=[emergency] if emergency else [],
    )
    services.rule_create(
        actor=steward,
        department=fever.owner,
        dataset=fever,
        name="发热门诊就诊量日环比上升50%",
        kind=RuleKind.RATE,
        aggregate=Aggregate.COUNT,
        comparator=Comparator.GE,
        threshold=50,
        min_baseline=5,
        window=Window.DAY,
        level="orange",
        notify_departments=[emergency] if emergency else [],
    )
    services.rule_evaluate(rule_id=rule.pk)
    return 2
