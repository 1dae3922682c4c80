"""Query budgets of the reporting lists (API and portal): the same number of queries for 3 rows as
for 30, within the shared bound. The helpers come from tests/matrix/test_query_counts.py; the world
objects from tests/matrix/reporting_world.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.incidents import services as incident_services
from apps.incidents.choices import IncidentStatus
from apps.reporting import services
from tests.matrix import reporting_world  # noqa: F401  (registers the reporting_* world objects)
from tests.matrix.harness import State, World
from tests.matrix.reporting_world import _report_incident, reporting_commander
from tests.matrix.test_query_counts import LARGE, MAX_QUERIES, SMALL, _growth, api_count, page_count

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)


def grow_reports(w: World, n: int) -> None:
    """`n` more reports (queued) on `reporting_incident`, by its commander."""
    for _ in range(n):
        services.report_request(actor=reporting_commander(w), incident=w.reporting_incident)


def grow_archives(w: World, n: int) -> None:
    """`n` more closed incidents of the target department, each with its archive (queued)."""
    for _ in range(n):
        incident = _report_incident(w, f"Budget incident {next(_seq)}")
        incident_services.incident_set_status(
            actor=reporting_commander(w), incident=incident, status=IncidentStatus.CLOSED
        )


@dataclass(frozen=True)
class ReportingBudget:
    name: str
    grow: Callable[[World, int], None]
    role: str

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")


REPORTING_BUDGETS = [
    ReportingBudget("api:report-list", grow_reports, Role.HEAD),
    ReportingBudget("portal:report-list", grow_reports, Role.HEAD),
    ReportingBudget("api:archive-list", grow_archives, Role.STAFF),
    ReportingBudget("portal:archive-list", grow_archives, Role.STAFF),
]


@pytest.mark.parametrize("budget", REPORTING_BUDGETS, ids=lambda b: b.name)
def test_reporting_list_query_count_does_not_grow_with_the_rows(budget, world):
    client = APIClient() if budget.is_api else Client()
    client.force_login(world.user(State.IN_SCOPE, budget.role))
    url = reverse(budget.name)
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


def test_the_incident_page_with_its_reports_card_stays_within_its_budget(world):
    """The card (the incident's latest reports, its archive, the request buttons and schedule)
    costs a fixed number of queries, whatever the number of reports."""
    from tests.matrix.test_query_counts import INCIDENT_DETAIL_MAX_QUERIES

    client = Client()
    client.force_login(world.user(State.IN_SCOPE, Role.HEAD))  # a commander: buttons and schedule show
    url = reverse("portal:incident-detail", args=[world.reporting_incident.pk])

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return response, queries

    measure()
    grow_reports(world, SMALL)
    small_page, small = measure()
    grow_reports(world, LARGE - SMALL)
    large_page, large = measure()
    assert reverse("portal:report-request", args=[world.reporting_incident.pk]) in large_page.content.decode()
    assert len(large) == len(small), f"repeated per row:\n{_growth(small, large)}"
    assert len(large) <= INCIDENT_DETAIL_MAX_QUERIES, f"portal:incident-detail: {len(large)} queries"
