"""Permission matrix for the early-warning API (/api/v1/monitoring-rules/, /api/v1/alerts/).

The targets come from tests/matrix/monitoring_world.py (shared with the portal matrix). The
guardian states hold the default department grant on the target department: it shows them the
department, never its rules or alerts.

Who sees what (the same rules as the portal's pages):
- a rule (`monitoring_rule`) and its evaluations: the target department, any role; its heads and
  data stewards switch it on and off (staff: 403). Everyone else: 404.
- creating a rule names the department it is for: unseen 404, seen but not one where the caller
  is head or data steward 403 (staff of it, the neighbouring department, the guardian states).
- an alert (`monitoring_alert`): the rule's department and the department it alerts (the
  neighbour), any role; heads and staff of either handle it (data stewards: 403).
"""

import pytest

from apps.core.permissions import Role
from tests.matrix import monitoring_world  # noqa: F401  (registers the monitoring_* world objects)
from tests.matrix.harness import HIDDEN, State, action, cases, check, detail, listing, states_for
from tests.matrix.monitoring_world import alert_state, rule_active, rules_of_department
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

RULE_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE}  # the rule's department, any role
ALERT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}  # and the department alerted
# The target department is seen by its own city and, through the department grant, the guardian.
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}


def rule_body(w):
    return {
        "department": w.department.pk,
        "dataset": w.monitoring_dataset.pk,
        "name": "Monitoring-Api-Rule",
        "kind": "threshold",
        "field": "level_m",
        "aggregate": "max",
        "comparator": "ge",
        "threshold": 9.5,
        "level": "yellow",
        "notify_departments": [w.neighbour.pk],
    }


ROUTES = register(
    "monitoring-api",
    [
        # --- rules
        listing("api:monitoring-rule-list", role=Role.STEWARD, target="monitoring_rule", visible_to=RULE_VIEWERS),
        action(
            "api:monitoring-rule-list",
            "post",
            role=Role.STEWARD,
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=201,
            data=rule_body,
            probe=rules_of_department,
            denial_target=lambda w: w.department,
            note="the department is checked before the rest: unseen 404, seen but not a head or steward of it 403",
        ),
        detail("api:monitoring-rule-detail", role=Role.STEWARD, target="monitoring_rule", visible_to=RULE_VIEWERS),
        action(
            "api:monitoring-rule-deactivate",
            "post",
            role=Role.STEWARD,
            target="monitoring_rule",
            visible_to=RULE_VIEWERS,
            probe=rule_active("monitoring_rule"),
        ),
        action(
            "api:monitoring-rule-activate",
            "post",
            role=Role.STEWARD,
            target="monitoring_inactive_rule",
            visible_to=RULE_VIEWERS,
            probe=rule_active("monitoring_inactive_rule"),
        ),
        listing(
            # a paginated list under one rule: addressed through kwargs, its refusals listed here
            "api:monitoring-rule-evaluations",
            role=Role.STEWARD,
            target="monitoring_evaluation",
            visible_to=RULE_VIEWERS,
            kwargs=lambda w: {"pk": w.monitoring_rule.pk},
            overrides={s: HIDDEN for s in states_for(Role.STEWARD) if s not in RULE_VIEWERS | {S.ANONYMOUS}},
            denial_target=lambda w: w.monitoring_rule,
            note="the evaluations of a rule one cannot see are 404, like the rule",
        ),
        # --- alerts
        listing("api:alert-list", role=Role.HEAD, target="monitoring_alert", visible_to=ALERT_VIEWERS),
        detail("api:alert-detail", role=Role.HEAD, target="monitoring_alert", visible_to=ALERT_VIEWERS),
        action(
            "api:alert-acknowledge",
            "post",
            role=Role.HEAD,
            target="monitoring_alert",
            visible_to=ALERT_VIEWERS,
            allowed_to=ALERT_VIEWERS,
            data=lambda w: {"note": "Monitoring-Api-Ack"},
            probe=alert_state,
            note="heads and staff of the rule's department and of the department alerted",
        ),
        action(
            "api:alert-close",
            "post",
            role=Role.STEWARD,
            target="monitoring_alert",
            visible_to=ALERT_VIEWERS,
            allowed_to={S.LOWER_ROLE},
            data=lambda w: {"note": "Monitoring-Api-Close"},
            probe=alert_state,
            note="data stewards see alerts but do not handle them (403); the staff below them do",
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
