"""World objects for the early-warning routes, shared by the API and portal matrix modules.

`monitoring_dataset` (river levels, the demo's `river-level` standard) belongs to the target
department (city A1) and holds MONITORING_ROWS readings in city A1, all above the threshold.
`monitoring_rule` is the target department's threshold rule on it (by `monitoring_steward`, not a
state's seat) and alerts the neighbouring department (SAME_REGION_OTHER_DEPT) too;
`monitoring_inactive_rule` is the same kind of rule, switched off. `monitoring_evaluation` is one
run of `monitoring_rule` (through the service), which raised `monitoring_alert`: a rule is seen
by its department only, its alert by its department and the department it alerts.

The guardian states hold the default department grant on the target department: it opens the
department (its directory entry) and nothing of its rules or alerts.

Every builder acts through the services. Keep these names stable: the API and the portal
matrices both use them.
"""

from __future__ import annotations

from apps.core.permissions import Role
from apps.datapool import services as pool_services
from apps.datapool.demo import standards_ensure
from apps.monitoring import services
from apps.monitoring.choices import Aggregate, Comparator, RuleKind, Window
from apps.monitoring.models import Alert, MonitoringRule
from tests import factories as f
from tests.matrix.harness import world_object

MONITORING_DATASET_TITLE = "Monitoring-Target-Dataset"
MONITORING_RULE_NAME = "Monitoring-Target-Rule"
MONITORING_ROWS = 3
RIVER_HEADER = "测站,行政区划代码,水位(米),警戒水位(米),观测时间\n"


def river_csv(code: str, levels, day: str = "2026-07-01") -> bytes:
    """River readings at division `code`, one an hour from 00:00 of `day`."""
    return river_rows_csv([(code, level, f"{day} {i % 24:02d}:00") for i, level in enumerate(levels)])


def river_rows_csv(rows) -> bytes:
    """River readings, one per (division code, level, observed at) row."""
    body = "".join(f"S{i},{code},{level},8.0,{at}\n" for i, (code, level, at) in enumerate(rows))
    return (RIVER_HEADER + body).encode("utf-8")


@world_object("monitoring_steward")
def _monitoring_steward(w):
    """A steward of the target department who builds the targets (not a state's seat)."""
    return f.member(w.department, Role.STEWARD, display_name="Monitoring-Steward")


@world_object("monitoring_standard")
def _monitoring_standard(w):
    return standards_ensure()["river-level"]


@world_object("monitoring_dataset")
def _monitoring_dataset(w):
    from tests.matrix.datapool_world import load

    dataset = pool_services.dataset_create(
        actor=w.monitoring_steward, owner=w.department, standard=w.monitoring_standard, title=MONITORING_DATASET_TITLE
    )
    job = load(w.monitoring_steward, dataset, river_csv(w.region.code, [8.5] * MONITORING_ROWS), name="river.csv")
    assert job.rows_accepted == MONITORING_ROWS, job.error_message()
    return dataset


def rule_for(w, *, actor=None, department=None, **kwargs) -> MonitoringRule:
    """A threshold rule of the target department on `monitoring_dataset` (max level ≥ 8 a day)."""
    values = {
        "actor": actor or w.monitoring_steward,
        "department": department or w.department,
        "dataset": w.monitoring_dataset,
        "name": MONITORING_RULE_NAME,
        "kind": RuleKind.THRESHOLD,
        "field": "level_m",
        "aggregate": Aggregate.MAX,
        "comparator": Comparator.GE,
        "threshold": 8.0,
        "window": Window.DAY,
        "level": "orange",
        "notify_departments": [w.neighbour],
    }
    return services.rule_create(**(values | kwargs))


@world_object("monitoring_rule")
def _monitoring_rule(w):
    return rule_for(w)


@world_object("monitoring_inactive_rule")
def _monitoring_inactive_rule(w):
    rule = rule_for(w, name="Monitoring-Inactive-Rule")
    return services.rule_set_active(actor=w.monitoring_steward, rule=rule, active=False)


@world_object("monitoring_evaluation")
def _monitoring_evaluation(w):
    evaluation = services.rule_evaluate(rule_id=w.monitoring_rule.pk)
    assert evaluation is not None and evaluation.alerts == 1, evaluation
    return evaluation


@world_object("monitoring_alert")
def _monitoring_alert(w):
    assert w.monitoring_evaluation
    return Alert.objects.get(rule=w.monitoring_rule)


# --- probes shared by the monitoring API and portal matrices (state a refused write must not change) ---


def rules_of_department(w):
    return MonitoringRule.objects.filter(department=w.department).count()


def rule_active(attr: str):
    def probe(w):
        return MonitoringRule.objects.values_list("is_active", flat=True).get(pk=getattr(w, attr).pk)

    return probe


def alert_state(w):
    return Alert.objects.values_list("status", "note").get(pk=w.monitoring_alert.pk)


__all__ = [
    "MONITORING_DATASET_TITLE",
    "MONITORING_ROWS",
    "MONITORING_RULE_NAME",
    "alert_state",
    "river_csv",
    "river_rows_csv",
    "rule_active",
    "rule_for",
    "rules_of_department",
]
