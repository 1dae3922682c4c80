"""Query budgets of the early-warning lists (API and portal): the same number of queries for 3
rows as for 30, within the shared bound. The helpers come from tests/matrix/test_query_counts.py;
the world objects from tests/matrix/monitoring_world.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.monitoring import services
from tests.matrix import monitoring_world  # noqa: F401  (registers the monitoring_* world objects)
from tests.matrix.datapool_world import load
from tests.matrix.harness import State, World
from tests.matrix.monitoring_world import river_rows_csv, rule_for
from tests.matrix.test_query_counts import LARGE, MAX_QUERIES, SMALL, _growth, api_count, page_count

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)
FIRST_DAY = date(2025, 1, 1)


def grow_rules(w: World, n: int) -> None:
    """`n` more rules of the target department, each alerting the neighbour."""
    for _ in range(n):
        rule_for(w, name=f"Budget rule {next(_seq)}")


def grow_evaluations(w: World, n: int) -> None:
    """`n` more runs of `monitoring_rule` (nothing new to read: each still records its run)."""
    for _ in range(n):
        assert services.rule_evaluate(rule_id=w.monitoring_rule.pk) is not None


def grow_alerts(w: World, n: int) -> None:
    """`n` more alerts of `monitoring_rule`: a reading above the threshold on `n` new days, then
    one evaluation (one alert per day window)."""
    days = [(FIRST_DAY + timedelta(days=next(_seq))).isoformat() for _ in range(n)]
    data = river_rows_csv([(w.region.code, 9.0, f"{day} 08:00") for day in days])
    job = load(w.monitoring_steward, w.monitoring_dataset, data, name=f"budget-{next(_seq)}.csv")
    assert job.rows_accepted == n, job.error_message()
    evaluation = services.rule_evaluate(rule_id=w.monitoring_rule.pk)
    assert evaluation.alerts == n, evaluation


def rule_department_head(w: World):
    assert w.monitoring_alert  # the rule has read the world's readings: growth adds exactly n
    return w.user(State.IN_SCOPE, Role.HEAD)


def alerted_department_head(w: World):
    """A head of the neighbour: it sees the alerts only because the rule alerts it."""
    assert w.monitoring_alert  # the rule has read the world's readings: growth adds exactly n
    return w.user(State.SAME_REGION_OTHER_DEPT, Role.HEAD)


@dataclass(frozen=True)
class MonitoringBudget:
    name: str
    grow: Callable[[World, int], None]
    user: Callable[[World], object]
    kwargs: Callable[[World], dict] | None = None

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")


def on_rule(w: World) -> dict:
    return {"pk": w.monitoring_rule.pk}


MONITORING_BUDGETS = [
    MonitoringBudget("api:monitoring-rule-list", grow_rules, rule_department_head),
    MonitoringBudget("api:monitoring-rule-evaluations", grow_evaluations, rule_department_head, kwargs=on_rule),
    MonitoringBudget("api:alert-list", grow_alerts, rule_department_head),
    MonitoringBudget("api:alert-list", grow_alerts, alerted_department_head),
    MonitoringBudget("portal:monitoring-rule-list", grow_rules, rule_department_head),
    MonitoringBudget("portal:alert-list", grow_alerts, rule_department_head),
    MonitoringBudget("portal:alert-list", grow_alerts, alerted_department_head),
]


@pytest.mark.parametrize("budget", MONITORING_BUDGETS, ids=lambda b: f"{b.name}-{b.user.__name__}")
def test_monitoring_list_query_count_does_not_grow_with_the_rows(budget, world):
    client = APIClient() if budget.is_api else Client()
    client.force_login(budget.user(world))
    url = reverse(budget.name, kwargs=budget.kwargs(world) if budget.kwargs else None)
    size = api_count if budget.is_api else page_count

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return size(response), queries

    measure()  # warm caches (content types, permissions) outside the measurement
    budget.grow(world, SMALL)
    small_size, small = measure()
    budget.grow(world, LARGE - SMALL)
    large_size, large = measure()

    assert large_size - small_size == LARGE - SMALL, "the grown rows are not on the page: the budget proves nothing"
    assert len(large) == len(small), (
        f"{budget.name}: {len(small)} queries for {small_size} rows but {len(large)} for {large_size}; "
        f"repeated per row:\n{_growth(small, large)}"
    )
    assert len(large) <= MAX_QUERIES, f"{budget.name}: {len(large)} queries"
