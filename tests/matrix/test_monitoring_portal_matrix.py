"""Permission matrix for the early-warning portal pages (/monitoring/…).

The targets come from tests/matrix/monitoring_world.py (shared with the API matrix). The guardian
states hold the default department grant on the target department: it shows them the
department, never its rules or alerts.

Who sees what:
- a rule (`monitoring_rule`): the target department, any role; its heads and data stewards switch
  it on and off (staff: 403) and see the buttons. Everyone else: 404.
- the create form offers the target department only to its heads and stewards; a POST naming it
  is 404 for those who cannot see it and 403 for those who see it but may not monitor for it.
- an alert (`monitoring_alert`): the rule's department and the department it alerts (the
  neighbour), any role; heads and staff of either handle it and see the form (stewards: 403).
"""

import pytest
from django.urls import reverse

from apps.core.permissions import Role
from tests.matrix import monitoring_world  # noqa: F401  (registers the monitoring_* world objects)
from tests.matrix.harness import State, action, cases, check, detail, listing
from tests.matrix.monitoring_world import alert_state, rule_active, rules_of_department
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

RULE_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE}
ALERT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}


def url_of(name: str, attr: str):
    def marker(w):
        return f'href="{reverse(name, args=[getattr(w, attr).pk])}"'

    return marker


def department_offered(w, state, user, response):
    """The form's department select (not the list of departments to alert) offers the target
    department to its heads and stewards only; its dataset is offered with it."""
    if response.status_code != 200:
        return
    page = response.content.decode()
    start = page.find('name="department"')
    select = page[start : page.find("</select>", start)] if start >= 0 else ""
    offered = f'value="{w.department.pk}"' in select
    assert offered == (state is S.IN_SCOPE), f"rule form as {state.value}: department offered={offered}"
    if offered:
        assert w.monitoring_dataset.title in page, "the department's own dataset is offered"


def rule_form(w):
    return {
        "department": w.department.pk,
        "dataset": w.monitoring_dataset.pk,
        "name": "Monitoring-Portal-Rule",
        "kind": "threshold",
        "field": "level_m",
        "aggregate": "max",
        "comparator": "ge",
        "threshold": "9.5",
        "window": "day",
        "min_baseline": "1",
        "level": "yellow",
        "notify_departments": [w.neighbour.pk],
        "draft_action": "none",
        "incident_subtype": "",
    }


ROUTES = register(
    "monitoring-portal",
    [
        # --- rules
        listing(
            "portal:monitoring-rule-list",
            role=Role.STEWARD,
            marker=url_of("portal:monitoring-rule-detail", "monitoring_rule"),
            visible_to=RULE_VIEWERS,
        ),
        listing(
            "portal:monitoring-rule-create",
            role=Role.STEWARD,
            target="monitoring_dataset",  # built before the request, so the form can offer it
            check_extra=department_offered,
            note="the department select offers only the departments where the caller is head or steward",
        ),
        action(
            "portal:monitoring-rule-create",
            "post",
            role=Role.STEWARD,
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to={S.IN_SCOPE},
            success=302,
            data=rule_form,
            probe=rules_of_department,
            denial_target=lambda w: w.department,
            note="the department is checked before the form: unseen 404, seen but not a head or steward of it 403",
        ),
        detail(
            "portal:monitoring-rule-detail",
            role=Role.STEWARD,
            target="monitoring_rule",
            visible_to=RULE_VIEWERS,
            marker=lambda w: reverse("portal:monitoring-rule-deactivate", args=[w.monitoring_rule.pk]),
            shows_marker_to={S.IN_SCOPE},
        ),
        action(
            "portal:monitoring-rule-deactivate",
            "post",
            role=Role.STEWARD,
            target="monitoring_rule",
            visible_to=RULE_VIEWERS,
            success=302,
            probe=rule_active("monitoring_rule"),
        ),
        action(
            "portal:monitoring-rule-activate",
            "post",
            role=Role.STEWARD,
            target="monitoring_inactive_rule",
            visible_to=RULE_VIEWERS,
            success=302,
            probe=rule_active("monitoring_inactive_rule"),
        ),
        # --- alerts
        listing(
            "portal:alert-list",
            role=Role.HEAD,
            marker=url_of("portal:alert-detail", "monitoring_alert"),
            visible_to=ALERT_VIEWERS,
        ),
        detail(
            "portal:alert-detail",
            role=Role.STEWARD,
            target="monitoring_alert",
            visible_to=ALERT_VIEWERS,
            marker=lambda w: reverse("portal:alert-handle", args=[w.monitoring_alert.pk]),
            shows_marker_to={S.LOWER_ROLE},
            note="stewards see the alert but not the form; the staff below them handle it",
        ),
        action(
            "portal:alert-handle",
            "post",
            role=Role.STEWARD,
            target="monitoring_alert",
            visible_to=ALERT_VIEWERS,
            allowed_to={S.LOWER_ROLE},
            success=302,
            data=lambda w: {"status": "acknowledged", "note": "Monitoring-Portal-Ack"},
            probe=alert_state,
            note="data stewards see alerts but do not handle them (403); the staff below them do",
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
